"""The project as one set of options sees it.

dbt_project.yml rendered with their vars, profiles.yml with their default target, and the
manifest parsed for both. A Session keeps a few of these (keyed by target, vars and
`seed --target`), so a command with other flags never changes what the next one sees,
and a notebook that alternates between two targets does not re-parse each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.jinja.context import Compiler
from dvt_engine.jinja.macros import MacroRegistry
from dvt_engine.manifest import Manifest
from dvt_engine.project.parser import (
    ParseContext,
    ProjectParser,
    iter_files,
    iter_package_files,
    load_macros,
)
from dvt_engine.project.profiles import Output, Profile, load_profile
from dvt_engine.project.project import ProjectConfig, load_project
from dvt_engine.project.yaml_io import load_yaml_file, yaml_renderer

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.events import EventBus
    from dvt_engine.planner import ExecutionPlan


# what a manifest depends on besides the files: (target, repr of the sorted vars, seed
# target); a tuple, not a dataclass, since it is only a dict key
ViewKey = tuple[str | None, str, str | None]


class ProjectView:
    """Project, profile and manifest for one (target, vars, seed target)."""

    def __init__(self, project_dir: Path, profiles_dir: str | None, target: str | None,
                 vars: Mapping[str, Any], seed_target: str | None, *,
                 adapter_for_output: Callable[[Output], Adapter], events: EventBus,
                 watch_files: bool, overlays: dict[str, str]) -> None:
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target_name = target  # None: the profile's own default
        self.vars = dict(vars)
        self.seed_target = seed_target
        self.events = events
        self.watch_files = watch_files
        self.overlays = overlays  # the session's dict: cells edit it
        self._adapter_for_output = adapter_for_output
        self._renderer: Callable[[str], Any] | None = None
        self._renderer_project: ProjectConfig | None = None
        self.project = load_project(project_dir, self.render_yaml)
        self._profile: Profile | None = None
        self._manifest: Manifest | None = None
        self._registry: MacroRegistry | None = None
        self._compiler: Compiler | None = None
        self._fingerprint: dict[str, float] | None = None
        self._parsed_overlays: dict[str, str] = {}
        self._databases: dict[str, str] = {}
        self._extraction_env: str | None = None
        self._extractions: dict[Any, Any] = {}

    def render_yaml(self, text: str) -> Any:
        # dbt_project.yml itself is rendered with the vars alone; the rest with its vars too
        project = getattr(self, "project", None)
        if self._renderer is None or self._renderer_project is not project:
            self._renderer = yaml_renderer(self.vars, project)
            self._renderer_project = project
        return self._renderer(text)

    # -- profile and adapters ---------------------------------------------------------
    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_profile(self.project_dir, self.project.profile,
                                         self.profiles_dir, self.target_name,
                                         self.render_yaml)
        return self._profile

    def output(self, name: str | None = None) -> Output:
        return self.profile.output(name)

    def adapter(self, target: str | None = None) -> Adapter:
        return self._adapter_for_output(self.output(target))

    # -- parsing ----------------------------------------------------------------------
    def packages_dir(self) -> Path | None:
        base = self.project_dir / self.project.packages_install_path
        if not base.is_dir() and "packages-install-path" not in self.project.raw:
            # packages a user installed with `dbt deps` are in dbt's default folder
            base = self.project_dir / "dbt_packages"
        return base if base.is_dir() else None

    def packages(self) -> list[ProjectConfig]:
        base = self.packages_dir()
        if base is None:
            return []
        return [load_project(d, self.render_yaml) for d in sorted(base.iterdir())
                if (d / "dbt_project.yml").is_file()]

    def _files_fingerprint(self) -> dict[str, float]:
        p = self.project
        dirs = [*p.model_paths, *p.seed_paths, *p.macro_paths, *p.test_paths,
                *p.snapshot_paths, *p.analysis_paths]
        fp = {str(f): f.stat().st_mtime for f in iter_files(self.project_dir, dirs, ("",))}
        base = self.packages_dir()
        if base is not None:  # packages are links (deps): walked through them
            fp.update((str(f), f.stat().st_mtime)
                      for f in iter_package_files(base, self.project_dir))
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

    @property
    def compiler(self) -> Compiler:
        """The compiler the manifest was parsed with (no command's flags)."""
        self.manifest  # noqa: B018 - parse on first use
        assert self._compiler is not None
        return self._compiler

    def parse(self, force: bool = False) -> Manifest:
        """Parse the project; reuse the last result when no file changed."""
        fingerprint = self._files_fingerprint() if self.watch_files else None
        if not force and self._manifest is not None and fingerprint == self._fingerprint \
                and self.overlays == self._parsed_overlays:
            return self._manifest
        self.project = load_project(self.project_dir, self.render_yaml)
        manifest = Manifest(project_name=self.project.name)
        registry = MacroRegistry()
        compiler = self.make_compiler(manifest, registry, {})
        packages = self.packages()
        load_macros(self.project, registry, manifest, packages)
        ctx = ParseContext(
            project=self.project, compiler=compiler, registry=registry, manifest=manifest,
            render_yaml=self.render_yaml,
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
        self._fingerprint = fingerprint
        return manifest

    def _extraction_cache(self, fingerprint: dict[str, float] | None) -> dict[Any, Any]:
        """Reuse what files rendered to last time, unless macros or the project changed."""
        fp = fingerprint or {}
        macro_dirs = tuple(str(self.project_dir / d) for d in self.project.macro_paths)
        env = repr(sorted((k, v) for k, v in fp.items()
                          if k.startswith(macro_dirs) or k.endswith(("_project.yml",
                                                                       "packages.yml"))))
        if env != self._extraction_env:
            self._extraction_env = env
            self._extractions = {}
        return self._extractions

    def _default_database(self, target: str | None) -> str:
        name = self.output(target).name
        if name not in self._databases:
            output = self.output(name)
            if output.type in ("duckdb", "sqlite"):
                # the catalog DuckDB gives the file (SQLite: its stem), known without
                # connecting
                self._databases[name] = self.adapter(name).database
            else:
                self._databases[name] = str(output.settings.get("database")
                                            or output.settings.get("dbname")
                                            or output.settings.get("catalog") or "")
        return self._databases[name]

    def make_compiler(self, manifest: Manifest, registry: MacroRegistry,
                      flags: Mapping[str, Any]) -> Compiler:
        return Compiler(
            manifest, registry,
            project_name=self.project.name,
            profile_name=self.project.profile,
            cli_vars=self.vars,
            project_vars=self.vars_for_package,
            output_for=self.output,
            adapter_for=self.adapter,
            events=self.events,
            flags=dict(flags),
            dispatch_config=self.project.dispatch,
        )

    def compiler_with(self, flags: Mapping[str, Any]) -> Compiler:
        """A compiler over the parsed manifest whose `flags` are one command's."""
        manifest = self.manifest
        assert self._registry is not None
        return self.make_compiler(manifest, self._registry, flags)

    def vars_for_package(self, package: str) -> dict[str, Any]:
        if package == self.project.name:
            return self.project.project_vars(self.vars)
        return {**{k: v for k, v in self.project.vars.items() if not isinstance(v, dict)},
                **(self.project.vars.get(package) or {}), **self.vars}

    # -- planning ---------------------------------------------------------------------
    def spark_conf(self) -> dict[str, Any]:
        """Spark settings: the project's `spark:` (dbt/dvt_project.yml), then the
        profile's."""
        conf = {str(k): v for k, v in (self.project.spark or {}).items()}
        conf.update({str(k): v for k, v in self.profile.spark.items()})
        return conf

    def execution_plans(self, unique_ids: Iterable[str] | None = None
                        ) -> dict[str, ExecutionPlan]:
        """Each node's path (pushdown or federation), its target and foreign inputs."""
        from dvt_engine.planner import plan_nodes

        profile = self.profile
        compiler = self.compiler
        return plan_nodes(self.manifest, profile.outputs, profile.target_name,
                          self.project_dir, unique_ids,
                          relation_of=lambda n: str(compiler.relation_of(n)))


def view_key(target: str | None, vars: Mapping[str, Any], seed_target: str | None
             ) -> ViewKey:
    return (target, repr(sorted(vars.items(), key=lambda kv: str(kv[0]))), seed_target)
