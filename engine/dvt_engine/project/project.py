"""dbt_project.yml -> ProjectConfig, and finding the project directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_engine.errors import ProjectError
from dvt_engine.project.yaml_io import load_yaml_file, render_values

PROJECT_FILES = ("dbt_project.yml", "dvt_project.yml")


@dataclass(eq=False, repr=False)
class ProjectConfig:
    """dbt_project.yml, read and rendered."""

    def __repr__(self) -> str:
        return f"ProjectConfig({self.name!r}, root={str(self.root)!r})"

    root: Path
    name: str
    profile: str
    version: str = "1.0"
    model_paths: list[str] = field(default_factory=lambda: ["models"])
    seed_paths: list[str] = field(default_factory=lambda: ["seeds"])
    macro_paths: list[str] = field(default_factory=lambda: ["macros"])
    test_paths: list[str] = field(default_factory=lambda: ["tests"])
    snapshot_paths: list[str] = field(default_factory=lambda: ["snapshots"])
    analysis_paths: list[str] = field(default_factory=lambda: ["analyses"])
    docs_paths: list[str] | None = None
    target_path: str = "target"
    log_path: str = "logs"
    packages_install_path: str = "dvt_packages"
    clean_targets: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    trees: dict[str, Any] = field(default_factory=dict)  # models:, seeds:, ... config trees
    on_run_start: list[str] = field(default_factory=list)
    on_run_end: list[str] = field(default_factory=list)
    dispatch: list[dict[str, Any]] = field(default_factory=list)
    quoting: dict[str, Any] = field(default_factory=dict)
    spark: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def target_dir(self) -> Path:
        return self.root / self.target_path

    def project_vars(self, cli_vars: dict[str, Any]) -> dict[str, Any]:
        """Global vars, then this project's scoped vars, then --vars (highest)."""
        out = {k: v for k, v in self.vars.items() if not isinstance(v, dict) or k != self.name}
        scoped = self.vars.get(self.name)
        if isinstance(scoped, dict):
            out.update(scoped)
        out.update(cli_vars)
        return out


def find_project_dir(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if any((d / f).is_file() for f in PROJECT_FILES):
            return d
    raise ProjectError(
        f"No dbt_project.yml found at expected path {here / 'dbt_project.yml'}",
        hint="Run from inside a project, or pass --project-dir. `dvt init NAME` creates one.",
    )


def _as_list(value: Any, default: list[str]) -> list[str]:
    if value is None:
        return default
    return [value] if isinstance(value, str) else list(value)


def load_project(root: Path, render: Any) -> ProjectConfig:
    """Read dbt_project.yml in `root`; `render(text)` evaluates env_var()/var() in values."""
    path = next((root / f for f in PROJECT_FILES if (root / f).is_file()), None)
    if path is None:
        raise ProjectError(
            f"No dbt_project.yml found at expected path {root / 'dbt_project.yml'}",
            hint="Pass --project-dir pointing at the folder with dbt_project.yml.",
        )
    raw = load_yaml_file(path, root) or {}
    if not isinstance(raw, dict):
        raise ProjectError("dbt_project.yml must be a mapping", path=path.name)
    # vars and config trees keep their Jinja: dbt renders those later, per node
    late = {k: raw.get(k) for k in ("vars", "models", "seeds", "snapshots", "data_tests",
                                     "tests", "sources", "analyses", "on-run-start",
                                     "on-run-end")}
    rest = render_values({k: v for k, v in raw.items() if k not in late}, render)
    name = rest.get("name")
    if not name:
        raise ProjectError("dbt_project.yml has no `name`", path=path.name,
                           hint="Add `name: my_project` at the top.")
    target_path = rest.get("target-path") or "target"
    packages_path = rest.get("packages-install-path") or "dvt_packages"
    trees = {k: late.get(k) or {} for k in ("models", "seeds", "snapshots", "sources", "analyses")}
    trees["data_tests"] = late.get("data_tests") or late.get("tests") or {}
    return ProjectConfig(
        root=root,
        name=str(name),
        profile=str(rest.get("profile") or name),
        version=str(rest.get("version", "1.0")),
        model_paths=_as_list(rest.get("model-paths") or rest.get("source-paths"), ["models"]),
        seed_paths=_as_list(rest.get("seed-paths") or rest.get("data-paths"), ["seeds"]),
        macro_paths=_as_list(rest.get("macro-paths"), ["macros"]),
        test_paths=_as_list(rest.get("test-paths"), ["tests"]),
        snapshot_paths=_as_list(rest.get("snapshot-paths"), ["snapshots"]),
        analysis_paths=_as_list(rest.get("analysis-paths"), ["analyses"]),
        docs_paths=rest.get("docs-paths"),
        target_path=target_path,
        log_path=str(rest.get("log-path") or "logs"),
        packages_install_path=packages_path,
        clean_targets=_as_list(rest.get("clean-targets"), [target_path, packages_path]),
        vars=late.get("vars") or {},
        trees=trees,
        on_run_start=_as_list(late.get("on-run-start"), []),
        on_run_end=_as_list(late.get("on-run-end"), []),
        dispatch=rest.get("dispatch") or [],
        quoting=rest.get("quoting") or {},
        spark=rest.get("spark") or {},
        raw=raw,
    )
