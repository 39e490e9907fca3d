"""retry: re-run, with the same command and flags, what failed or was skipped last time.

The previous invocation is target/run_results.json: `args.which` is the command and the
other recorded args are its flags; results with a retryable status are the nodes to run.
Flags given to `retry` itself (--threads, --target, --vars, --fail-fast) win.
"""

from __future__ import annotations

from typing import Any

from dvt_engine import artifacts
from dvt_engine.errors import DvtError
from dvt_engine.invocation import Invocation
from dvt_engine.options import Options
from dvt_engine.results import CommandResult

RETRYABLE = frozenset({"error", "fail", "skipped", "cancelled", "runtime error",
                       "partial success"})
NODE_COMMANDS = ("run", "seed", "test", "build", "snapshot")
# flags of this invocation that always replace the recorded ones: they say where and how
# to run now, not what to run
_INVOCATION_FLAGS = ("project_dir", "profiles_dir", "debug", "log_format", "log_path",
                     "quiet", "raise_on_failure", "warn_error")
# flags that replace the recorded ones only when given
_OVERRIDABLE = ("target", "threads", "vars", "fail_fast")


def run(inv: Invocation) -> CommandResult:
    previous = artifacts.read_run_results(inv.target_dir)
    if previous is None:
        raise DvtError(
            f"Could not find previous run in '{inv.project.target_path}' target directory",
            hint="retry re-runs what target/run_results.json says failed: run `dvt run` "
                 "(or build, seed, test, snapshot) first.",
        )
    recorded: dict[str, Any] = dict(previous.get("args") or {})
    merged = merge_options(recorded, inv.options)
    which = merged.command
    if which not in NODE_COMMANDS and which != "run-operation":
        raise DvtError(
            f"retry cannot re-run '{which or 'unknown'}' (the command recorded in "
            f"{inv.project.target_path}/run_results.json)",
            hint="retry re-runs " + ", ".join(NODE_COMMANDS) + " and run-operation.",
        )
    failed = [r for r in previous.get("results") or [] if r.get("status") in RETRYABLE]
    # the recorded invocation's target and vars: a view of the project for them
    again = inv.rerun(merged)
    from dvt_engine.commands.build import run_task

    if which == "run-operation":
        if not failed or not merged.macro:
            # nothing failed: dbt reports the usual nothing-to-do run
            return run_task(again.rerun(merged.replace(command="run")), "run", only_ids=[])
        from dvt_engine.commands import operation

        return operation.run(again)
    only_ids = [str(r["unique_id"]) for r in failed if r.get("unique_id")]
    return run_task(again, which, only_ids=only_ids)


def merge_options(recorded: dict[str, Any], current: Options) -> Options:
    """The recorded invocation's options, with this invocation's where they apply."""
    merged = Options.from_recorded(recorded)
    now = current.to_json()
    changes: dict[str, Any] = {}
    for key in _INVOCATION_FLAGS:
        changes[key] = getattr(current, key)
    for key in _OVERRIDABLE:
        if now.get(key):  # None / {} / False mean "not given"
            changes[key] = getattr(current, key)
    return merged.replace(**changes)
