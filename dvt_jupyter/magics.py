"""%dvt, %%dvt_model and %%dvt_sql over one engine Session per kernel."""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from pathlib import Path
from typing import Any

from dvt_engine.arguments import ArgumentError, parse_options
from dvt_engine.errors import DvtError
from dvt_engine.events import Event, HookFinished, NodeFinished, Printed, RunStarted
from dvt_engine.options import Options
from dvt_engine.reporting import ConsolePrinter, event_lines
from dvt_engine.results import (
    CommandResult,
    CompileResult,
    ListResult,
    RunResult,
    ShowResult,
)
from dvt_engine.session import Session
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Int
from traitlets.config import Configurable

from dvt_jupyter.results import RunResults, SqlText
from dvt_jupyter.widgets import preview_caption

RUN_COMMANDS = ("run", "build", "seed", "test", "snapshot", "retry")
# commands whose answer is the magic's return value, not printed lines
ANSWERING = ("show", "compile", "list", "ls")


class Dvt(Configurable):
    """Settings: `%config Dvt.display_limit = 10`."""

    display_limit = Int(10, help="rows shown by show / %%dvt_sql when --limit is not given"
                        ).tag(config=True)
    deterministic = Bool(False, help="no timestamps or timings in text output (for tests)"
                         ).tag(config=True)
    raise_on_failure = Bool(False, help="raise when a command fails").tag(config=True)
    widgets = Bool(True, help="live widgets in a notebook; False prints the CLI's lines"
                   ).tag(config=True)
    traceback = Bool(False, help="show full tracebacks of errors").tag(config=True)
    threads = Int(0, help="threads for run/build (0: the profile's)").tag(config=True)


class CommandFailed(Exception):  # noqa: N818 - what users catch
    """Raised by a failing command when --raise or Dvt.raise_on_failure asks for it."""


@magics_class
class DvtMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.settings = Dvt(parent=shell)
        shell.configurables.append(self.settings)
        self.session: Session | None = None
        self.cell_models: dict[str, str] = {}  # model name -> relative path of its overlay

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.settings in self.shell.configurables:
            self.shell.configurables.remove(self.settings)

    # -- session ----------------------------------------------------------------------
    def _open(self, project_dir: str | None = None, profiles_dir: str | None = None,
              target: str | None = None) -> Session:
        if self.session is not None:
            self.session.close()
        self.session = Session(project_dir, profiles_dir=profiles_dir, target=target)
        self.cell_models.clear()
        return self.session

    def _session(self) -> Session:
        if self.session is None:
            self._open()  # the notebook's folder or a parent holds dbt_project.yml
        assert self.session is not None
        return self.session

    def _widget_frontend(self) -> bool:
        return bool(self.settings.widgets) and getattr(self.shell, "kernel", None) is not None

    # -- %dvt ---------------------------------------------------------------------------
    @line_magic
    def dvt(self, line: str) -> Any:
        """`%dvt <command> [flags]`: the dvt CLI in this kernel. `%dvt project PATH` sets the
        project; `%dvt dag [-s SEL]` shows the DAG."""
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            return self._error(DvtError(f"cannot split the command line: {exc}"))
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(__doc__ or "", "\nCommands: project, dag, spark, " + ", ".join(
                ["debug", "parse", "list", "compile", "seed", "run", "build", "test", "show",
                 "run-operation", "docs", "clean", "retry", "snapshot", "source", "deps"]))
            return None
        try:
            if argv[0] == "project":
                return self._project(argv[1:])
            if argv[0] == "dag":
                return self._dag(argv[1:])
            if argv[0] == "spark":
                return self._spark()
            return self._command(argv)
        except (DvtError, CommandFailed) as exc:
            return self._error(exc)

    def _project(self, argv: list[str]) -> Any:
        p = argparse.ArgumentParser(prog="%dvt project", add_help=False)
        p.add_argument("path", nargs="?")
        p.add_argument("--profiles-dir")
        p.add_argument("--target", "-t")
        args, rest = p.parse_known_args(argv)
        if rest:
            raise ArgumentError(f"unrecognized arguments: {' '.join(rest)}",
                                hint="%dvt project PATH [--profiles-dir DIR] [--target T]")
        session = self._open(args.path, args.profiles_dir, args.target)
        manifest = session.manifest
        from dvt_engine.commands.base import found_line

        profile = session.profile  # types only: listing renders no output
        outputs = ", ".join(
            f"{n} ({profile.output_type(n)}{', default' if n == profile.target_name else ''})"
            for n in profile.names
        )
        print(f"project {session.project.name}: {found_line(manifest)[6:]}; targets {outputs}")
        return None

    def _dag(self, argv: list[str]) -> Any:
        from dvt_engine.selection import ALL_TYPES, select

        from dvt_jupyter.widgets import dag_view

        p = argparse.ArgumentParser(prog="%dvt dag", add_help=False)
        p.add_argument("--select", "-s", nargs="+", action="extend")
        p.add_argument("--exclude", nargs="+", action="extend")
        args = p.parse_args(argv)
        session = self._session()
        manifest = session.parse()
        chosen = select(manifest, select=args.select, exclude=args.exclude,
                        default_types=tuple(t for t in ALL_TYPES if t != "test"))
        ids = sorted(chosen.unique_ids)
        targets = {u: (manifest.get(u).target or session.profile.target_name) for u in ids}
        view = dag_view(manifest, ids, targets)
        if self._widget_frontend():
            return view
        print(repr(view))
        return None

    def _spark(self) -> Any:
        """`%dvt spark`: the SparkSession federation uses (started now if need be)."""
        from dvt_engine.federation.spark import get_spark

        spark = get_spark(self._session().spark_conf())
        self.shell.user_ns.setdefault("spark", spark)
        return spark

    def _share_spark(self) -> None:
        """Once federation has started Spark, the user's `spark` is that same session."""
        module = sys.modules.get("dvt_engine.federation.spark")  # only if federation ran
        session = module.running_spark() if module is not None else None
        if session is not None:
            self.shell.user_ns.setdefault("spark", session)

    def _command(self, argv: list[str]) -> Any:
        options = parse_options(argv)  # the CLI's words; usage errors before anything runs
        if options.project_dir and (self.session is None or Path(options.project_dir).resolve()
                                    != self.session.project_dir):
            self._open(options.project_dir, options.profiles_dir, options.target)
        session = self._session()
        if self.settings.threads and options.command in RUN_COMMANDS and \
                options.threads is None:
            options = options.replace(threads=self.settings.threads)
        subscriber = self._subscriber(session, options)
        try:
            result = session.execute(options, subscriber)
        except KeyboardInterrupt:
            print("Interrupted: running statements were cancelled; the session is usable.",
                  file=sys.stderr)
            return None
        self._share_spark()
        if result.error is not None and isinstance(result.error, DvtError):
            raise result.error
        if not result.success and (options.raise_on_failure or self.settings.raise_on_failure):
            raise CommandFailed(f"dvt {options.command} failed")
        return self._value(options, result)

    def _subscriber(self, session: Session, options: Options) -> Any:
        command = options.command
        answering = command in ANSWERING
        if not self._widget_frontend():
            printer = ConsolePrinter(sys.stdout, timestamps=not self.settings.deterministic,
                                     debug=options.debug)

            def print_lines(event: Event) -> None:
                # the answer is the return value: printing it too would show it twice
                if not (answering and isinstance(event, Printed)):
                    printer(event)

            return print_lines
        shown: dict[str, Any] = {}

        def on_event(event: Event) -> None:
            from IPython.display import display

            if isinstance(event, RunStarted) and command in RUN_COMMANDS:
                from dvt_jupyter.widgets import RunView

                view = RunView(session.manifest, event.unique_ids)
                shown["view"] = view
                display(view.box)
            elif "view" in shown:
                shown["view"](event)
            if isinstance(event, Printed):
                if not answering:
                    print(event.text)
                return
            if isinstance(event, NodeFinished | HookFinished):
                return  # the run graph shows each node's outcome
            for level, text in event_lines(event):
                if level in ("warn", "error") and text:
                    print(text, file=sys.stderr)

        return on_event

    def _value(self, options: Options, result: CommandResult) -> Any:
        if isinstance(result, RunResult) and options.command in RUN_COMMANDS:
            return RunResults.from_command(result)
        if isinstance(result, ShowResult):
            if result.table is None:
                return None
            print(preview_caption(result.table, options.limit))
            return result.table.to_pandas()
        if isinstance(result, CompileResult):
            sql = result.sql
            if sql is not None:
                return SqlText(sql)
            return {uid.rsplit(".", 1)[-1]: SqlText(text)
                    for uid, text in result.compiled.items()}
        if isinstance(result, ListResult):
            return result.entries if options.output == "json" else result.names
        return None

    def _error(self, exc: BaseException) -> None:
        if self.settings.traceback:
            traceback.print_exception(exc)
        else:
            print(str(exc), file=sys.stderr)
        if self.settings.raise_on_failure:
            raise exc
        return None

    # -- %%dvt_model ------------------------------------------------------------------------
    @cell_magic
    def dvt_model(self, line: str, cell: str) -> Any:
        """`%%dvt_model NAME [--materialized M] [--target T] [--schema S] [--tags a,b] [--save]`
        defines (or, for this session, replaces) a model from the cell's SQL."""
        p = argparse.ArgumentParser(prog="%%dvt_model", add_help=False)
        p.add_argument("name")
        p.add_argument("--materialized", "-m")
        p.add_argument("--target", "-t")
        p.add_argument("--schema")
        p.add_argument("--tags")
        p.add_argument("--save", action="store_true")
        try:
            args = p.parse_args(shlex.split(line))
        except SystemExit:
            return self._error(ArgumentError(
                "usage: %%dvt_model NAME [--materialized M] [--target T] [--schema S] "
                "[--tags a,b] [--save]"))
        session = self._session()
        try:
            return self._define_model(session, args, cell)
        except DvtError as exc:
            return self._error(exc)

    def _define_model(self, session: Session, args: argparse.Namespace, body: str) -> Any:
        from dvt_jupyter.cells import define_model

        summary = define_model(session, args.name, body, materialized=args.materialized,
                               target=args.target, schema=args.schema,
                               tags=[t for t in (args.tags or "").split(",") if t],
                               save=args.save)
        print(summary)
        return None

    # -- %%dvt_sql ------------------------------------------------------------------------
    @cell_magic
    def dvt_sql(self, line: str, cell: str) -> Any:
        """`%%dvt_sql [--target T] [--limit N]`: run a query (Jinja, ref, source) -> DataFrame."""
        p = argparse.ArgumentParser(prog="%%dvt_sql", add_help=False)
        p.add_argument("--target", "-t")
        p.add_argument("--limit", type=int)
        try:
            args = p.parse_args(shlex.split(line))
        except SystemExit:
            return self._error(ArgumentError("usage: %%dvt_sql [--target T] [--limit N]"))
        session = self._session()
        limit = args.limit if args.limit is not None else self.settings.display_limit
        # federated through Spark when the cell reads relations on other connections
        result = session.query(cell, target=args.target, limit=limit)
        if result.error is not None:
            return self._error(result.error)
        assert result.table is not None
        print(preview_caption(result.table, limit))
        return result.table.to_pandas()
