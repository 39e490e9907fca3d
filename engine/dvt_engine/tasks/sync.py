"""sync: install the Python drivers the profile's outputs need (and check for Java).

Reads dbt_project.yml and profiles.yml like a Session does, without connecting. Every
output type maps to pip requirements; the ones not importable are installed with this
interpreter's pip (`sys.executable -m pip install ...`). Spark (federation across
connections of different types, or a `spark` output) also needs Java, which pip cannot
install: sync only reports it. Exit 0 when everything needed is present at the end.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from dvt_engine.errors import DvtError
from dvt_engine.events import EventBus
from dvt_engine.project.profiles import Profile, load_profile
from dvt_engine.tasks.base import EXIT_FAILURE, EXIT_OK, CommandResult
from dvt_engine.tasks.clean import (
    Subscriber,
    command_events,
    error_result,
    load_project_only,
    render_without_profile,
)

# output type -> (pip requirement, module that proves it is installed)
REQUIREMENTS: dict[str, list[tuple[str, str]]] = {
    "duckdb": [("duckdb", "duckdb"), ("duckdb-engine", "duckdb_engine")],
    "postgres": [("psycopg[binary]", "psycopg"),
                 ("adbc-driver-postgresql", "adbc_driver_postgresql")],
    "snowflake": [("snowflake-connector-python<5", "snowflake.connector"),
                  ("snowflake-sqlalchemy<2", "snowflake.sqlalchemy")],
    "databricks": [("databricks-sql-connector", "databricks.sql"),
                   ("databricks-sqlalchemy", "databricks.sqlalchemy")],
    "spark": [("pyspark", "pyspark")],
    "sqlite": [],  # in the standard library
}
SPARK = ("pyspark", "pyspark")


@dataclass
class Requirement:
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


def requirements(profile: Profile, bus: EventBus) -> tuple[list[Requirement], bool]:
    """The requirements of every output, and whether Spark (so Java) is needed."""
    by_spec: dict[str, Requirement] = {}
    types = sorted({o.type for o in profile.outputs.values()})
    for otype in types:
        known = REQUIREMENTS.get(otype)
        if known is None:
            bus.log(f"No known drivers for output type '{otype}'; install its client "
                    "yourself", "warn")
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


def run(args: argparse.Namespace, session: Any = None,
        subscriber: Subscriber | None = None) -> CommandResult:
    with command_events(session, subscriber) as bus:
        try:
            profile = _profile(args, session)
        except DvtError as exc:
            return error_result("sync", bus, exc)
        return _sync(profile, bool(getattr(args, "dry_run", False)), bus)


def _profile(args: argparse.Namespace, session: Any) -> Profile:
    if session is not None:
        return session.profile  # type: ignore[no-any-return]
    project = load_project_only(args, None)
    return load_profile(project.root, project.profile, getattr(args, "profiles_dir", None),
                        getattr(args, "target", None),
                        render_without_profile(dict(getattr(args, "vars", None) or {})))


def _sync(profile: Profile, dry_run: bool, bus: EventBus) -> CommandResult:
    outputs = ", ".join(f"{o.name} ({o.type})" for o in profile.outputs.values())
    bus.log(f"Profile '{profile.name}' from {profile.path}: {outputs}")
    reqs, needs_spark = requirements(profile, bus)
    for req in reqs:
        _report(req, bus)
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
    java_missing = needs_spark and java is None
    ok = not missing and not java_missing
    bus.log("")
    if ok:
        bus.log("Everything the profile needs is installed.")
    else:
        still = [r.spec for r in missing] + (["java (a JDK, not installable with pip)"]
                                             if java_missing else [])
        bus.log("Still missing: " + ", ".join(still), "error" if not dry_run else "warn")
    return CommandResult("sync", ok, exit_code=EXIT_OK if ok else EXIT_FAILURE,
                         data={"present": [r.spec for r in reqs if r.present()],
                               "missing": [r.spec for r in missing], "installed": installed,
                               "java": java, "needs_spark": needs_spark})


def _report(req: Requirement, bus: EventBus) -> None:
    if req.present():
        version = req.version()
        state = f"present ({version})" if version else "present"
    else:
        state = "missing"
    bus.log(f"  {req.spec:<32} {state}  [{req.reason}]")
