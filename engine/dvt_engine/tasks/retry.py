"""retry: re-run, with the same command and flags, what failed or was skipped last time.

The previous invocation is target/run_results.json: `args.which` is the command and the
other recorded args are its flags; results with a retryable status are the nodes to run.
Flags given to `retry` itself (--threads, --target, --vars, --fail-fast) win.
"""

from __future__ import annotations

import argparse
from typing import Any

from dvt_engine import artifacts
from dvt_engine.errors import DvtError
from dvt_engine.session import Session
from dvt_engine.tasks.base import CommandResult

RETRYABLE = frozenset({"error", "fail", "skipped", "cancelled", "runtime error",
                       "partial success"})
NODE_COMMANDS = ("run", "seed", "test", "build", "snapshot")
# flags of this invocation that always replace the recorded ones: they say where and how
# to run now, not what to run
_INVOCATION_FLAGS = ("project_dir", "profiles_dir", "debug", "log_format", "quiet",
                     "raise_on_failure", "use_colors", "no_use_colors", "warn_error")
# flags that replace the recorded ones only when given
_OVERRIDABLE = ("target", "threads", "vars", "fail_fast")


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    previous = artifacts.read_run_results(session.target_dir)
    if previous is None:
        raise DvtError(
            f"Could not find previous run in '{session.project.target_path}' target directory",
            hint="retry re-runs what target/run_results.json says failed: run `dvt run` "
                 "(or build, seed, test, snapshot) first.",
        )
    recorded: dict[str, Any] = dict(previous.get("args") or {})
    which = str(recorded.get("which") or recorded.get("command") or "")
    merged = merge_args(recorded, args)
    if which == "run-operation":
        return _retry_operation(session, previous, merged)
    if which not in NODE_COMMANDS:
        raise DvtError(
            f"retry cannot re-run '{which or 'unknown'}' (the command recorded in "
            f"{session.project.target_path}/run_results.json)",
            hint="retry re-runs " + ", ".join(NODE_COMMANDS) + " and run-operation.",
        )
    _apply_target_and_vars(session, merged)
    only_ids = [str(r["unique_id"]) for r in previous.get("results") or []
                if r.get("status") in RETRYABLE and r.get("unique_id")]
    from dvt_engine.tasks.run import run_task

    return run_task(session, merged, which, only_ids=only_ids)


def merge_args(recorded: dict[str, Any], current: argparse.Namespace) -> argparse.Namespace:
    """The recorded invocation's flags, with this invocation's where they apply."""
    merged = dict(recorded)
    now = vars(current)
    for key in _INVOCATION_FLAGS:
        if key in now:
            merged[key] = now[key]
    for key in _OVERRIDABLE:
        if now.get(key):  # None / {} / False mean "not given"
            merged[key] = now[key]
    merged.setdefault("vars", {})
    merged.setdefault("target", None)
    merged["vars"] = dict(merged["vars"] or {})
    return argparse.Namespace(**merged)


def _apply_target_and_vars(session: Session, merged: argparse.Namespace) -> None:
    """The session was opened with this invocation's --target/--vars: use the recorded."""
    from dvt_engine.cli import _apply_overrides

    _apply_overrides(session, merged)


def _retry_operation(session: Session, previous: dict[str, Any],
                     merged: argparse.Namespace) -> CommandResult:
    from dvt_engine.tasks import operation
    from dvt_engine.tasks.run import run_task

    failed = [r for r in previous.get("results") or [] if r.get("status") in RETRYABLE]
    if not failed or not getattr(merged, "macro", None):
        # nothing failed: dbt reports the usual nothing-to-do run
        return run_task(session, merged, "run", only_ids=[])
    _apply_target_and_vars(session, merged)
    merged.args = dict(getattr(merged, "args", None) or {})
    return operation.run(session, merged)
