"""profiles.yml -> Profile: named outputs (targets) and the default one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvt_engine.errors import DvtError, ProjectError
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


class Profile:
    """profiles.yml: the outputs and the default one.

    An output is rendered (env_var(), var()) and validated the first time something uses
    it, not at load: dbt renders only the selected target, so an env var that only an
    unused output needs (a Redshift password on a laptop) must not stop every command.
    DVT is multi-target, so "used" means the default target (checked at load), a node's
    `target`, a source's `connection`, or `debug --all-targets`.
    """

    def __init__(self, name: str, target_name: str, raw_outputs: Mapping[str, Any],
                 path: Path | None = None, spark: dict[str, Any] | None = None,
                 render: Callable[[str], Any] | None = None) -> None:
        self.name = name
        self.target_name = target_name  # the run's default output
        self.path = path
        # DVT: Spark settings for federation (master, spark.remote, driver memory, any conf)
        self.spark = spark or {}
        self._raw = {str(k): v for k, v in raw_outputs.items()}
        self._render = render
        self._rendered: dict[str, Output] = {}
        # a Mapping for the planner; reading a value renders that output
        self.outputs: Mapping[str, Output] = _Outputs(self)

    @property
    def names(self) -> list[str]:
        """Every output's name, without rendering any."""
        return list(self._raw)

    @property
    def default(self) -> Output:
        return self.output(self.target_name)

    def output(self, name: str | None) -> Output:
        if name is None:
            name = self.target_name
        found = self._rendered.get(name)
        if found is not None:
            return found
        if name not in self._raw:
            raise ProjectError(
                f"The target '{name}' is not defined in profile '{self.name}'",
                hint="Defined outputs: " + ", ".join(sorted(self._raw)),
                path=str(self.path) if self.path else None,
            )
        # two threads may render the same output at once: the same result, no lock needed
        self._rendered[name] = found = self._build(name)
        return found

    def output_type(self, name: str) -> str:
        """An output's `type` without rendering its other settings (sync needs no
        passwords); rendered in full only when the type itself is Jinja."""
        raw = self._raw.get(name)
        declared = raw.get("type") if isinstance(raw, dict) else None
        if name in self._rendered or not isinstance(declared, str) or "{" in declared:
            return self.output(name).type
        return declared

    def _build(self, name: str) -> Output:
        where = str(self.path) if self.path else None
        raw = self._raw[name]
        if not isinstance(raw, dict) or "type" not in raw:
            raise ProjectError(f"Output '{name}' of profile '{self.name}' has no `type`",
                               path=where, hint="Add e.g. `type: duckdb`.")
        try:
            settings = _render_settings(raw, self._render) if self._render else dict(raw)
        except DvtError as exc:
            raise ProjectError(
                f"Could not render output '{name}' of profile '{self.name}': {exc.message}",
                path=where,
                hint=(exc.hint + "; " if exc.hint else "") +
                     f"only commands that use output '{name}' need it",
            ) from None
        return Output(name=name, type=str(settings["type"]), settings=settings)


class _Outputs(Mapping[str, Output]):
    """A profile's outputs by name; reading one renders it (Profile.output)."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def __getitem__(self, name: str) -> Output:
        if name not in self._profile.names:
            raise KeyError(name)
        return self._profile.output(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._profile.names)

    def __len__(self) -> int:
        return len(self._profile.names)


def _render_settings(value: Any, render: Callable[[str], Any], key: str = "",
                     secret: bool = False) -> Any:
    """render_values, but a failure under a secret key never quotes the template (it may
    hold the secret itself); a missing env var's error names only the variable."""
    if isinstance(value, dict):
        return {k: _render_settings(v, render, str(k), secret or is_secret_key(str(k)))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_render_settings(v, render, key, secret) for v in value]
    try:
        return render_values(value, render)
    except DvtError as exc:
        if secret and not exc.message.startswith("Env var required"):
            raise ProjectError(f"could not render `{key}` (a secret: its text is not shown)",
                               hint=exc.hint or f"check the Jinja in `{key}`") from None
        raise


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
    outputs_raw = entry.get("outputs") or {}
    if not isinstance(outputs_raw, dict) or not outputs_raw:
        raise ProjectError(f"Profile '{profile_name}' has no outputs", path=str(path))
    # the profile's own keys now; each output when it is used (Profile.output)
    target_name = target or str(render_values(entry.get("target"), render)
                                or next(iter(outputs_raw)))
    profile = Profile(profile_name, target_name, outputs_raw, path=path,
                      spark=dict(render_values(entry.get("spark"), render) or {}),
                      render=render)
    profile.output(target_name)  # validates --target, renders the default output
    return profile
