"""deps: install the packages listed in packages.yml (or dependencies.yml).

`local:` packages are copied into <packages-install-path>/<their project name>, where
Session.packages() finds them. git and hub packages need the network, which DVT does not
use: each is reported as an error line naming the package (exit 1), and the local ones
are still installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.commands.clean import (
    error_result,
    load_project_only,
    render_without_profile,
)
from dvt_engine.errors import DvtError, ProjectError
from dvt_engine.events import EventBus
from dvt_engine.options import Options
from dvt_engine.project.project import PROJECT_FILES, ProjectConfig, load_project
from dvt_engine.project.yaml_io import load_yaml_file, render_values
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, CommandResult, InfoResult

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
# what copying a local package leaves out: build output and nested installs
_IGNORE = shutil.ignore_patterns("target", "dbt_packages", "dvt_packages", "logs", ".git",
                                 "*.duckdb", "*.duckdb.wal", "__pycache__")

if TYPE_CHECKING:
    from dvt_engine.session import Session


def run(options: Options, bus: EventBus, session: Session | None) -> CommandResult:
    try:
        project = load_project_only(options, session)
        render = render_without_profile(dict(options.vars or {}))
        specs = _read_packages(project, render)
    except DvtError as exc:
        return error_result("deps", bus, exc)
    if not specs:
        bus.warn("Warning: No packages were found in packages.yml")
        return CommandResult("deps", True, exit_code=EXIT_OK)
    failed = [spec for spec in specs if not _install(project, spec, render, bus)]
    if failed:
        n = len(failed)
        bus.log(f"{n} package{'s' if n != 1 else ''} could not be installed", "error")
        return InfoResult("deps", False, exit_code=EXIT_FAILURE, details={"failed": failed})
    return CommandResult("deps", True, exit_code=EXIT_OK)


def _read_packages(project: ProjectConfig, render: Any) -> list[dict[str, Any]]:
    for fname in PACKAGE_FILES:
        path = project.root / fname
        if not path.is_file():
            continue
        data = load_yaml_file(path, project.root) or {}
        if not isinstance(data, dict):
            raise ProjectError(f"{fname} must be a mapping with a `packages:` list",
                               path=fname, hint="e.g. packages:\n    - local: ../my_pkg")
        specs = render_values(data.get("packages") or [], render)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ProjectError("`packages:` must be a list of mappings", path=fname,
                               hint="e.g. packages:\n    - local: ../my_pkg")
        return specs
    return []


def _install(project: ProjectConfig, spec: dict[str, Any], render: Any, bus: EventBus) -> bool:
    """Install one package; report and return False when it cannot be."""
    if "local" in spec:
        return _install_local(project, str(spec["local"]), render, bus)
    name = _describe(spec)
    bus.log(f"Installing {name}")
    bus.log(
        f"Error installing {name}: {_kind(spec)} packages need network access, which DVT "
        "does not use. Download the package yourself and list it as `- local: <path>` in "
        "packages.yml.", "error")
    return False


def _install_local(project: ProjectConfig, local: str, render: Any, bus: EventBus) -> bool:
    source = (project.root / local).resolve()
    bus.log(f"Installing {local}")
    if not any((source / f).is_file() for f in PROJECT_FILES):
        bus.log(f"Error installing {local}: no dbt_project.yml in {source}", "error")
        return False
    try:
        name = load_project(source, render).name
    except DvtError as exc:
        bus.log(f"Error installing {local}: {exc}", "error")
        return False
    dest = project.root / project.packages_install_path / name
    if source == project.root.resolve() or source in dest.resolve().parents:
        bus.log(f"Error installing {local}: a package cannot be the project itself", "error")
        return False
    _replace_with_copy(source, dest)
    bus.log(f"Installed from <local @ {local}>")
    return True


def _replace_with_copy(source: Path, dest: Path) -> None:
    """Copy (not symlink, which Windows and some file syncs break), replacing old copies."""
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.is_dir():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest, ignore=_IGNORE)


def _kind(spec: dict[str, Any]) -> str:
    for key in ("git", "package", "tarball", "private"):
        if key in spec:
            return {"package": "hub", "private": "private git"}.get(key, key)
    return "unknown"


def _describe(spec: dict[str, Any]) -> str:
    for key in ("package", "git", "tarball", "private", "name"):
        if key in spec:
            version = spec.get("version") or spec.get("revision")
            return f"{spec[key]}" + (f"@{version}" if version else "")
    return str(spec)
