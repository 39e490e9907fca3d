"""One module per command. `execute` runs one: subscribe the caller, open logs/dvt.log,
make the command's Invocation, turn errors that stop it into dbt's error block and exit
code 2.

Commands that need no parsed project (init, clean, deps, sync, debug) take the options,
the event bus and the session if there is one: they also run where no project loads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import DvtError
from dvt_engine.events import Event, EventBus, Log
from dvt_engine.options import Options
from dvt_engine.results import CommandResult, error_result

if TYPE_CHECKING:
    from dvt_engine.invocation import Invocation
    from dvt_engine.session import Session

Subscriber = Callable[[Event], None]
ProjectCommand = Callable[["Invocation"], CommandResult]
STANDALONE = ("init", "clean", "deps", "sync", "debug")


def project_command(name: str) -> ProjectCommand:
    """The function that runs command `name` over a parsed project (imported here, by
    name, so start-up loads only the command that runs, and the import checker sees
    every edge)."""
    if name in ("run", "seed", "test", "build", "snapshot"):
        from dvt_engine.commands import build

        return build.COMMANDS[name]
    if name == "parse":
        from dvt_engine.commands import parse

        return parse.run
    if name in ("list", "ls"):
        from dvt_engine.commands import listing

        return listing.run
    if name == "compile":
        from dvt_engine.commands import compile as compile_command

        return compile_command.run
    if name == "show":
        from dvt_engine.commands import show

        return show.run
    if name == "run-operation":
        from dvt_engine.commands import operation

        return operation.run
    if name == "retry":
        from dvt_engine.commands import retry

        return retry.run
    if name == "docs":
        from dvt_engine.commands import docs

        return docs.run
    if name == "clone":
        from dvt_engine.commands import clone

        return clone.run
    if name == "source":
        from dvt_engine.commands import freshness

        return freshness.run
    raise DvtError(f"unknown command '{name}'", hint="`dvt --help` lists the commands")


def execute(session: Session, options: Options, subscriber: Subscriber | None = None
            ) -> CommandResult:
    """Run `options.command` in `session`."""
    subscriber = _quiet(subscriber) if subscriber is not None and options.quiet else subscriber
    if options.command in STANDALONE:
        with _subscribed(session.events, subscriber) as bus:
            return _standalone(options, bus, session, None)
    events = session.events
    with _subscribed(events, subscriber):
        for flag in options.unsupported():
            events.warn(f"{flag} is not supported yet: dvt {options.command} runs without it")
        log_file = None
        try:
            inv = session.invocation(options)
            log_file = _open_log_file(inv, events)
            session.started(inv)
            try:
                return project_command(options.command)(inv)
            finally:
                session.finished(inv)
        except DvtError as exc:
            _emit_error(events, exc, options)
            return error_result(options.command, exc)
        except Exception as exc:  # a bug: say so in dbt's words; the traceback with --debug
            wrapped = DvtError(f"Unhandled error while executing: {type(exc).__name__}: {exc}",
                               hint="Re-run with --debug for the traceback and report it.")
            _emit_error(events, wrapped, options)
            return error_result(options.command, exc)
        finally:
            if log_file is not None:
                events.unsubscribe(log_file)
                log_file.close()


def execute_standalone(options: Options, subscriber: Subscriber | None,
                       open_session: Callable[[EventBus], Session]) -> CommandResult:
    """init, clean, deps, sync and debug without a session (the CLI's case)."""
    subscriber = _quiet(subscriber) if subscriber is not None and options.quiet else subscriber
    with _subscribed(EventBus(), subscriber) as bus:
        return _standalone(options, bus, None, open_session)


def _standalone(options: Options, bus: EventBus, session: Session | None,
                open_session: Callable[[EventBus], Session] | None) -> CommandResult:
    if options.command == "debug":
        from dvt_engine.commands import debug

        return debug.run(options, bus, session, open_session)
    if options.command == "init":
        from dvt_engine.commands import init

        return init.run(options, bus, session)
    if options.command == "clean":
        from dvt_engine.commands import clean

        return clean.run(options, bus, session)
    if options.command == "deps":
        from dvt_engine.commands import deps

        return deps.run(options, bus, session)
    from dvt_engine.commands import sync

    return sync.run(options, bus, session)


@contextmanager
def _subscribed(bus: EventBus, subscriber: Subscriber | None) -> Iterator[EventBus]:
    """The caller's subscriber for this command only (a long-lived notebook session must
    not print the next command's events through it)."""
    if subscriber is not None:
        bus.subscribe(subscriber)
    try:
        yield bus
    finally:
        if subscriber is not None:
            bus.unsubscribe(subscriber)


def _open_log_file(inv: Invocation, events: EventBus) -> Any:
    """logs/dvt.log under the project (`log-path`, $DVT_LOG_PATH / $DBT_LOG_PATH or
    --log-path move it); None when it cannot be written (a read-only project)."""
    from dvt_engine.jinja.context import INVOCATION_ID
    from dvt_engine.reporting import LogFile

    folder = (inv.options.log_path or os.environ.get("DVT_LOG_PATH")
              or os.environ.get("DBT_LOG_PATH") or inv.project.log_path)
    try:
        log_file = LogFile(inv.project.root / folder / "dvt.log", inv.options.command,
                           INVOCATION_ID)
    except OSError:
        return None
    events.subscribe(log_file)
    return log_file


def error_events(exc: DvtError, options: Options) -> list[Event]:
    """dbt's 'Encountered an error:' block; the traceback only with --debug."""
    from dvt_engine.events import CommandError

    events: list[Event] = [CommandError(message=str(exc), kind=exc.kind, path=exc.path,
                                        line=exc.line, node=exc.node, hint=exc.hint)]
    if options.debug:
        import traceback

        events.append(Log(msg=traceback.format_exc().rstrip(), level="debug"))
    return events


def _emit_error(bus: EventBus, exc: DvtError, options: Options) -> None:
    for event in error_events(exc, options):
        bus.emit(event)


def _quiet(subscriber: Subscriber) -> Subscriber:
    """-q/--quiet: only printed results (ls, show, compile output) and errors get through."""
    from dvt_engine.events import is_quiet_visible

    def forward(event: Event) -> None:
        if is_quiet_visible(event):
            subscriber(event)

    return forward


__all__ = ["execute", "execute_standalone", "project_command", "STANDALONE"]
