"""profiles.yml -> Profile: named outputs (targets) and the default one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_engine.errors import ProjectError
from dvt_engine.project.yaml_io import is_secret_key, load_yaml_file, render_values


@dataclass
class Output:
    """One profile output: a connection that can be a target or a source's connection."""

    name: str
    type: str
    settings: dict[str, Any]

    @property
    def schema(self) -> str:
        return str(self.settings.get("schema") or self.settings.get("dataset") or "main")

    @property
    def threads(self) -> int:
        return int(self.settings.get("threads") or 1)

    def redacted(self) -> dict[str, Any]:
        """Settings safe to print or store: secrets replaced."""
        return {k: ("****" if is_secret_key(k) else v) for k, v in self.settings.items()}


@dataclass
class Profile:
    """profiles.yml: the outputs and the default one."""

    name: str
    target_name: str  # the run's default output
    outputs: dict[str, Output] = field(default_factory=dict)
    path: Path | None = None
    # DVT: Spark settings for federation (master, spark.remote, driver memory, any conf)
    spark: dict[str, Any] = field(default_factory=dict)

    @property
    def default(self) -> Output:
        return self.outputs[self.target_name]

    def output(self, name: str | None) -> Output:
        if name is None:
            return self.default
        if name not in self.outputs:
            raise ProjectError(
                f"The target '{name}' is not defined in profile '{self.name}'",
                hint="Defined outputs: " + ", ".join(sorted(self.outputs)),
                path=str(self.path) if self.path else None,
            )
        return self.outputs[name]


def profiles_search_path(project_dir: Path, profiles_dir: str | None) -> list[Path]:
    if profiles_dir:
        return [Path(profiles_dir).expanduser()]
    dirs: list[Path] = []
    if os.environ.get("DVT_PROFILES_DIR"):
        dirs.append(Path(os.environ["DVT_PROFILES_DIR"]).expanduser())
    if os.environ.get("DBT_PROFILES_DIR"):
        dirs.append(Path(os.environ["DBT_PROFILES_DIR"]).expanduser())
    dirs += [project_dir, Path.cwd(), Path("~/.dvt").expanduser(), Path("~/.dbt").expanduser()]
    return dirs


def find_profiles_file(project_dir: Path, profiles_dir: str | None) -> Path | None:
    for d in profiles_search_path(project_dir, profiles_dir):
        for fname in ("profiles.yml", "profiles.yaml"):
            if (d / fname).is_file():
                return d / fname
    return None


def load_profile(
    project_dir: Path,
    profile_name: str,
    profiles_dir: str | None,
    target: str | None,
    render: Any,
) -> Profile:
    path = find_profiles_file(project_dir, profiles_dir)
    if path is None:
        where = ", ".join(str(p) for p in profiles_search_path(project_dir, profiles_dir))
        raise ProjectError(
            f"Could not find profile named '{profile_name}': no profiles.yml found",
            hint=f"Looked in: {where}. Pass --profiles-dir or create profiles.yml.",
        )
    raw = load_yaml_file(path) or {}
    entry = raw.get(profile_name)
    if not isinstance(entry, dict):
        raise ProjectError(
            f"Could not find profile named '{profile_name}'",
            path=str(path),
            hint="Profiles in this file: " + ", ".join(k for k in raw if k != "config"),
        )
    entry = render_values(entry, render)
    outputs_raw = entry.get("outputs") or {}
    if not outputs_raw:
        raise ProjectError(f"Profile '{profile_name}' has no outputs", path=str(path))
    outputs = {}
    for name, settings in outputs_raw.items():
        if not isinstance(settings, dict) or "type" not in settings:
            raise ProjectError(
                f"Output '{name}' of profile '{profile_name}' has no `type`",
                path=str(path), hint="Add e.g. `type: duckdb`.",
            )
        outputs[str(name)] = Output(name=str(name), type=str(settings["type"]), settings=settings)
    target_name = target or str(entry.get("target") or next(iter(outputs)))
    profile = Profile(name=profile_name, target_name=target_name, outputs=outputs, path=path,
                      spark=dict(entry.get("spark") or {}))
    profile.output(target_name)  # validates --target
    return profile
