"""debug: dbt's environment / configuration / connection report for the selected target,
as dbt checks it; `--all-targets` checks every output of the profile too (DVT reads
sources from several connections), rendering each, so a missing env var or a refused
connection of any output is a failed check.

Every problem is a failed check in the report, never a traceback; secrets are never
printed (settings are redacted and secret values are scrubbed from error texts).
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import DvtError
from dvt_engine.events import EventBus
from dvt_engine.options import Options
from dvt_engine.project.profiles import Output, Profile, find_profiles_file
from dvt_engine.project.yaml_io import is_secret_key, load_yaml_file
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, CommandResult, InfoResult

if TYPE_CHECKING:
    from dvt_engine.session import Session

DVT_VERSION = "0.1.0"


@dataclass
class Report:
    """debug's checks: what it logs and what failed."""

    bus: EventBus
    failures: list[str] = field(default_factory=list)

    def log(self, msg: str, level: str = "info") -> None:
        self.bus.log(msg, level)

    def fail(self, detail: str) -> None:
        self.failures.append(detail)


def run(options: Options, bus: EventBus, session: Session | None,
        open_session: Callable[[EventBus], Session] | None) -> CommandResult:
    """With a session (a notebook's), check it; without one, open one if the project
    loads (a failure to load is a failed check, not an error)."""
    report = Report(bus)
    own_session = session is None
    if options.config_dir:
        return _config_dir(options, session, report)
    try:
        if session is None and open_session is not None:
            session = _open_session(open_session, report)
        if not options.connection:
            _environment(report)
            _files(options, session, report)
            _configuration(options, session, report)
            _dependencies(report)
        elif session is not None and not _profile_ok(session):
            _configuration(options, session, report)  # records why the profile failed
        if _profile_ok(session):
            _connections(session, report, options.all_targets)
    finally:
        if own_session and session is not None:
            session.close()
    return _finish(report)


def _open_session(open_session: Callable[[EventBus], Session], report: Report
                  ) -> Session | None:
    """A Session for the project, or None (the failure is recorded as a check)."""
    try:
        return open_session(report.bus)
    except DvtError as exc:
        report.fail(f"Project loading failed for the following reason:\n{_one_line(exc)}")
        return None
    except Exception as exc:  # noqa: BLE001 - e.g. unreadable file: still a failed check
        report.fail(f"Project loading failed for the following reason:\n{exc}")
        return None


def _profile_ok(session: Any) -> bool:
    if session is None:
        return False
    try:
        session.profile  # noqa: B018 - loads and validates profiles.yml
    except Exception:  # noqa: BLE001 - reported by _configuration
        return False
    return True


def _environment(report: Report) -> None:
    report.log(f"dvt version: {DVT_VERSION} (dbt-compatible 1.10)")
    report.log(f"python version: {sys.version.split()[0]}")
    report.log(f"python path: {sys.executable}")
    report.log(f"os info: {platform.platform()}")


def _files(options: Options, session: Any, report: Report) -> None:
    project_dir = session.project_dir if session is not None else _guess_project_dir(options)
    profiles_dir = getattr(session, "profiles_dir", None) or options.profiles_dir
    profiles_file = find_profiles_file(project_dir, profiles_dir)
    shown_dir = profiles_file.parent if profiles_file else \
        Path(profiles_dir or project_dir).expanduser()
    report.log(f"Using profiles dir at {shown_dir}")
    report.log(f"Using profiles.yml file at {profiles_file or shown_dir / 'profiles.yml'}")
    report.log(f"Using dbt_project.yml file at {project_dir / 'dbt_project.yml'}")
    if _profile_ok(session):
        output = session.output()
        report.log(f"adapter type: {output.type}")
        version = _driver_version(output.type)
        if version:
            report.log(f"adapter version: {version}")


def _guess_project_dir(options: Options) -> Path:
    return Path(options.project_dir).resolve() if options.project_dir else Path.cwd()


def _configuration(options: Options, session: Any, report: Report) -> None:
    report.log("Configuration:")
    if session is None:
        _profiles_file_only(options, report)
        report.log("  dbt_project.yml file [ERROR not found]")
        return
    try:
        session.profile  # noqa: B018
        report.log("  profiles.yml file [OK found and valid]")
    except Exception as exc:  # noqa: BLE001 - any problem is a failed check
        report.log("  profiles.yml file [ERROR invalid]")
        report.fail("Profile loading failed for the following reason:\n" +
                    _scrub(_one_line(exc), _secret_values_of_file(session)))
    report.log("  dbt_project.yml file [OK found and valid]")


def _profiles_file_only(options: Options, report: Report) -> None:
    """Without a project the profile name is unknown: check the file itself."""
    path = find_profiles_file(_guess_project_dir(options), options.profiles_dir)
    if path is None:
        report.log("  profiles.yml file [ERROR not found]")
        report.fail("Profile loading failed for the following reason:\nno profiles.yml found "
                    "(pass --profiles-dir, or put it in the project folder or ~/.dbt)")
        return
    try:
        load_yaml_file(path)
    except DvtError as exc:
        report.log("  profiles.yml file [ERROR invalid]")
        report.fail("Profile loading failed for the following reason:\n" + _one_line(exc))
        return
    report.log("  profiles.yml file [OK found and valid]")


def _dependencies(report: Report) -> None:
    report.log("Required dependencies:")
    if shutil.which("git"):
        report.log(" - git [OK found]")
    else:
        report.log(" - git [ERROR]")
        report.fail("Error from git --help: git is not installed or not on PATH "
                    "(needed by `dvt deps` for git packages)")
    report.log("")


def _connections(session: Any, report: Report, all_targets: bool) -> None:
    profile = session.profile
    default = profile.default
    report.log("Connection:")
    for key, value in sorted(_redact(default.redacted()).items()):
        if key not in ("type", "threads"):
            report.log(f"  {key}: {value}")
    report.log(f"Registered adapter: {default.type}={_driver_version(default.type) or '?'}")
    default_ok, default_text = _check_output(session, default)
    report.log(f"  Connection test: [{default_text if default_ok else 'ERROR'}]")
    report.log("")
    report.log(f"Outputs of profile '{profile.name}':")
    others = [n for n in profile.names if n != default.name]
    for name in [default.name, *others] if all_targets else [default.name]:
        if name == default.name:  # the default's own result, not checked twice
            ok, text, otype = default_ok, default_text, default.type
        else:
            ok, text, otype = _check_named(session, profile, name)
        report.log(f"  {name} ({otype}): {text if ok else 'ERROR ' + text}")
        if not ok:
            report.fail(f"Connection to output '{name}' ({otype}) failed: {text}")
    if others and not all_targets:
        # dbt checks the selected target only; an unused output may lack its env vars
        report.log(f"  not checked: {', '.join(others)} (`dvt debug --all-targets` "
                   "checks every output)")
    report.log("")


def _check_named(session: Any, profile: Profile, name: str) -> tuple[bool, str, str]:
    """(ok, text, type) for an output not yet rendered: rendering it is part of the
    check (a missing env var is a failed check naming the output and the variable)."""
    try:
        output = profile.output(name)
    except DvtError as exc:
        text = _scrub(_one_line(exc), _secret_values_of_file(session))
        return False, text, _declared_type(profile, name)
    ok, text = _check_output(session, output)
    return ok, text, output.type


def _declared_type(profile: Profile, name: str) -> str:
    try:
        return profile.output_type(name)
    except DvtError:  # no `type:`, or one that does not render
        return "?"


def _check_output(session: Any, output: Output) -> tuple[bool, str]:
    """(ok, one-line text) for one output: a real round trip through its adapter."""
    try:
        return True, str(session.adapter(output.name).debug())
    except DvtError as exc:
        text = exc.message
    except Exception as exc:  # noqa: BLE001 - driver errors of any kind
        text = f"{type(exc).__name__}: {exc}"
    return False, _scrub(" ".join(text.split()), _secret_values(output.settings))


def _finish(report: Report) -> CommandResult:
    if not report.failures:
        report.log("All checks passed!")
        return InfoResult("debug", True, exit_code=EXIT_OK)
    n = len(report.failures)
    report.log(f"{n} check{'s' if n != 1 else ''} failed:", "error")
    for detail in report.failures:
        report.log(detail, "error")
        report.log("")
    return InfoResult("debug", False, exit_code=EXIT_FAILURE,
                      details={"failures": report.failures})


def _config_dir(options: Options, session: Any, report: Report) -> CommandResult:
    project_dir = session.project_dir if session is not None else _guess_project_dir(options)
    profiles_file = find_profiles_file(project_dir, getattr(session, "profiles_dir", None)
                                       or options.profiles_dir)
    where = profiles_file.parent if profiles_file else Path("~/.dbt").expanduser()
    report.log("To view your profiles.yml file, run:")
    report.log("")
    report.log(f"{'open' if sys.platform == 'darwin' else 'xdg-open'} {where}")
    return InfoResult("debug", True, exit_code=EXIT_OK)


# -- helpers --------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, DvtError):
        where = exc.location()
        text = f"{where}: {exc.message}" if where else exc.message
        return text + (f" ({exc.hint})" if exc.hint else "")
    return str(exc)


def _driver_version(adapter_type: str) -> str | None:
    from importlib import metadata

    if adapter_type == "sqlite":  # part of Python: the library's version
        import sqlite3

        return sqlite3.sqlite_version
    try:
        return metadata.version(_DRIVERS.get(adapter_type, adapter_type))
    except metadata.PackageNotFoundError:
        return None


# the Python package that talks to each engine (whose version `debug` reports)
_DRIVERS = {"postgres": "psycopg", "snowflake": "snowflake-connector-python",
            "databricks": "databricks-sql-connector"}


def _redact(value: Any) -> Any:
    """Output.redacted() handles top-level keys; settings may nest (duckdb `settings:`)."""
    if isinstance(value, dict):
        return {k: "****" if is_secret_key(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _secret_values(value: Any, secret: bool = False) -> set[str]:
    """Every value under a secret-looking key, to scrub from driver error texts."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _secret_values(v, secret or is_secret_key(str(k)))
    elif isinstance(value, list):
        for v in value:
            out |= _secret_values(v, secret)
    elif secret and value is not None and str(value):
        out.add(str(value))
    return out


def _secret_values_of_file(session: Any) -> set[str]:
    """Secrets in profiles.yml when it could not be loaded as a Profile."""
    path = find_profiles_file(session.project_dir, session.profiles_dir)
    try:
        return _secret_values(load_yaml_file(path)) if path else set()
    except Exception:  # noqa: BLE001 - unreadable YAML has no secrets to scrub we can find
        return set()


def _scrub(text: str, secrets: set[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if len(s) >= 3:
            text = text.replace(s, "****")
    return text
