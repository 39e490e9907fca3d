"""The `dvt` command line: its words parsed into Options (arguments.py), then a Session
of its own runs the command and a ConsolePrinter prints its events."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from dvt_engine.arguments import ArgumentError, Exit, parse_options
from dvt_engine.errors import DvtError
from dvt_engine.options import Options

__all__ = ["ArgumentError", "main", "parse_options", "run", "run_command"]


def run(options: Options, subscriber: Callable[..., Any] | None = None) -> Any:
    """Run one command in a Session of its own (the CLI's case); a CommandResult."""
    from dvt_engine.commands.dispatch import STANDALONE, error_events, execute_standalone
    from dvt_engine.events import EventBus
    from dvt_engine.results import error_result
    from dvt_engine.session import Session

    def open_session(events: EventBus | None = None) -> Session:
        return Session(options.project_dir, profiles_dir=options.profiles_dir,
                       target=options.target, vars=options.vars, events=events,
                       watch_files=False)

    if options.command in STANDALONE:
        return execute_standalone(options, subscriber, open_session)
    try:
        session = open_session()
    except DvtError as exc:  # no project, bad dbt_project.yml: nothing to subscribe to
        if subscriber is not None:
            for event in error_events(exc, options):
                subscriber(event)
        return error_result(options.command, exc)
    try:
        return session.execute(options, subscriber)
    finally:
        session.close()


def run_command(argv: Sequence[str], subscriber: Callable[..., Any] | None = None) -> Any:
    """Parse argv and run the command in a Session of its own; a CommandResult."""
    return run(parse_options(argv), subscriber)


def main(argv: Sequence[str] | None = None) -> int:
    from dvt_engine.reporting import ConsolePrinter

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-v"]) or argv[:1] == ["version"]:
        print("dvt 0.1.0 (dbt-compatible 1.10)")
        return 0
    debug = "--debug" in argv or "-d" in argv
    fmt = "json" if "json" in _flag_values(argv, "--log-format") else "text"
    printer = ConsolePrinter(fmt=fmt, debug=debug)
    try:
        result = run_command(argv, subscriber=printer)
    except Exit as exc:
        return exc.code
    except DvtError as exc:
        printer(_log(str(exc), "error"))
        if debug:
            import traceback

            traceback.print_exc()
        return 2
    except KeyboardInterrupt:
        printer(_log("ctrl-c: cancelled", "error"))
        return 130
    return int(result.exit_code)


def entry() -> None:
    """The `dvt` console script. After main() the log, the artifacts and the connections
    are closed, so the interpreter's teardown (module cleanup, a last GC: ~15 ms) is
    skipped with os._exit, unless something may still need it: coverage or Spark's
    gateway (atexit work), or threads other than this one."""
    import threading

    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left: nothing more can be said there
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if threading.active_count() > 1 or any(m in sys.modules for m in _NEEDS_TEARDOWN):
        sys.exit(code)
    sys.stderr.flush()
    os._exit(code)


# modules whose atexit handlers must run (DuckDB's own, registered by _duckdb, need not)
_NEEDS_TEARDOWN = ("coverage", "pyspark", "py4j")


def _flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def _log(msg: str, level: str) -> Any:
    from dvt_engine.events import Log

    return Log(msg=msg, level=level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
