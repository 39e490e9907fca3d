"""deps: install the packages listed in packages.yml (or dependencies.yml), as dbt 1.10 does.

A `local:` package is linked as <packages-install-path>/<its project name>: a symlink to
its folder, as dbt's LocalPackage makes, or a copy where links fail (Windows without
developer mode). The package may be anywhere, the project's parent included (a package's
own integration_tests project lists `local: ../`). Its own packages.yml is read too, and
what it lists is installed next to it, each folder once. dbt 1.10 resolves a nested
`local:` path from the root project (dbt-core#5410); DVT does too, and only when nothing
is there tries the folder of the package that lists it.

A `git:` package is cloned (any URL git takes: https, ssh, a local path), checked out at
its `revision` (a branch, tag or commit; the default branch when none, with dbt's warning
that it is not pinned), and its `subdirectory` (or the whole repository) copied in.

A hub package (`package:` + `version:`) is resolved through the hub's API (hub.py):
the newest version every range asking for it allows, its own dependencies too, and its
tarball unpacked in. A package that cannot be had is an error line naming it (exit 1),
and the others are still installed. When none failed, package-lock.yml is written as dbt
1.7+ writes it, when it is missing or packages.yml changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dvt_engine.commands import hub
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
LOCK_FILE = "package-lock.yml"
# what a copy of a local package leaves out: build output and nested installs
_IGNORE = shutil.ignore_patterns("target", "dbt_packages", "dvt_packages", "logs", ".git",
                                 "*.duckdb", "*.duckdb.wal", "__pycache__")

if TYPE_CHECKING:
    from dvt_engine.session import Session


@dataclass
class LocalPackage:
    """A `local:` package found on disk."""

    local: str  # as written in packages.yml
    source: Path  # its folder, resolved
    name: str  # its project name: the folder it is installed as
    locked: str  # its `local:` in package-lock.yml: a path from the root project


@dataclass
class GitPackage:
    """A `git:` package, cloned into a download folder."""

    git: str  # the URL as written
    revision: str | None  # as written; None: the default branch
    subdirectory: str | None
    source: Path  # the package's folder in the clone
    name: str  # its project name
    commit: str  # what the revision resolved to: package-lock.yml pins it

    @property
    def label(self) -> str:
        return f"{self.git}/{self.subdirectory}" if self.subdirectory else self.git


def run(options: Options, bus: EventBus, session: Session | None) -> CommandResult:
    try:
        project = load_project_only(options, session)
        render = render_without_profile(dict(options.vars or {}))
        specs, raw_specs = read_packages(project.root, render)
    except DvtError as exc:
        return error_result("deps", bus, exc)
    if not specs:
        bus.warn("Warning: No packages were found in packages.yml")
        return CommandResult("deps", True, exit_code=EXIT_OK)
    locked = _locked_packages(project.root, specs, raw_specs)
    with tempfile.TemporaryDirectory(prefix="dvt-deps-") as downloads:
        # an up-to-date package-lock.yml is what gets installed (every package, pinned),
        # as dbt does; else packages.yml is resolved and the lock written
        found, failed = resolve(project, locked if locked is not None else specs, render,
                                Path(downloads), bus, follow=locked is None)
        if not failed:
            _lock(project.root, specs, raw_specs, found, bus)
        for package in found:
            if isinstance(package, HubPackage):
                bus.log(f"Installing {package.package}")
                _install_copy(project, package)
                bus.log(f"Installed from version {package.version}")
                continue
            if isinstance(package, GitPackage):
                bus.log(f"Installing {package.label}")
                _install_copy(project, package)
                bus.log(f"Installed from revision {package.commit}")
                if package.subdirectory:
                    bus.log(f"and subdirectory {package.subdirectory}")
                continue
            bus.log(f"Installing {package.local}")
            _install_local(project, package, bus)
            bus.log(f"Installed from <local @ {package.local}>")
    for label, why in failed:
        bus.log(f"Installing {label}")
        bus.log(f"Error installing {label}: {why}", "error")
    if failed:
        n = len(failed)
        bus.log(f"{n} package{'s' if n != 1 else ''} could not be installed", "error")
        return InfoResult("deps", False, exit_code=EXIT_FAILURE,
                          details={"failed": [label for label, _ in failed]})
    return CommandResult("deps", True, exit_code=EXIT_OK)


def read_packages(root: Path, render: Callable[[str], Any]
                  ) -> tuple[list[dict[str, Any]], list[Any]]:
    """A project's package specs, rendered, and as written (the lock's hash uses both)."""
    for fname in PACKAGE_FILES:
        path = root / fname
        if not path.is_file():
            continue
        data = load_yaml_file(path, root) or {}
        if not isinstance(data, dict):
            raise ProjectError(f"{fname} must be a mapping with a `packages:` list",
                               path=str(path), hint="e.g. packages:\n    - local: ../my_pkg")
        raw = data.get("packages") or []
        specs = render_values(raw, render)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ProjectError("`packages:` must be a list of mappings", path=str(path),
                               hint="e.g. packages:\n    - local: ../my_pkg")
        return specs, raw
    return [], []


@dataclass
class HubPackage:
    """A hub package at the version its ranges resolved to, unpacked for install."""

    package: str  # org/name
    version: str
    name: str
    source: Path

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}"


Package = LocalPackage | GitPackage | HubPackage


def resolve(project: ProjectConfig, specs: list[dict[str, Any]], render: Callable[[str], Any],
            downloads: Path, bus: EventBus | None = None, follow: bool = True
            ) -> tuple[list[Package], list[tuple[str, str]]]:
    """Every package, the ones packages list included (breadth first, as dbt's
    resolve_packages), and (label, reason) for each that cannot be installed. git
    packages are cloned into `downloads`."""
    root = project.root.resolve()
    found: dict[Path, Package] = {}
    failed: list[tuple[str, str]] = []
    pending = [(spec, root) for spec in specs]
    hub_wanted: dict[str, list[dict[str, Any]]] = {}
    hub_chosen: dict[str, hub.HubVersion] = {}
    while True:
        while pending:
            spec, listed_in = pending.pop(0)
            if "package" in spec:  # resolved once every range asking for it is in
                hub_wanted.setdefault(str(spec["package"]), []).append(spec)
                continue
            if "git" in spec:
                try:
                    git = _clone(spec, Path(tempfile.mkdtemp(dir=downloads)) / "repo", render)
                except DvtError as exc:
                    failed.append((str(spec["git"]), exc.message))
                    continue
                clash = _name_clash(git.name, project.name, found.values())
                if clash:
                    failed.append((git.git, clash))
                    continue
                if git.revision is None and spec.get("warn-unpinned") is not False and bus:
                    bus.warn(f'The git package "{git.git}" is not pinned. This can introduce '
                             "breaking changes into your project without warning!")
                found[git.source] = git
                if follow:
                    nested, _ = read_packages(git.source, render)
                    pending += [(s, git.source) for s in nested]
                continue
            if "local" not in spec:
                failed.append((_describe(spec), f"{_kind(spec)} packages need network access, "
                               "which DVT does not use. Download the package yourself and list "
                               "it as `- local: <path>` in packages.yml."))
                continue
            local = str(spec["local"])
            source = _locate(local, root, listed_in)
            if source is None:
                failed.append((local, f"no dbt_project.yml in {_from(root, local)}"))
                continue
            if source in found:  # listed twice, or by the project it lists: once is enough
                continue
            try:
                package = load_project(source, render)
                nested, _ = read_packages(source, render)
            except DvtError as exc:
                failed.append((local, str(exc)))
                continue
            clash = _name_clash(package.name, project.name, found.values())
            if clash:
                failed.append((local, clash))
                continue
            # dbt reads a lock's paths from the root project: say so where `local` is not
            locked = local if _from(root, local) == source else os.path.relpath(source, root)
            found[source] = LocalPackage(local, source, package.name, locked)
            if follow:
                pending += [(s, source) for s in nested]
        # every range is in: resolve the hub packages; their dependencies come next
        pending = _resolve_hub(hub_wanted, hub_chosen, failed, follow) if hub_wanted else []
        if not pending:
            break
    for package, version in hub_chosen.items():
        try:
            into = Path(tempfile.mkdtemp(dir=downloads))
            source = hub.download(version, into)
        except DvtError as exc:
            failed.append((package, exc.message))
            continue
        clash = _name_clash(version.name, project.name, found.values())
        if clash:
            failed.append((package, clash))
            continue
        found[source] = HubPackage(package, version.version, version.name, source)
    return list(found.values()), failed


def _resolve_hub(wanted: dict[str, list[dict[str, Any]]], chosen: dict[str, hub.HubVersion],
                 failed: list[tuple[str, str]], follow: bool = True
                 ) -> list[tuple[dict[str, Any], Path]]:
    """Resolve each hub package whose ranges changed; the dependencies of what changed."""
    more: list[tuple[dict[str, Any], Path]] = []
    for package, specs in wanted.items():
        previous = chosen.get(package)
        try:
            version = hub.resolve(package, specs)
        except DvtError as exc:
            if not any(label == package for label, _ in failed):
                failed.append((package, exc.message))
            continue
        if previous is not None and previous.version == version.version:
            continue
        chosen[package] = version
        if follow:
            more += [(dict(dep), Path(".")) for dep in version.dependencies]
    return more


def _clone(spec: dict[str, Any], into: Path, render: Callable[[str], Any]) -> GitPackage:
    """`git clone` the package's repository and check out its revision."""
    url = str(spec["git"])
    revision = str(spec["revision"]) if spec.get("revision") is not None else None
    subdirectory = str(spec["subdirectory"]) if spec.get("subdirectory") else None
    _git(["clone", "--quiet", url, str(into)], url)
    if revision is not None:
        _git(["-C", str(into), "checkout", "--quiet", revision], url,
             hint=f"Check that {revision!r} is a branch, tag or commit of {url}.")
    source = (into / subdirectory) if subdirectory else into
    if not any((source / f).is_file() for f in PROJECT_FILES):
        where = f"{url} ({subdirectory})" if subdirectory else url
        raise ProjectError(f"no dbt_project.yml in {where}",
                           hint="Set `subdirectory:` to the package's folder in the "
                                "repository.")
    name = load_project(source, render).name
    commit = subprocess.run(["git", "-C", str(into), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return GitPackage(url, revision, subdirectory, source, name, commit or revision or "HEAD")


def _git(args: list[str], url: str, hint: str | None = None) -> None:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise ProjectError(f"git is needed to install {url}, and is not installed",
                           hint="Install git (e.g. apt-get install git).") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ProjectError(f"git {args[0] if args[0] != '-C' else args[2]} failed: "
                           + (detail[-1] if detail else f"exit {proc.returncode}"),
                           hint=hint)


def _destination(project: ProjectConfig, name: str) -> Path:
    """<packages-install-path>/<name>, with what was installed there before removed."""
    dest = project.root / project.packages_install_path / name
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.is_dir():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _install_copy(project: ProjectConfig, package: GitPackage | HubPackage) -> None:
    shutil.copytree(package.source, _destination(project, package.name), ignore=_IGNORE)


def _locate(local: str, root: Path, listed_in: Path) -> Path | None:
    """A package's folder: from the root project (dbt 1.10), else from the folder of the
    package that lists it."""
    for base in dict.fromkeys((root, listed_in)):
        source = _from(base, local)
        if any((source / f).is_file() for f in PROJECT_FILES):
            return source
    return None


def _from(base: Path, local: str) -> Path:
    return (base / Path(local).expanduser()).resolve()


def _name_clash(name: str, root_name: str, found: Iterable[Package]) -> str | None:
    # dbt's DuplicateDependencyToRootError and DuplicateProjectDependencyError
    if name == root_name:
        return (f'Found a dependency with the same name as the root project "{name}". '
                "Package names must be unique in a project. Please rename one of these "
                "packages.")
    if any(p.name == name for p in found):
        return (f'Found duplicate project "{name}". This occurs when a dependency has the '
                "same project name as some other dependency.")
    return None


def _install_local(project: ProjectConfig, package: LocalPackage, bus: EventBus) -> None:
    """A symlink, as dbt makes; a copy where the file system or OS refuses links."""
    dest = _destination(project, package.name)
    try:
        bus.log("Creating symlink to local dependency.", "debug")
        os.symlink(package.source, dest, target_is_directory=True)
    except OSError:
        bus.log("Symlinks are not available on this OS, copying dependency.", "debug")
        shutil.copytree(package.source, dest, ignore=_copy_ignore(project))


def _copy_ignore(project: ProjectConfig) -> Callable[[str, list[str]], set[str]]:
    """_IGNORE, and the project itself when the package contains it (integration_tests):
    a copy must not copy the folder it is being written into."""
    skip = {project.root.resolve(), (project.root / project.packages_install_path).resolve()}

    def ignore(folder: str, names: list[str]) -> set[str]:
        found = set(_IGNORE(folder, names))
        return found | {n for n in names if (Path(folder) / n).resolve() in skip}

    return ignore


# -- package-lock.yml -----------------------------------------------------------------


class _LockDumper(yaml.SafeDumper):
    """Lists indented under their key, as dbt's dbtPackageDumper writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


# what dbt's package contracts' to_dict writes: these keys always (None too), `name`
# when it is set, and `unrendered`
_CONTRACT_KEYS = {"local": ("local",),
                  "git": ("git", "revision", "warn-unpinned", "subdirectory"),
                  "package": ("package", "version")}


def lock_hash(specs: list[dict[str, Any]], raw_specs: list[Any]) -> str:
    """dbt's sha1_hash: each spec as its contract's to_dict, JSON with sorted keys, the
    lines sorted."""
    def contract(spec: dict[str, Any]) -> dict[str, Any]:
        kind = next((k for k in ("git", "package") if k in spec), "local")
        out = {k: spec.get(k) for k in _CONTRACT_KEYS[kind]}
        if kind == "package":
            out["install_prerelease"] = bool(spec.get("install-prerelease")
                                             or spec.get("install_prerelease"))
        return {**out, "name": spec["name"]} if spec.get("name") is not None else out

    lines = sorted(json.dumps({**contract(spec), "unrendered": raw}, sort_keys=True)
                   for spec, raw in zip(specs, raw_specs, strict=True))
    return sha1("\n".join(lines).encode("utf-8")).hexdigest()


def _locked_packages(root: Path, specs: list[dict[str, Any]], raw_specs: list[Any]
                     ) -> list[dict[str, Any]] | None:
    """package-lock.yml's packages when it was written for this packages.yml, else None."""
    path = root / LOCK_FILE
    if not path.is_file():
        return None
    try:
        data = load_yaml_file(path, root) or {}
    except DvtError:
        return None
    if not isinstance(data, dict) or data.get("sha1_hash") != lock_hash(specs, raw_specs):
        return None
    packages = data.get("packages")
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        return None
    return [{k: v for k, v in p.items() if k != "name"} for p in packages]


def _lock_entry(package: Package) -> dict[str, Any]:
    if isinstance(package, HubPackage):
        return {"package": package.package, "version": package.version, "name": package.name}
    if isinstance(package, GitPackage):  # dbt's GitPinnedPackage.to_dict, and the name
        entry: dict[str, Any] = {"git": package.git, "revision": package.commit}
        if package.subdirectory:
            entry["subdirectory"] = package.subdirectory
        return {**entry, "name": package.name}
    return {"local": package.locked, "name": package.name}


def _lock(root: Path, specs: list[dict[str, Any]], raw_specs: list[Any],
          found: list[Package], bus: EventBus) -> None:
    """Write package-lock.yml when it is missing or packages.yml changed since (dbt's
    rule; `--upgrade` is not offered: a local package has no version to upgrade)."""
    path = root / LOCK_FILE
    digest = lock_hash(specs, raw_specs)
    if path.is_file():
        try:
            old = load_yaml_file(path, root) or {}
        except DvtError:
            old = {}
        if isinstance(old, dict) and old.get("sha1_hash") == digest:
            return
    data = {"packages": [_lock_entry(p) for p in found], "sha1_hash": digest}
    path.write_text(yaml.dump(data, Dumper=_LockDumper), encoding="utf-8")
    bus.log(f"Updating lock file in file path: {path}")


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
