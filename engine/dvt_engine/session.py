"""A Session: one project, its adapters and Spark, and typed methods for every command.

What outlives a command lives here: the project folder and profile location, the
session's default target and vars, models defined in memory (notebook cells), the parsed
manifests (re-parsed only when files change), one adapter per output, and Spark. What a
command asks for (selection, --full-refresh, --target, --vars, ...) is an `Options` that
lasts that command only.

    s = Session("examples/demo")
    s.build()                              # RunResult: .success, .results, .exit_code
    s.show(select=["customers"]).table     # a pyarrow.Table
    s.compile(select=["orders"]).sql
    s.invoke(["run", "-s", "orders+"])     # the CLI's words, same result

The CLI makes one Session per command; a notebook keeps one per kernel.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters import create_adapter
from dvt_engine.errors import ProjectError
from dvt_engine.events import EventBus
from dvt_engine.invocation import Invocation
from dvt_engine.options import Options
from dvt_engine.project.project import ProjectConfig, find_project_dir
from dvt_engine.project_view import ProjectView, ViewKey, view_key

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.jinja.context import Compiler
    from dvt_engine.manifest import Manifest
    from dvt_engine.planner import ExecutionPlan
    from dvt_engine.project.profiles import Output, Profile
    from dvt_engine.results import (
        CommandResult,
        CompileResult,
        InfoResult,
        ListResult,
        OperationResult,
        ParseResult,
        RunResult,
        ShowResult,
    )

Subscriber = Callable[[Any], None]
# parsed views kept: a notebook alternating two targets (or vars) re-parses neither
_VIEWS_KEPT = 3


class Session:
    def __init__(
        self,
        project_dir: str | Path | None = None,
        *,
        profiles_dir: str | None = None,
        target: str | None = None,
        vars: Mapping[str, Any] | None = None,
        events: EventBus | None = None,
        watch_files: bool = True,
    ) -> None:
        # a long-lived session (notebook) re-parses when files change; the CLI's does not
        self.watch_files = watch_files
        self.project_dir = find_project_dir(None) if project_dir is None \
            else Path(project_dir).resolve()
        self.profiles_dir = profiles_dir
        # what a command without --target / --vars runs with
        self.default_target = target
        self.default_vars: dict[str, Any] = dict(vars or {})
        self.events = events or EventBus()
        # files defined in memory (notebook cells): relative path -> text
        self.overlays: dict[str, str] = {}
        self._adapters: dict[str, Adapter] = {}
        self._by_output: dict[int, tuple[Output, Adapter]] = {}
        self._adapter_lock = threading.Lock()
        self._views: OrderedDict[ViewKey, ProjectView] = OrderedDict()
        self._views_lock = threading.Lock()
        self._running: list[Invocation] = []
        self._running_lock = threading.Lock()
        self.view()  # a missing or broken dbt_project.yml fails here, as it should

    # -- the project as the session's defaults see it ---------------------------------
    def view(self, target: str | None = None, vars: Mapping[str, Any] | None = None,
             seed_target: str | None = None) -> ProjectView:
        """The project, profile and manifest for a default target and vars (the
        session's own when None)."""
        target = target or self.default_target
        merged = {**self.default_vars, **(vars or {})}
        key = view_key(target, merged, seed_target)
        with self._views_lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
                return view
        view = ProjectView(self.project_dir, self.profiles_dir, target, merged, seed_target,
                           adapter_for_output=self._adapter_for_output, events=self.events,
                           watch_files=self.watch_files, overlays=self.overlays)
        with self._views_lock:
            self._views[key] = view
            while len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
        return view

    @property
    def project(self) -> ProjectConfig:
        return self.view().project

    @property
    def profile(self) -> Profile:
        return self.view().profile

    @property
    def manifest(self) -> Manifest:
        return self.view().manifest

    @property
    def compiler(self) -> Compiler:
        return self.view().compiler

    @property
    def target_dir(self) -> Path:
        return self.project.target_dir

    def parse(self, force: bool = False) -> Manifest:
        """Parse the project with the session's defaults (no-op when nothing changed)."""
        return self.view().parse(force)

    def output(self, name: str | None = None) -> Output:
        return self.view().output(name)

    def adapter(self, target: str | None = None) -> Adapter:
        return self._adapter_for_output(self.output(target))

    def engine(self, target: str | None = None) -> Any:
        """A SQLAlchemy Engine on an output, for pandas and other tools."""
        return self.adapter(target).engine

    def execution_plans(self, unique_ids: Iterable[str] | None = None
                        ) -> dict[str, ExecutionPlan]:
        return self.view().execution_plans(unique_ids)

    def spark_conf(self) -> dict[str, Any]:
        return self.view().spark_conf()

    # -- adapters ---------------------------------------------------------------------
    def _adapter_for_output(self, output: Output) -> Adapter:
        known = self._by_output.get(id(output))
        if known is not None and known[0] is output:
            return known[1]  # the common case: the same Output object as last time
        # keyed by name and settings: vars may render an output differently
        key = f"{output.name}\0{sorted(output.settings.items(), key=lambda kv: kv[0])!r}"
        with self._adapter_lock:
            adapter = self._adapters.get(key)
            if adapter is None:
                adapter = create_adapter(output, self.project_dir)
                adapter.on_statement = self._log_statement
                if hasattr(adapter, "set_project_quoting"):  # dbt_project.yml `quoting:`
                    adapter.set_project_quoting(self.project.quoting)
                self._adapters[key] = adapter
            self._by_output[id(output)] = (output, adapter)  # holds output: ids stay unique
        return adapter

    def _log_statement(self, output: str, sql: str, seconds: float) -> None:
        # as dbt.log: each statement with where and how long (a debug line: the console
        # shows it with --debug only)
        self.events.log(f"SQL on {output} in {seconds:.3f}s:\n{sql.strip()}", "debug")

    def adapters_in_use(self) -> list[Adapter]:
        with self._adapter_lock:
            return list(self._adapters.values())

    def cancel_running(self) -> None:
        """Stop what this session is running at the drivers: every adapter's statements
        and the Spark jobs of federated models."""
        for adapter in self.adapters_in_use():
            adapter.cancel()
        from dvt_engine.federation.spark import cancel_jobs

        cancel_jobs()

    def cancel(self) -> bool:
        """A front end's cancel (another thread, a notebook's stop button): the running
        commands' unfinished nodes are cancelled and their statements stopped. False when
        nothing was running."""
        with self._running_lock:
            running = list(self._running)
        return any([inv.interrupt() for inv in running])

    def close(self) -> None:
        with self._adapter_lock:
            adapters = list(self._adapters.values())
            self._adapters.clear()
            self._by_output.clear()
        for adapter in adapters:
            adapter.close()

    # -- commands ---------------------------------------------------------------------
    def view_for(self, options: Options) -> ProjectView:
        """The view for a command's target and vars; `seed --target X` loads the seeds
        into X."""
        seed_target = options.target if options.command == "seed" else None
        return self.view(options.target, options.vars, seed_target)

    def invocation(self, options: Options) -> Invocation:
        """What a command with `options` sees."""
        return Invocation(options, self)

    def execute(self, options: Options, subscriber: Subscriber | None = None
                ) -> CommandResult:
        """Run one command; every event goes to `subscriber` (and logs/dvt.log)."""
        from dvt_engine.commands.dispatch import execute

        return execute(self, options, subscriber)

    def started(self, inv: Invocation) -> None:
        with self._running_lock:
            self._running.append(inv)

    def finished(self, inv: Invocation) -> None:
        with self._running_lock:
            if inv in self._running:
                self._running.remove(inv)

    def invoke(self, args: Sequence[str], subscriber: Subscriber | None = None
               ) -> CommandResult:
        """The CLI's words in this session: `invoke(["run", "-s", "orders"])`."""
        from dvt_engine.arguments import ArgumentError, parse_options
        from dvt_engine.results import error_result

        try:
            options = parse_options(args)
        except ArgumentError as exc:
            return error_result(str(args[0]) if args else "", exc)
        return self.execute(options, subscriber)

    # -- typed methods: keyword arguments are Options' fields -------------------------
    def run(self, **options: Any) -> RunResult:
        return self._typed("run", options)  # type: ignore[return-value]

    def build(self, **options: Any) -> RunResult:
        return self._typed("build", options)  # type: ignore[return-value]

    def seed(self, **options: Any) -> RunResult:
        return self._typed("seed", options)  # type: ignore[return-value]

    def test(self, **options: Any) -> RunResult:
        return self._typed("test", options)  # type: ignore[return-value]

    def snapshot(self, **options: Any) -> RunResult:
        return self._typed("snapshot", options)  # type: ignore[return-value]

    def retry(self, **options: Any) -> RunResult:
        return self._typed("retry", options)  # type: ignore[return-value]

    def clone(self, **options: Any) -> RunResult:
        return self._typed("clone", options)  # type: ignore[return-value]

    def source_freshness(self, **options: Any) -> RunResult:
        return self._typed("source", {"action": "freshness", **options})  # type: ignore

    def show(self, **options: Any) -> ShowResult:
        return self._typed("show", options)  # type: ignore[return-value]

    def compile(self, **options: Any) -> CompileResult:
        return self._typed("compile", options)  # type: ignore[return-value]

    def list(self, **options: Any) -> ListResult:
        return self._typed("list", options)  # type: ignore[return-value]

    def parse_project(self, **options: Any) -> ParseResult:
        """`dvt parse`: re-parse and write target/manifest.json."""
        return self._typed("parse", options)  # type: ignore[return-value]

    def query(self, sql: str, *, target: str | None = None, limit: int | None = None,
              vars: Mapping[str, Any] | None = None) -> ShowResult:
        """Rows of SQL (Jinja, ref, source) on `target` (the default target when None),
        federated when it reads other connections; nothing is printed or materialized.
        An error is returned in `.error`, not raised."""
        from dvt_engine.commands.show import query

        options = Options(command="show", inline=sql, limit=limit, vars=vars or {})
        return query(self.invocation(options), target)

    def compile_node(self, unique_id: str, **options: Any) -> str:
        """One node's compiled SQL, with nothing written or printed (a notebook cell's
        check that its model compiles); errors raise."""
        from dvt_engine.commands.compile import compile_one

        return compile_one(self.invocation(Options(command="compile", **options)), unique_id)

    def run_operation(self, macro: str, args: Mapping[str, Any] | None = None,
                      **options: Any) -> OperationResult:
        return self._typed("run-operation", {"macro": macro, "macro_args": dict(args or {}),
                                             **options})  # type: ignore[return-value]

    def docs_generate(self, **options: Any) -> InfoResult:
        return self._typed("docs", {"action": "generate", **options})  # type: ignore

    def debug(self, **options: Any) -> InfoResult:
        return self._typed("debug", options)  # type: ignore[return-value]

    def _typed(self, command: str, kwargs: dict[str, Any]) -> CommandResult:
        subscriber = kwargs.pop("subscriber", None)
        result = self.execute(Options(command=command, **kwargs), subscriber)
        return result


__all__ = ["Options", "ProjectError", "Session"]
