"""The `dvt` command line: one argument parser, shared with the notebook magics."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from dvt_engine.errors import DvtError

SELECTION_COMMANDS = ("run", "seed", "test", "build", "snapshot", "compile", "list", "ls",
                      "show", "clone", "docs", "source", "retry")

# command -> module:function in dvt_engine.tasks
TASKS: dict[str, str] = {
    "run": "run:run", "seed": "run:seed", "test": "run:test", "build": "run:build",
    "snapshot": "run:snapshot", "parse": "parse:run", "list": "listing:run",
    "ls": "listing:run", "compile": "compile:run", "show": "show:run",
    "run-operation": "operation:run", "clean": "clean:run", "debug": "debug:run",
    "retry": "retry:run", "init": "init:run", "deps": "deps:run", "docs": "docs:run",
    "clone": "clone:run", "source": "freshness:run", "sync": "sync:run",
}


class ArgumentError(DvtError):
    kind = "Usage error"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so magics can show the error in a cell."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ArgumentError(message, hint=f"`dvt {self.prog.split()[-1]} --help` lists options")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        if message:
            print(message, file=sys.stderr)
        raise _Exit(status)


class _Exit(Exception):  # noqa: N818
    def __init__(self, code: int) -> None:
        self.code = code


def _vars(text: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text) if text else {}
    except yaml.YAMLError as exc:
        raise ArgumentError(f"--vars is not valid YAML: {exc}",
                            hint="e.g. --vars '{key: value}'") from None
    if not isinstance(value, dict):
        raise ArgumentError("--vars must be a YAML mapping", hint="e.g. --vars '{key: value}'")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-dir", help="the folder with dbt_project.yml")
    p.add_argument("--profiles-dir", help="the folder with profiles.yml")
    p.add_argument("--target", "-t", help="the profile output to use as the default target")
    p.add_argument("--vars", type=_vars, default={}, help="YAML mapping of project vars")
    p.add_argument("--threads", type=int, help="number of threads")
    p.add_argument("--debug", "-d", action="store_true", help="debug logs and tracebacks")
    p.add_argument("--log-format", choices=["text", "json", "default", "debug"], default="text")
    p.add_argument("--log-path", help="the folder of dvt.log (default: logs/ in the project)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--no-partial-parse", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--partial-parse", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--state", help=argparse.SUPPRESS)
    p.add_argument("--defer", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--favor-state", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--warn-error", action="store_true")
    p.add_argument("--no-version-check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--use-colors", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-use-colors", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--raise", dest="raise_on_failure", action="store_true",
                   help="(notebooks) raise an exception when the command fails")


def _selection(p: argparse.ArgumentParser, *, resource_type: bool = True) -> None:
    p.add_argument("--select", "-s", "-m", "--models", "--model", dest="select",
                   nargs="+", action="extend", metavar="SPEC")
    p.add_argument("--exclude", nargs="+", action="extend", metavar="SPEC")
    p.add_argument("--selector")
    p.add_argument("--indirect-selection", choices=["eager", "cautious", "buildable", "empty"])
    if resource_type:
        p.add_argument("--resource-type", "--resource-types", dest="resource_type", nargs="+",
                       action="extend",
                       choices=["model", "seed", "test", "snapshot", "source", "analysis",
                                "exposure", "metric", "semantic_model", "saved_query",
                                "unit_test", "all", "default"])


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fail-fast", "-x", action="store_true")
    p.add_argument("--full-refresh", "-f", action="store_true")
    p.add_argument("--empty", action="store_true", help=argparse.SUPPRESS)


class _Skip:
    """Stands in for the subparsers of commands not being run: building all of them
    costs more than some commands take."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="dvt", description="DVT: dbt-style pipelines across databases")
    parser.add_argument("--version", action="store_true")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def cmd(name: str, help_text: str, aliases: Sequence[str] = ()) -> Any:
        if only is not None and only != name and only not in aliases:
            return _Skip()
        p = sub.add_parser(name, help=help_text, aliases=list(aliases))
        _common(p)
        return p

    p = cmd("run", "build models")
    _selection(p)
    _run_flags(p)
    p = cmd("build", "seeds, models, snapshots and tests in DAG order")
    _selection(p)
    _run_flags(p)
    p.add_argument("--store-failures", action="store_true")
    p = cmd("seed", "load seed files")
    _selection(p)
    _run_flags(p)
    p.add_argument("--show", action="store_true", help="preview the loaded rows")
    p = cmd("test", "run data tests")
    _selection(p)
    _run_flags(p)
    p.add_argument("--store-failures", action="store_true")
    p = cmd("snapshot", "run snapshots")
    _selection(p)
    _run_flags(p)
    cmd("parse", "parse the project and write target/manifest.json")
    for name in ("list", "ls"):
        p = cmd(name, "list resources")
        _selection(p)
        p.add_argument("--output", "-o", choices=["name", "path", "json", "selector"],
                       default="selector")
        p.add_argument("--output-keys", nargs="+", action="extend")
    p = cmd("compile", "compile SQL to target/compiled")
    _selection(p)
    p.add_argument("--inline", help="compile this SQL instead of project nodes")
    p.add_argument("--output", "-o", choices=["text", "json"], default="text")
    p.add_argument("--full-refresh", "-f", action="store_true")
    p = cmd("show", "preview a node or a query")
    _selection(p, resource_type=False)
    p.add_argument("--inline", help="SQL to run (Jinja allowed)")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--output", "-o", choices=["text", "json"], default="text")
    p = cmd("run-operation", "run a macro")
    p.add_argument("macro")
    p.add_argument("--args", type=_vars, default={})
    p = cmd("debug", "check the project, profile and every connection")
    p.add_argument("--config-dir", action="store_true")
    p.add_argument("--connection", action="store_true")
    cmd("clean", "delete clean-targets")
    p = cmd("retry", "re-run what failed or was skipped last time")
    p.add_argument("--fail-fast", "-x", action="store_true")
    p = cmd("init", "create a new project")
    p.add_argument("project_name", nargs="?")
    p.add_argument("--skip-profile-setup", "-s", action="store_true")
    cmd("deps", "install packages from packages.yml")
    p = cmd("docs", "generate or serve documentation")
    p.add_argument("action", choices=["generate", "serve"])
    _selection(p)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--static", action="store_true")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--browser", action="store_true")
    p.add_argument("--no-browser", action="store_true")
    p = cmd("clone", "clone selected nodes from a state")
    _selection(p)
    p.add_argument("--full-refresh", "-f", action="store_true")
    p = cmd("source", "source commands")
    p.add_argument("action", choices=["freshness"])
    _selection(p)
    p.add_argument("--output", "-o")
    p = cmd("sync", "install the adapters and drivers the profile needs")
    p.add_argument("--dry-run", action="store_true")
    return parser


_PARSERS: dict[str | None, argparse.ArgumentParser] = {}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    first = next((a for a in argv if not a.startswith("-")), None)
    only = first if first in TASKS else None  # an unknown word gets the full parser's error
    parser = _PARSERS.get(only)
    if parser is None:
        parser = _PARSERS[only] = build_parser(only)
    try:
        args = parser.parse_args(list(argv))
    except ArgumentError as exc:
        exc.hint = f"`dvt {only} --help` lists its options" if only else \
            "`dvt --help` lists the commands"
        raise
    if args.command is None:
        raise ArgumentError("no command given",
                            hint="e.g. `dvt run`, `dvt build`, `dvt --help` for all commands")
    return args


def run_command(argv: Sequence[str], session: Any = None,
                subscriber: Callable[..., Any] | None = None) -> Any:
    """Parse argv and run the command; returns a CommandResult."""
    from dvt_engine.tasks.base import EXIT_ERROR, CommandResult

    args = parse_args(argv)
    module_name, func_name = TASKS[args.command].split(":")
    module = importlib.import_module(f"dvt_engine.tasks.{module_name}")
    func = getattr(module, func_name)
    if subscriber is not None and getattr(args, "quiet", False):
        subscriber = _quiet(subscriber)
    if args.command in ("init", "clean", "deps", "sync") or (
        args.command == "debug" and session is None
    ):
        return func(args, session=session, subscriber=subscriber)
    own_session = session is None
    if session is None:
        from dvt_engine.session import Session

        try:
            session = Session(args.project_dir, profiles_dir=args.profiles_dir,
                              target=args.target, vars=args.vars, watch_files=False)
        except DvtError as exc:  # no project, bad dbt_project.yml: nothing to subscribe to
            if subscriber is not None:
                for event in _error_events(exc, args):
                    subscriber(event)
            return CommandResult(args.command, False, exit_code=EXIT_ERROR, data=exc)
    else:
        _apply_overrides(session, args)
        session.parse()  # a long-lived session picks up edited files (no-op if none)
    if subscriber is not None:
        session.events.subscribe(subscriber)
    log_file = _open_log_file(session, args)
    try:
        return func(session, args)
    except DvtError as exc:
        for event in _error_events(exc, args):
            session.events.emit(event)
        return CommandResult(args.command, False, exit_code=EXIT_ERROR, data=exc)
    except Exception as exc:  # a bug: say so in dbt's words; the traceback only with --debug
        wrapped = DvtError(f"Unhandled error while executing: {type(exc).__name__}: {exc}",
                           hint="Re-run with --debug for the traceback and report it.")
        for event in _error_events(wrapped, args):
            session.events.emit(event)
        return CommandResult(args.command, False, exit_code=EXIT_ERROR, data=exc)
    finally:
        if subscriber is not None:
            session.events.unsubscribe(subscriber)
        if log_file is not None:
            session.events.unsubscribe(log_file)
            log_file.close()
        if own_session:
            session.close()


def _open_log_file(session: Any, args: argparse.Namespace) -> Any:
    """logs/dvt.log under the project (`log-path`, $DVT_LOG_PATH / $DBT_LOG_PATH or
    --log-path move it); None when it cannot be written (a read-only project)."""
    from dvt_engine.console import LogFile
    from dvt_engine.jinja.context import INVOCATION_ID

    folder = (getattr(args, "log_path", None) or os.environ.get("DVT_LOG_PATH")
              or os.environ.get("DBT_LOG_PATH") or session.project.log_path)
    try:
        log_file = LogFile(session.project.root / folder / "dvt.log", args.command,
                           INVOCATION_ID)
    except OSError:
        return None
    session.events.subscribe(log_file)
    return log_file


def _error_events(exc: DvtError, args: argparse.Namespace) -> list[Any]:
    """dbt's 'Encountered an error:' block; the traceback only with --debug."""
    events = [_log("Encountered an error:", "error"), _log(str(exc), "error")]
    if getattr(args, "debug", False):
        events.append(_log(traceback.format_exc().rstrip(), "debug"))
    return events


def _quiet(subscriber: Callable[..., Any]) -> Callable[..., Any]:
    """-q/--quiet: only printed results (ls, show, compile output) and errors get through."""
    from dvt_engine.events import Log

    def forward(event: Any) -> None:
        if isinstance(event, Log) and event.level in ("error", "result"):
            subscriber(event)

    return forward


def _apply_overrides(session: Any, args: argparse.Namespace) -> None:
    """A long-lived session (notebook) takes per-command --target/--vars: each lasts one
    command, as on the command line (`%dvt project --target T` changes the default)."""
    changed = False
    wanted = args.target or getattr(session, "default_target", None)
    if wanted != session.target_name:
        session.target_name = wanted
        session._profile = None
        changed = True
    if args.vars != session.cli_vars:
        session.cli_vars = dict(args.vars)
        changed = True
    if changed:
        session.parse(force=True)


def main(argv: Sequence[str] | None = None) -> int:
    from dvt_engine.console import ConsolePrinter

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-v"]) or argv[:1] == ["version"]:
        print("dvt 0.1.0 (dbt-compatible 1.10)")
        return 0
    debug = "--debug" in argv or "-d" in argv
    fmt = "json" if "json" in _flag_values(argv, "--log-format") else "text"
    printer = ConsolePrinter(fmt=fmt, debug=debug)
    try:
        result = run_command(argv, subscriber=printer)
    except _Exit as exc:
        return exc.code
    except DvtError as exc:
        printer(_log(str(exc), "error"))
        if debug:
            traceback.print_exc()
        return 2
    except KeyboardInterrupt:
        printer(_log("ctrl-c: cancelled", "error"))
        return 130
    return int(result.exit_code)


def _flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def _log(msg: str, level: str) -> Any:
    from dvt_engine.events import Log

    return Log(msg=msg, level=level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
