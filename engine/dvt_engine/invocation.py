"""One command's view of a Session: its options, the project parsed for them, its events.

A command reads everything through its Invocation and keeps nothing on the Session: the
compiler carries this command's flags (`flags.FULL_REFRESH`, `is_incremental()`), the
manifest is the one parsed for this command's target and vars, and the runner that a
cancel must reach lives here for as long as the command runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dvt_engine.events import EventBus
from dvt_engine.options import Options
from dvt_engine.project_view import ProjectView

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.jinja.context import Compiler
    from dvt_engine.manifest import Manifest
    from dvt_engine.planner import ExecutionPlan
    from dvt_engine.project.profiles import Output, Profile
    from dvt_engine.project.project import ProjectConfig
    from dvt_engine.runner import Runner


class Host(Protocol):
    """What an Invocation needs of its Session."""

    events: EventBus

    def view_for(self, options: Options) -> ProjectView: ...

    def adapters_in_use(self) -> list[Adapter]: ...

    def cancel_running(self) -> None: ...


class Invocation:
    def __init__(self, options: Options, host: Host,
                 runners: list[Runner] | None = None) -> None:
        self.options = options
        self.host = host
        self.view = host.view_for(options)
        self.events = host.events
        self._manifest: Manifest | None = None
        self._compiler: Compiler | None = None
        # shared with invocations made by rerun(): one cancel reaches them all
        self._runners: list[Runner] = [] if runners is None else runners
        self._lock = threading.Lock()

    def rerun(self, options: Options) -> Invocation:
        """The same command with other options (retry's recorded ones)."""
        return Invocation(options, self.host, self._runners)

    # -- what the command reads -------------------------------------------------------
    @property
    def project(self) -> ProjectConfig:
        return self.view.project

    @property
    def project_dir(self) -> Path:
        return self.view.project_dir

    @property
    def target_dir(self) -> Path:
        return self.view.project.target_dir

    @property
    def profile(self) -> Profile:
        return self.view.profile

    @property
    def manifest(self) -> Manifest:
        """Parsed on first use; a long-lived session re-parses the files that changed."""
        if self._manifest is None:
            self._manifest = self.view.parse()
        return self._manifest

    @property
    def compiler(self) -> Compiler:
        if self._compiler is None:
            self.manifest  # noqa: B018 - parsed (or re-parsed) first
            self._compiler = self.view.compiler_with(self.flags)
        return self._compiler

    @property
    def flags(self) -> dict[str, Any]:
        """dbt's `flags` in Jinja for this command."""
        o = self.options
        return {"full_refresh": o.full_refresh, "which": _WHICH.get(o.command, o.command),
                "store_failures": o.store_failures, "warn_error": o.warn_error}

    @property
    def threads(self) -> int:
        return int(self.options.threads or self.output().threads)

    def output(self, name: str | None = None) -> Output:
        return self.view.output(name)

    def adapter(self, target: str | None = None) -> Adapter:
        return self.view.adapter(target)

    def adapters_in_use(self) -> list[Adapter]:
        return self.host.adapters_in_use()

    def spark_conf(self) -> dict[str, Any]:
        return self.view.spark_conf()

    def execution_plans(self, unique_ids: Iterable[str] | None = None
                        ) -> dict[str, ExecutionPlan]:
        self.manifest  # noqa: B018 - parsed (or re-parsed) first
        return self.view.execution_plans(unique_ids)

    # -- cancelling -------------------------------------------------------------------
    def attach(self, runner: Runner) -> None:
        """The runner a cancel must reach while this command runs."""
        with self._lock:
            self._runners.append(runner)

    def detach(self, runner: Runner) -> None:
        with self._lock:
            if runner in self._runners:
                self._runners.remove(runner)

    def cancel_running(self) -> None:
        """Stop running statements and dvt's Spark jobs (what a runner calls on Ctrl-C)."""
        self.host.cancel_running()

    def interrupt(self) -> bool:
        """A front end's cancel: interrupt the running command's runners; False if none."""
        with self._lock:
            runners = list(self._runners)
        for runner in runners:
            runner.interrupt()
        return bool(runners)


# dbt's flags.WHICH for commands whose name differs
_WHICH = {"docs": "generate", "ls": "list", "source": "freshness"}
