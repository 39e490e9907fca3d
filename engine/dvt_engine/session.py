"""A Session: one project, its profile, parsed manifest and one adapter per target.

The CLI makes one per command; a notebook keeps one per kernel and re-parses only when
files change. This is also the Python API: `Session("path").invoke(["run", "-s", "m"])`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters import create_adapter
from dvt_engine.errors import ProjectError
from dvt_engine.events import EventBus
from dvt_engine.jinja.context import Compiler
from dvt_engine.jinja.macros import MacroRegistry
from dvt_engine.manifest import Manifest
from dvt_engine.project.parser import ParseContext, ProjectParser, iter_files, load_macros
from dvt_engine.project.profiles import Output, Profile, load_profile
from dvt_engine.project.project import ProjectConfig, find_project_dir, load_project
from dvt_engine.project.yaml_io import env_var, load_yaml_file

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.planner import ExecutionPlan


class Session:
    def __init__(
        self,
        project_dir: str | Path | None = None,
        *,
        profiles_dir: str | None = None,
        target: str | None = None,
        vars: dict[str, Any] | None = None,
        events: EventBus | None = None,
        watch_files: bool = True,
    ) -> None:
        # a long-lived session (notebook) re-parses when files change; the CLI's does not
        self.watch_files = watch_files
        self.project_dir = find_project_dir(Path(project_dir) if project_dir else None) \
            if project_dir is None else Path(project_dir).resolve()
        self.profiles_dir = profiles_dir
        self.target_name = target
        # what a command without --target runs on: a notebook's --target is per command
        self.default_target = target
        self.cli_vars = dict(vars or {})
        self.events = events or EventBus()
        self.flags: dict[str, Any] = {}
        self.project: ProjectConfig = load_project(self.project_dir, self._render_yaml)
        self._profile: Profile | None = None
        self._adapters: dict[str, Adapter] = {}
        self._adapter_lock = threading.Lock()
        self._manifest: Manifest | None = None
        self._registry: MacroRegistry | None = None
        self._compiler: Compiler | None = None
        self._fingerprint: dict[str, float] | None = None
        self._databases: dict[str, str] = {}
        # `dvt seed --target X`: the selected seeds load into X whatever their config says
        self.seed_target: str | None = None
        # files defined in memory (notebook cells): relative path -> text
        self.overlays: dict[str, str] = {}
        self._parsed_overlays: dict[str, str] = {}
        self._parsed_seed_target: str | None = None

    # -- YAML rendering ---------------------------------------------------------------
    def _render_yaml(self, text: str) -> Any:
        from dvt_engine.jinja.environment import get_native_environment

        env = get_native_environment()
        project = getattr(self, "project", None)
        scope = project.project_vars(self.cli_vars) if project else dict(self.cli_vars)

        def var(name: str, default: Any = None) -> Any:
            return scope.get(name, default)

        try:
            return env.from_string(text).render(env_var=env_var, var=var, target=None)
        except Exception as exc:  # a bad expression in YAML
            from dvt_engine.errors import ParsingError

            if isinstance(exc, ParsingError):
                raise
            raise ParsingError(f"could not render {text!r}: {exc}") from None

    # -- profile / adapters -----------------------------------------------------------
    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_profile(self.project_dir, self.project.profile,
                                         self.profiles_dir, self.target_name, self._render_yaml)
        return self._profile

    def output(self, name: str | None = None) -> Output:
        return self.profile.output(name)

    def adapter(self, target: str | None = None) -> Adapter:
        output = self.output(target)
        with self._adapter_lock:
            adapter = self._adapters.get(output.name)
            if adapter is None:
                adapter = create_adapter(output, self.project_dir)
                adapter.on_statement = self._log_statement
                if hasattr(adapter, "set_project_quoting"):  # dbt_project.yml `quoting:`
                    adapter.set_project_quoting(self.project.quoting)
                self._adapters[output.name] = adapter
        return adapter

    def _log_statement(self, output: str, sql: str, seconds: float) -> None:
        # as dbt.log: each statement with where and how long (a debug line: the console
        # shows it with --debug only)
        self.events.log(f"SQL on {output} in {seconds:.3f}s:\n{sql.strip()}", "debug")

    def adapters_in_use(self) -> list[Adapter]:
        return list(self._adapters.values())

    def cancel_running(self) -> None:
        """Stop what this session is running: every adapter's statements and the Spark
        jobs of federated models (Ctrl-C, or a front end's cancel from another thread)."""
        for adapter in self.adapters_in_use():
            adapter.cancel()
        from dvt_engine.federation.spark import cancel_jobs

        cancel_jobs()

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()

    # -- parsing ----------------------------------------------------------------------
    def packages(self) -> list[ProjectConfig]:
        base = self.project_dir / self.project.packages_install_path
        if not base.is_dir() and "packages-install-path" not in self.project.raw:
            # packages a user installed with `dbt deps` are in dbt's default folder
            base = self.project_dir / "dbt_packages"
        if not base.is_dir():
            return []
        return [load_project(d, self._render_yaml) for d in sorted(base.iterdir())
                if (d / "dbt_project.yml").is_file()]

    def _files_fingerprint(self) -> dict[str, float]:
        p = self.project
        dirs = [*p.model_paths, *p.seed_paths, *p.macro_paths, *p.test_paths, *p.snapshot_paths,
                *p.analysis_paths, p.packages_install_path]
        fp = {str(f): f.stat().st_mtime for f in iter_files(self.project_dir, dirs, ("",))}
        for name in ("dbt_project.yml", "dvt_project.yml", "selectors.yml", "packages.yml"):
            f = self.project_dir / name
            if f.exists():
                fp[str(f)] = f.stat().st_mtime
        return fp

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self.parse()
        assert self._manifest is not None
        return self._manifest

    def parse(self, force: bool = False) -> Manifest:
        """Parse the project; reuse the last result when no file changed."""
        fingerprint = self._files_fingerprint() if self.watch_files else None
        if not force and self._manifest is not None and fingerprint == self._fingerprint \
                and self.overlays == self._parsed_overlays \
                and self.seed_target == self._parsed_seed_target:
            return self._manifest
        self.project = load_project(self.project_dir, self._render_yaml)
        manifest = Manifest(project_name=self.project.name)
        registry = MacroRegistry()
        compiler = self._make_compiler(manifest, registry)
        packages = self.packages()
        load_macros(self.project, registry, manifest, packages)
        ctx = ParseContext(
            project=self.project, compiler=compiler, registry=registry, manifest=manifest,
            render_yaml=self._render_yaml,
            default_schema=lambda t: self.output(t).schema,
            default_database=self._default_database,
            overlays=dict(self.overlays),
            extraction_cache=self._extraction_cache(fingerprint),
            seed_target=self.seed_target,
        )
        ProjectParser(ctx).parse(packages)
        selectors = self.project_dir / "selectors.yml"
        if selectors.is_file():
            data = load_yaml_file(selectors, self.project_dir) or {}
            manifest.selectors = {s["name"]: s for s in data.get("selectors") or []
                                  if isinstance(s, dict) and "name" in s}
        self._manifest, self._registry, self._compiler = manifest, registry, compiler
        self._parsed_overlays = dict(self.overlays)
        self._parsed_seed_target = self.seed_target
        self._fingerprint = fingerprint
        return manifest

    def _extraction_cache(self, fingerprint: dict[str, float] | None) -> dict[Any, Any]:
        """Reuse what files rendered to last time, unless macros, project or vars changed."""
        fp = fingerprint or {}
        macro_dirs = tuple(str(self.project_dir / d) for d in self.project.macro_paths)
        env = repr((sorted((k, v) for k, v in fp.items()
                           if k.startswith(macro_dirs) or k.endswith(("_project.yml",
                                                                        "packages.yml"))),
                    self.cli_vars, self.target_name))
        if env != getattr(self, "_extraction_env", None):
            self._extraction_env = env
            self._extractions: dict[Any, Any] = {}
        return self._extractions

    def _default_database(self, target: str | None) -> str:
        # keyed by output name: a notebook's `--target` changes what None means
        name = self.output(target).name
        if name not in self._databases:
            self._databases[name] = self._database_of(name)
        return self._databases[name]

    def _database_of(self, target: str | None) -> str:
        output = self.output(target)
        if output.type in ("duckdb", "sqlite"):
            # the catalog name DuckDB gives the file (SQLite: its stem): known without connecting
            return self.adapter(target).database
        return str(output.settings.get("database") or output.settings.get("dbname") or
                   output.settings.get("catalog") or "")

    def _make_compiler(self, manifest: Manifest, registry: MacroRegistry) -> Compiler:
        return Compiler(
            manifest, registry,
            project_name=self.project.name,
            profile_name=self.project.profile,
            cli_vars=self.cli_vars,
            project_vars=self._vars_for_package,
            output_for=self.output,
            adapter_for=self.adapter,
            events=self.events,
            flags=self.flags,
            dispatch_config=self.project.dispatch,
        )

    def _vars_for_package(self, package: str) -> dict[str, Any]:
        return self.project.project_vars(self.cli_vars) if package == self.project.name else \
            {**{k: v for k, v in self.project.vars.items() if not isinstance(v, dict)},
             **(self.project.vars.get(package) or {}), **self.cli_vars}

    # -- planning -----------------------------------------------------------------------
    def force_seed_target(self, target: str | None) -> None:
        """`seed --target X` puts the seeds on X (re-parsing: schema and database follow
        the target); without --target each seed keeps its own config."""
        if target != self.seed_target:
            self.seed_target = target
            if self._manifest is not None:
                self.parse()

    def spark_conf(self) -> dict[str, Any]:
        """Spark settings: the project's `spark:` (dbt/dvt_project.yml), then the profile's."""
        conf = {str(k): v for k, v in (self.project.spark or {}).items()}
        conf.update({str(k): v for k, v in self.profile.spark.items()})
        return conf

    def execution_plans(self, unique_ids: Iterable[str] | None = None
                        ) -> dict[str, ExecutionPlan]:
        """Each node's path (pushdown or federation), its target and its foreign inputs."""
        from dvt_engine.planner import plan_nodes

        profile = self.profile
        return plan_nodes(self.manifest, profile.outputs, profile.target_name,
                          self.project_dir, unique_ids,
                          relation_of=lambda n: str(self.compiler.relation_of(n)))

    @property
    def compiler(self) -> Compiler:
        self.manifest  # noqa: B018 - parse on first use
        assert self._compiler is not None
        return self._compiler

    @property
    def target_dir(self) -> Path:
        return self.project.target_dir

    # -- commands -----------------------------------------------------------------------
    def invoke(self, args: list[str], subscriber: Callable[..., Any] | None = None) -> Any:
        """Run a CLI command in this session: `invoke(["run", "-s", "orders"])`."""
        from dvt_engine.cli import run_command

        return run_command(args, session=self, subscriber=subscriber)



__all__ = ["Session", "ProjectError"]
