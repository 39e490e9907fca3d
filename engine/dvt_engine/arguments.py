"""The `dvt` words -> Options: one argparse parser, shared by the CLI, `Session.invoke`
and the notebook's `%dvt`. The only module that imports argparse."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from dvt_engine.errors import DvtError
from dvt_engine.options import Options


class ArgumentError(DvtError):
    kind = "Usage error"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so magics can show the error in a cell."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ArgumentError(message, hint=f"`dvt {self.prog.split()[-1]} --help` lists options")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        if message:
            print(message, file=sys.stderr)
        raise Exit(status)


class Exit(Exception):  # noqa: N818
    def __init__(self, code: int) -> None:
        self.code = code


def _vars(text: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text) if text else {}
    except yaml.YAMLError as exc:
        raise ArgumentError(f"--vars is not valid YAML: {exc}",
                            hint="e.g. --vars '{key: value}'") from None
    if not isinstance(value, dict):
        raise ArgumentError("--vars must be a YAML mapping", hint="e.g. --vars '{key: value}'")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-dir", help="the folder with dbt_project.yml")
    p.add_argument("--profiles-dir", help="the folder with profiles.yml")
    p.add_argument("--target", "-t", help="the profile output to use as the default target")
    p.add_argument("--vars", type=_vars, default={}, help="YAML mapping of project vars")
    p.add_argument("--threads", type=int, help="number of threads")
    p.add_argument("--debug", "-d", action="store_true", help="debug logs and tracebacks")
    p.add_argument("--log-format", choices=["text", "json", "default", "debug"], default="text")
    p.add_argument("--log-path", help="the folder of dvt.log (default: logs/ in the project)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--no-partial-parse", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--partial-parse", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--state", help=argparse.SUPPRESS)
    p.add_argument("--defer", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--favor-state", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--warn-error", action="store_true")
    p.add_argument("--no-version-check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--use-colors", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-use-colors", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--raise", dest="raise_on_failure", action="store_true",
                   help="(notebooks) raise an exception when the command fails")


def _selection(p: argparse.ArgumentParser, *, resource_type: bool = True) -> None:
    p.add_argument("--select", "-s", "-m", "--models", "--model", dest="select",
                   nargs="+", action="extend", metavar="SPEC")
    p.add_argument("--exclude", nargs="+", action="extend", metavar="SPEC")
    p.add_argument("--selector")
    p.add_argument("--indirect-selection", choices=["eager", "cautious", "buildable", "empty"])
    if resource_type:
        p.add_argument("--resource-type", "--resource-types", dest="resource_type", nargs="+",
                       action="extend",
                       choices=["model", "seed", "test", "snapshot", "source", "analysis",
                                "exposure", "metric", "semantic_model", "saved_query",
                                "unit_test", "all", "default"])


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fail-fast", "-x", action="store_true")
    p.add_argument("--full-refresh", "-f", action="store_true")
    p.add_argument("--empty", action="store_true", help=argparse.SUPPRESS)


class _Skip:
    """Stands in for the subparsers of commands not being run: building all of them
    costs more than some commands take."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="dvt", description="DVT: dbt-style pipelines across databases")
    parser.add_argument("--version", action="store_true")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def cmd(name: str, help_text: str, aliases: Sequence[str] = ()) -> Any:
        if only is not None and only != name and only not in aliases:
            return _Skip()
        p = sub.add_parser(name, help=help_text, aliases=list(aliases))
        _common(p)
        return p

    p = cmd("run", "build models")
    _selection(p)
    _run_flags(p)
    p = cmd("build", "seeds, models, snapshots and tests in DAG order")
    _selection(p)
    _run_flags(p)
    p.add_argument("--store-failures", action="store_true")
    p = cmd("seed", "load seed files")
    _selection(p)
    _run_flags(p)
    p.add_argument("--show", action="store_true", help="preview the loaded rows")
    p = cmd("test", "run data tests")
    _selection(p)
    _run_flags(p)
    p.add_argument("--store-failures", action="store_true")
    p = cmd("snapshot", "run snapshots")
    _selection(p)
    _run_flags(p)
    cmd("parse", "parse the project and write target/manifest.json")
    for name in ("list", "ls"):
        p = cmd(name, "list resources")
        _selection(p)
        p.add_argument("--output", "-o", choices=["name", "path", "json", "selector"],
                       default="selector")
        p.add_argument("--output-keys", nargs="+", action="extend")
    p = cmd("compile", "compile SQL to target/compiled")
    _selection(p)
    p.add_argument("--inline", help="compile this SQL instead of project nodes")
    p.add_argument("--output", "-o", choices=["text", "json"], default="text")
    p.add_argument("--full-refresh", "-f", action="store_true")
    p = cmd("show", "preview a node or a query")
    _selection(p, resource_type=False)
    p.add_argument("--inline", help="SQL to run (Jinja allowed)")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--output", "-o", choices=["text", "json"], default="text")
    p = cmd("run-operation", "run a macro")
    p.add_argument("macro")
    p.add_argument("--args", type=_vars, default={})
    p = cmd("debug", "check the project, the profile and the target's connection")
    p.add_argument("--config-dir", action="store_true")
    p.add_argument("--connection", action="store_true")
    p.add_argument("--all-targets", action="store_true",
                   help="check every output of the profile, not only the target")
    cmd("clean", "delete clean-targets")
    p = cmd("retry", "re-run what failed or was skipped last time")
    p.add_argument("--fail-fast", "-x", action="store_true")
    p = cmd("init", "create a new project")
    p.add_argument("project_name", nargs="?")
    p.add_argument("--skip-profile-setup", "-s", action="store_true")
    cmd("deps", "install packages from packages.yml")
    p = cmd("docs", "generate or serve documentation")
    p.add_argument("action", choices=["generate", "serve"])
    _selection(p)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--static", action="store_true")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--browser", action="store_true")
    p.add_argument("--no-browser", action="store_true")
    p = cmd("clone", "clone selected nodes from a state")
    _selection(p)
    p.add_argument("--full-refresh", "-f", action="store_true")
    p = cmd("source", "source commands")
    p.add_argument("action", choices=["freshness"])
    _selection(p)
    p.add_argument("--output", "-o")
    p = cmd("sync", "install the adapters and drivers the profile needs")
    p.add_argument("--dry-run", action="store_true")
    return parser


_PARSERS: dict[str | None, argparse.ArgumentParser] = {}
COMMANDS = ("run", "seed", "test", "build", "snapshot", "parse", "list", "ls", "compile",
            "show", "run-operation", "clean", "debug", "retry", "init", "deps", "docs",
            "clone", "source", "sync")


def command_first(argv: Sequence[str]) -> list[str]:
    """dbt's global flags may come before the command (`dbt --quiet run-operation m`):
    move whatever precedes the first command word after it."""
    at = next((i for i, a in enumerate(argv) if a in COMMANDS), 0)
    return [*argv[at:at + 1], *argv[:at], *argv[at + 1:]]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = command_first(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    only = first if first in COMMANDS else None  # an unknown word gets the full parser's error
    parser = _PARSERS.get(only)
    if parser is None:
        parser = _PARSERS[only] = build_parser(only)
    try:
        args = parser.parse_args(list(argv))
    except ArgumentError as exc:
        exc.hint = f"`dvt {only} --help` lists its options" if only else \
            "`dvt --help` lists the commands"
        raise
    if args.command is None:
        raise ArgumentError("no command given",
                            hint="e.g. `dvt run`, `dvt build`, `dvt --help` for all commands")
    return args


# argparse dest -> Options field, where they differ
_FIELD_OF = {"resource_type": "resource_types", "args": "macro_args"}


def parse_options(argv: Sequence[str]) -> Options:
    """The CLI's words as an Options (the notebook's `%dvt` uses this too)."""
    args = parse_args(argv)
    values = {_FIELD_OF.get(k, k): v for k, v in vars(args).items()
              if not k.startswith("_") and not callable(v)}
    values.pop("version", None)
    values.pop("partial_parse", None)
    values.pop("no_partial_parse", None)
    values.pop("no_version_check", None)
    values.pop("use_colors", None)
    values.pop("no_use_colors", None)
    values.pop("browser", None)
    if values.get("log_format") in ("default", "debug"):
        values["log_format"] = "text"
    for key in ("select", "exclude", "resource_types", "output_keys"):
        if values.get(key) is None:
            values.pop(key, None)
    known = {f.name for f in dataclasses.fields(Options)}
    unknown = set(values) - known
    if unknown:  # a flag the parser takes and Options does not: a bug, never ignored
        raise ArgumentError(f"internal error: no option for {', '.join(sorted(unknown))}")
    return Options(**values)
