"""dbt Hub packages (`package:` + `version:`): the hub's JSON API and tarballs.

The hub is `$DBT_PACKAGE_HUB_URL` (dbt's variable; https://hub.getdbt.com/ by default):
`api/v1/<org>/<name>.json` lists a package's versions, each with its tarball and the
packages it depends on. A package asked for several times (directly and by other
packages) gets the newest version every range allows, prereleases only when asked for,
as dbt's resolver does.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvt_engine.errors import ProjectError

DEFAULT_HUB = "https://hub.getdbt.com/"


def hub_url() -> str:
    url = os.environ.get("DBT_PACKAGE_HUB_URL") or DEFAULT_HUB
    return url if url.endswith("/") else url + "/"


@dataclass
class HubVersion:
    """One version of a hub package, as the hub describes it."""

    package: str  # org/name
    version: str
    name: str  # its project name
    tarball: str
    dependencies: list[dict[str, Any]]


def fetch_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the hub
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ProjectError(f"could not read {url}: {exc}",
                           hint="Check the network, or set DBT_PACKAGE_HUB_URL to a hub "
                                "you can reach.") from None


def versions(package: str) -> dict[str, Any]:
    """The hub's `versions` of `org/name`."""
    data = fetch_json(f"{hub_url()}api/v1/{package}.json")
    found = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(found, dict) or not found:
        raise ProjectError(f"the hub lists no versions of {package}",
                           hint="Check the package name on hub.getdbt.com.")
    return found


def _ranges(version: Any) -> list[str]:
    """A spec's `version:` (a string or a list of them) as PEP 440 specifiers."""
    items = version if isinstance(version, list) else [version]
    out = []
    for item in items:
        text = str(item).strip().replace(" ", "")
        out.append(text if text[:1] in "<>=!~" else f"=={text}")
    return out


def resolve(package: str, specs: Iterable[dict[str, Any]]) -> HubVersion:
    """The newest version of `package` that every spec's range allows."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    specs = list(specs)
    wanted = [r for s in specs for r in _ranges(s.get("version"))]
    try:
        allowed = SpecifierSet(",".join(wanted))
    except InvalidSpecifier:
        raise ProjectError(f"version {wanted} of {package} is not a version range",
                           hint="e.g. version: [\">=1.0.0\", \"<2.0.0\"]") from None
    # prereleases only when asked for, or when a range names one
    prerelease = any(s.get("install-prerelease") or s.get("install_prerelease")
                     for s in specs) or any(_names_prerelease(w) for w in wanted)
    available = versions(package)
    candidates = []
    for text, meta in available.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if allowed.contains(version, prereleases=prerelease):
            candidates.append((version, text, meta))
    if not candidates:
        raise ProjectError(
            f"Could not find a matching compatible version for package {package}\n"
            f"  Requested range: {', '.join(wanted)}\n"
            f"  Available versions: {', '.join(sorted(available, key=_sort_key))}",
            hint="Widen the version range in packages.yml.")
    _, text, meta = max(candidates, key=lambda c: c[0])
    tarball = ((meta or {}).get("downloads") or {}).get("tarball")
    if not tarball:
        raise ProjectError(f"the hub gives no tarball for {package} {text}")
    return HubVersion(package, text, str(meta.get("name") or package.split("/")[-1]),
                      str(tarball), list(meta.get("packages") or []))


def _names_prerelease(specifier: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(specifier.lstrip("<>=!~")).is_prerelease
    except InvalidVersion:
        return False


def _sort_key(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


def download(version: HubVersion, into: Path) -> Path:
    """The package's folder, downloaded and unpacked under `into`."""
    archive = into / "package.tar.gz"
    try:
        with urllib.request.urlopen(version.tarball, timeout=60) as response, \
                archive.open("wb") as out:  # noqa: S310 - the hub's tarball
            shutil.copyfileobj(response, out)
        with tarfile.open(archive) as tar:
            tar.extractall(into / "unpacked", filter="data")
    except (urllib.error.URLError, OSError, tarfile.TarError) as exc:
        raise ProjectError(f"could not download {version.package} {version.version} "
                           f"from {version.tarball}: {exc}") from None
    unpacked = into / "unpacked"
    entries = [p for p in unpacked.iterdir()]
    # GitHub's tarballs hold one folder (dbt-utils-1.1.1/)
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
