"""sync: install the Python drivers the profile's outputs need (and check for Java).

Reads dbt_project.yml and profiles.yml like a Session does, without connecting. Every
output type maps to pip requirements; the ones not importable are installed with this
interpreter's pip (`sys.executable -m pip install ...`). Spark (federation across
connections of different types, or a `spark` output) also needs Java, which pip cannot
install: sync only reports it. Exit 0 when everything needed is present at the end.

System packages: where Spark reads a PostgreSQL output (federation), the PostgreSQL JDBC
driver lets it read large inputs in parallel (federation/transport.py). sync installs it with
apt-get when the machine has it and may (root, or sudo without a password), else prints the
command. It is optional - federation falls back to Arrow without it - so it never fails sync.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.commands.clean import (
    error_result,
    load_project_only,
    render_without_profile,
)
from dvt_engine.errors import DvtError
from dvt_engine.events import EventBus
from dvt_engine.options import Options
from dvt_engine.project.profiles import Profile, load_profile
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, CommandResult, InfoResult

# output type -> (pip requirement, module that proves it is installed)
REQUIREMENTS: dict[str, list[tuple[str, str]]] = {
    "duckdb": [("duckdb", "duckdb"), ("duckdb-engine", "duckdb_engine")],
    "postgres": [("psycopg[binary]", "psycopg"),
                 ("adbc-driver-postgresql", "adbc_driver_postgresql")],
    # the versions that work together (shared/STANDINS.md): connector 5 and
    # snowflake-sqlalchemy 2 need each other and SQLAlchemy 2.1, which breaks the latter
    "snowflake": [("snowflake-connector-python<5", "snowflake.connector"),
                  ("snowflake-sqlalchemy<2", "snowflake.sqlalchemy"),
                  ("sqlalchemy<2.1", "sqlalchemy")],
    "databricks": [("databricks-sql-connector>=4.9,<5", "databricks.sql")],
    "spark": [("pyspark", "pyspark")],
    "sqlite": [],  # in the standard library
}
SPARK = ("pyspark", "pyspark")
# output type -> apt packages Spark uses to read it (the file is found by federation.spark)
SYSTEM_PACKAGES: dict[str, list[str]] = {"postgres": ["libpostgresql-jdbc-java"]}

if TYPE_CHECKING:
    from dvt_engine.session import Session


@dataclass
class Requirement:
    """A Python package an output needs."""

    spec: str  # what pip installs
    module: str  # what must import
    reason: str  # the output type(s) or "federation"

    @property
    def dist(self) -> str:
        return re.split(r"[\[<>=!~; ]", self.spec, maxsplit=1)[0]

    def present(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # a missing parent package
            return False

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return None


@dataclass
class SystemPackage:
    """A Debian package federation may use."""

    name: str  # the apt package
    path: Path  # the file it installs (DVT_POSTGRES_JDBC_JAR moves it)
    reason: str

    def present(self) -> bool:
        return self.path.is_file()


def system_packages(profile: Profile, needs_spark: bool) -> list[SystemPackage]:
    """The JDBC driver packages for the outputs Spark reads (only when Spark is needed)."""
    from dvt_engine.federation.spark import jdbc_jar

    if not needs_spark:
        return []
    found = []
    for otype in _output_types(profile):
        jar = jdbc_jar(otype)
        for name in SYSTEM_PACKAGES.get(otype, []):
            if jar is not None:
                found.append(SystemPackage(name, jar, f"{otype} JDBC driver for federation"))
    return found


def _output_types(profile: Profile) -> list[str]:
    """Every output's type, read without rendering the outputs: sync needs no password,
    and a driver is worth installing for an output whose env vars are not set here."""
    return sorted({profile.output_type(name) for name in profile.names})


def requirements(profile: Profile, bus: EventBus) -> tuple[list[Requirement], bool]:
    """The requirements of every output, and whether Spark (so Java) is needed."""
    by_spec: dict[str, Requirement] = {}
    types = _output_types(profile)
    for otype in types:
        known = REQUIREMENTS.get(otype)
        if known is None:
            bus.warn(f"No known drivers for output type '{otype}'; install its client "
                    "yourself")
            continue
        for spec, module in known:
            req = by_spec.setdefault(spec, Requirement(spec, module, otype))
            if otype not in req.reason.split(", "):
                req.reason += f", {otype}"
    # reading across connections of different engines runs in Spark (DESIGN §6)
    needs_spark = "spark" in types or len(types) > 1
    if needs_spark and SPARK[0] not in by_spec:
        by_spec[SPARK[0]] = Requirement(SPARK[0], SPARK[1], "federation")
    return list(by_spec.values()), needs_spark


def java_version() -> str | None:
    """The first line of `java -version`, or None when there is no Java."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stderr or proc.stdout).strip()
    return text.splitlines()[0] if proc.returncode == 0 and text else None


def pip_install(specs: list[str], bus: EventBus) -> bool:
    if importlib.util.find_spec("pip") is None:
        bus.log(f"pip is not installed in {sys.executable}; run `{sys.executable} -m "
                "ensurepip` (or `uv pip install` the packages above) and sync again", "error")
        return False
    cmd = [sys.executable, "-m", "pip", "install", *specs]
    bus.log(f"Running: {shlex.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        bus.log(line, "debug")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        bus.log(f"pip failed (exit {proc.returncode}):\n{tail}", "error")
    importlib.invalidate_caches()
    return proc.returncode == 0


def _apt_command(names: list[str]) -> tuple[list[str] | None, str]:
    """The apt-get command to run here (with `sudo -n` when not root), or None and why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "no apt-get on this machine"
    cmd = [apt, "install", "-y", *names]
    if os.geteuid() == 0:
        return cmd, ""
    sudo = shutil.which("sudo")
    if sudo is not None:
        probe = subprocess.run([sudo, "-n", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [sudo, "-n", *cmd], ""
    return None, "not root and no password-less sudo"


def apt_install(cmd: list[str], bus: EventBus) -> bool:
    """Run `cmd` (apt-get install); once more after `apt-get update` if the lists are stale."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    bus.log(f"Running: {shlex.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0 and "Unable to locate package" in proc.stderr:
        update = [*cmd[:cmd.index("install")], "update", "-qq"]
        bus.log(f"Running: {shlex.join(update)}")
        subprocess.run(update, capture_output=True, text=True, check=False, env=env)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    for line in proc.stdout.splitlines():
        bus.log(line, "debug")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        bus.warn(f"apt-get failed (exit {proc.returncode}):\n{tail}")
    return proc.returncode == 0


def _sync_system(packages: list[SystemPackage], dry_run: bool, bus: EventBus) -> list[str]:
    """Install the missing system packages where possible; the names installed."""
    missing = [p for p in packages if not p.present()]
    if not missing:
        return []
    names = [p.name for p in missing]
    cmd, why = _apt_command(names)
    shown = shlex.join(cmd or ["sudo", "apt-get", "install", "-y", *names])
    bus.log("")
    if dry_run:
        bus.log(f"Dry run: would run {shown}")
        return []
    if cmd is None:
        bus.warn(f"Cannot install {', '.join(names)} ({why}): run `{shown}` as root, or put "
                "the driver jar in spark.jars (or DVT_JDBC_JARS)")
        return []
    apt_install(cmd, bus)
    installed = [p.name for p in missing if p.present()]
    if installed:
        bus.log("Installed: " + ", ".join(installed))
    return installed


def run(options: Options, bus: EventBus, session: Session | None) -> CommandResult:
    try:
        profile = _profile(options, session)
    except DvtError as exc:
        return error_result("sync", bus, exc)
    return _sync(profile, bool(options.dry_run), bus)


def _profile(options: Options, session: Any) -> Profile:
    if session is not None:
        return session.profile  # type: ignore[no-any-return]
    project = load_project_only(options, None)
    return load_profile(project.root, project.profile, options.profiles_dir,
                        options.target,
                        render_without_profile(dict(options.vars or {})))


def _sync(profile: Profile, dry_run: bool, bus: EventBus) -> CommandResult:
    outputs = ", ".join(f"{n} ({profile.output_type(n)})" for n in profile.names)
    bus.log(f"Profile '{profile.name}' from {profile.path}: {outputs}")
    reqs, needs_spark = requirements(profile, bus)
    for req in reqs:
        _report(req, bus)
    system = system_packages(profile, needs_spark)
    for pkg in system:
        state = f"present ({pkg.path})" if pkg.present() else f"missing ({pkg.path})"
        bus.log(f"  {pkg.name + ' (apt)':<32} {state}  [{pkg.reason}]")
    java = java_version()
    if needs_spark:
        bus.log(f"  {'java':<32} {java or 'MISSING: install a JDK 17 (Spark needs it)'}")
    else:
        bus.log(f"  {'java':<32} {java or 'not found'} (not needed: no Spark)")
    missing = [r for r in reqs if not r.present()]
    installed: list[str] = []
    if missing and dry_run:
        bus.log("")
        bus.log("Dry run: would run " + shlex.join(
            [sys.executable, "-m", "pip", "install", *[r.spec for r in missing]]))
    elif missing:
        bus.log("")
        pip_install([r.spec for r in missing], bus)
        installed = [r.spec for r in missing if r.present()]
        missing = [r for r in missing if not r.present()]
        if installed:
            bus.log("Installed: " + ", ".join(installed))
    system_installed = _sync_system(system, dry_run, bus)
    system_missing = [p.name for p in system if not p.present()]
    java_missing = needs_spark and java is None
    ok = not missing and not java_missing
    bus.log("")
    if ok and not system_missing:
        bus.log("Everything the profile needs is installed.")
    elif ok:
        bus.log("Everything the profile requires is installed.")
    else:
        still = [r.spec for r in missing] + (["java (a JDK, not installable with pip)"]
                                             if java_missing else [])
        bus.log("Still missing: " + ", ".join(still), "error" if not dry_run else "warn")
    if system_missing:
        # optional: without the driver, Spark reads those inputs through Arrow
        bus.warn("Still missing (optional; federation reads through Arrow without it): "
                + ", ".join(system_missing))
    return InfoResult("sync", ok, exit_code=EXIT_OK if ok else EXIT_FAILURE,
                      details={"present": [r.spec for r in reqs if r.present()],
                               "missing": [r.spec for r in missing], "installed": installed,
                               "java": java, "needs_spark": needs_spark,
                               "system_missing": system_missing,
                               "system_installed": system_installed})


def _report(req: Requirement, bus: EventBus) -> None:
    if req.present():
        version = req.version()
        state = f"present ({version})" if version else "present"
    else:
        state = "missing"
    bus.log(f"  {req.spec:<32} {state}  [{req.reason}]")
