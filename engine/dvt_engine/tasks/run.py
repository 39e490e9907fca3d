"""run, seed, test, build, snapshot: select nodes, execute them over the DAG, report."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import TYPE_CHECKING

from dvt_engine import artifacts
from dvt_engine.errors import DvtError
from dvt_engine.events import RunFinished
from dvt_engine.jinja.context import RenderState
from dvt_engine.manifest import Manifest, Node
from dvt_engine.runner import NodeResult, Runner
from dvt_engine.session import Session
from dvt_engine.tasks.base import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    NOTHING_TO_DO,
    CommandResult,
    announce_run,
    args_json,
    found_line,
    select_ids,
    write_manifest,
)
from dvt_engine.tasks.execute import NodeExecutor

if TYPE_CHECKING:
    from dvt_engine.planner import ExecutionPlan

DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    "run": ("model",),
    "seed": ("seed",),
    "test": ("test",),
    "snapshot": ("snapshot",),
    "build": ("model", "seed", "snapshot", "test"),
}


def describe(node: Node, plan: ExecutionPlan | None = None) -> str:
    rel = f"{node.schema}.{node.alias or node.name}"
    if node.resource_type == "model":
        if plan is not None and plan.is_federated:
            # computed in Spark and landed as a table: a federated view is a table too
            kind = "incremental" if node.materialized == "incremental" else "table"
            return f"federated {kind} model {rel}"
        return f"sql {node.materialized} model {rel}"
    if node.resource_type == "seed":
        return f"seed file {rel}"
    if node.resource_type == "snapshot":
        return f"snapshot {rel}"
    if node.resource_type == "test":
        return f"test {node.name}"
    return f"{node.resource_type} {rel}"


def build_edges(manifest: Manifest, selected: list[str]) -> dict[str, set[str]]:
    """In build, a model's tests run before its children: children wait for them."""
    chosen = set(selected)
    edges: dict[str, set[str]] = {}
    for uid in selected:
        node = manifest.nodes.get(uid)
        if node is None or node.resource_type != "test":
            continue
        upstream: set[str] | None = None
        for parent in node.depends_on_nodes:
            for child in manifest.child_map.get(parent, ()):
                if child not in chosen or manifest.get(child).resource_type == "test":
                    continue
                # a test reading two nodes (relationships) must not wait on itself through
                # a child that is also one of its own ancestors
                if upstream is None:
                    upstream = manifest.ancestors(uid)
                if child not in upstream:
                    edges.setdefault(child, set()).add(uid)
    return edges


def run_task(session: Session, args: argparse.Namespace, command: str,
             only_ids: list[str] | None = None) -> CommandResult:
    events = session.events
    started = time.perf_counter()
    # `seed --target X` loads the seeds into X; without --target each keeps its own config
    session.force_seed_target(getattr(args, "target", None) if command == "seed" else None)
    manifest = session.manifest
    events.log(found_line(manifest, len(session.project.on_run_start) +
                          len(session.project.on_run_end)))
    session.flags.update(full_refresh=bool(getattr(args, "full_refresh", False)),
                         which=command, store_failures=bool(getattr(args, "store_failures",
                                                                     False)),
                         warn_error=bool(getattr(args, "warn_error", False)))
    if only_ids is None:
        ids = select_ids(session, args, DEFAULT_TYPES[command])
    else:
        ids = [u for u in manifest.topological_order([u for u in only_ids
                                                       if u in manifest.nodes])]
    ids = [u for u in ids if not manifest.nodes[u].is_ephemeral
           and manifest.nodes[u].resource_type in DEFAULT_TYPES[command]]
    if not ids:
        events.log(NOTHING_TO_DO, "warn")
        # dbt still writes run_results.json, with no results
        artifacts.write_json(session.target_dir / "run_results.json",
                             artifacts.run_results_json([], time.perf_counter() - started,
                                                        {**args_json(args), "which": command}))
        write_manifest(session)
        return CommandResult(command, True, [], exit_code=EXIT_OK)
    threads = announce_run(session, args, command, ids)
    executor = NodeExecutor(
        session, full_refresh=bool(getattr(args, "full_refresh", False)),
        store_failures=bool(getattr(args, "store_failures", False)),
        show_seeds=bool(getattr(args, "show", False)),
        plans=session.execution_plans(ids),
    )
    runner = Runner(manifest, events, threads=threads,
                    fail_fast=bool(getattr(args, "fail_fast", False)),
                    on_cancel=session.cancel_running)
    session.runner = runner  # type: ignore[attr-defined]  # lets a front end cancel
    results: list[NodeResult] = []
    start_hooks, hook_error = _project_hooks(session, "on_run_start")
    end_hooks: list[NodeResult] = []
    if hook_error is None:
        edges = build_edges(manifest, ids) if command == "build" else None
        try:
            plans = executor.plans
            results = runner.run(ids, executor.execute,
                                 lambda n: describe(n, plans.get(n.unique_id)), edges)
        finally:
            executor.flush()
        end_hooks, hook_error = _project_hooks(session, "on_run_end")
    elapsed = time.perf_counter() - started
    hook_results = start_hooks + end_hooks
    _summary(session, results, hook_results, elapsed)
    if command == "seed" and getattr(args, "show", False):
        for r in results:
            if r.data is not None:
                events.log(f"Random sample of table: {r.node.schema}.{r.node.alias}"
                           if r.node else "")
                events.log("-" * 40)
                events.log(r.data.to_pandas().to_string(index=False))
                events.log("")
    artifacts.write_json(session.target_dir / "run_results.json",
                         artifacts.run_results_json(start_hooks + results + end_hooks, elapsed,
                                                    {**args_json(args), "which": command}))
    write_manifest(session)
    ok = hook_error is None and all(r.status not in ("error", "fail", "skipped", "cancelled")
                                    for r in results)
    events.emit(RunFinished(command=command, elapsed=elapsed, results=results))
    if runner.interrupted:
        events.log("Cancelled by ctrl-c: running statements were stopped; nothing half-built "
                   "was kept.", "error")
    return CommandResult(command, ok, start_hooks + results + end_hooks,
                         exit_code=EXIT_INTERRUPTED if runner.interrupted else
                         EXIT_OK if ok else EXIT_FAILURE,
                         elapsed=elapsed)


def _project_hooks(session: Session, which: str) -> tuple[list[NodeResult], str | None]:
    """Run on-run-start / on-run-end; dbt prints and counts them like nodes."""
    hooks = [h for h in getattr(session.project, which) if str(h).strip()]
    if not hooks:
        return [], None
    from dvt_engine.console import fancy_line

    compiler = session.compiler
    events = session.events
    results: list[NodeResult] = []
    label = which.replace("_", "-")
    for i, hook in enumerate(hooks):
        name = f"{session.project.name}.{label}.{i}"
        uid = f"operation.{session.project.name}.{session.project.name}-{label}-{i}"
        events.log(fancy_line(f"START hook: {name}", "RUN", i + 1, len(hooks)))
        t0 = time.perf_counter()
        try:
            sql = compiler.render(str(hook), RenderState(node=None, execute=True),
                                  "dbt_project.yml")
            if sql.strip():
                session.adapter().execute(sql)
        except DvtError as exc:
            elapsed = time.perf_counter() - t0
            events.log(fancy_line(f"ERROR hook: {name}", "ERROR", i + 1, len(hooks), elapsed),
                       "error")
            results.append(NodeResult(uid, "error", str(exc), execution_time=elapsed,
                                      error=str(exc)))
            events.log("")
            return results, f"on-run hook {name} failed: {exc.message}"
        elapsed = time.perf_counter() - t0
        events.log(fancy_line(f"OK hook: {name}", "OK", i + 1, len(hooks), elapsed))
        results.append(NodeResult(uid, "success", f"{name} passed", execution_time=elapsed,
                                  thread_id="main"))
    events.log("")
    return results, None


def _summary(session: Session, results: list[NodeResult], hooks: list[NodeResult],
             elapsed: float) -> None:
    events = session.events
    counts: Counter[str] = Counter()
    for r in results:
        n = r.node
        if n is None:
            continue
        if n.resource_type == "model":
            counts[(n.materialized, f"{n.materialized} model")] += 1
        elif n.resource_type == "test":
            counts[("test", "data test")] += 1
        else:
            counts[(n.resource_type, n.resource_type)] += 1
    if hooks:
        counts[("project hook", "project hook")] += len(hooks)
    # dbt orders the kinds by their internal key: incremental, project hook, seed, table, ...
    parts = [f"{v} {label}{'s' if v != 1 else ''}" for (_, label), v in sorted(counts.items())]
    hours, rem = divmod(elapsed, 3600)
    minutes, seconds = divmod(rem, 60)
    events.log("")
    events.log(f"Finished running {', '.join(parts)} in {int(hours)} hours {int(minutes)} "
               f"minutes and {seconds:0.2f} seconds ({elapsed:0.2f}s).")
    everything = hooks + results
    status = Counter(r.status for r in everything)
    errors = [r for r in everything if r.status in ("error", "fail")]
    warns = [r for r in everything if r.status == "warn"]
    events.log("")
    if not errors and not warns:
        events.log("Completed successfully")
    elif not errors:
        events.log(f"Completed with {len(warns)} warning{'s' if len(warns) != 1 else ''}:",
                   "warn")
    else:
        events.log(f"Completed with {len(errors)} error{'s' if len(errors) != 1 else ''}, 0 "
                   f"partial successes, and {len(warns)} warning"
                   f"{'s' if len(warns) != 1 else ''}:", "error")
    for r in errors + warns:
        _explain(session, r)
    events.log("")
    passed = status["success"] + status["pass"]
    events.log(
        f"Done. PASS={passed} WARN={status['warn']} ERROR={status['error'] + status['fail']} "
        f"SKIP={status['skipped'] + status['cancelled']} NO-OP=0 TOTAL={len(everything)}"
    )


def _explain(session: Session, r: NodeResult) -> None:
    """The 'Failure in ...' / 'Warning in ...' block for one node."""
    events = session.events
    n = r.node
    level = "error" if r.status in ("error", "fail") else "warn"
    events.log("")
    if n is None:  # a project hook
        events.log(r.message or "", level)
        return
    if n.resource_type == "test" and r.status in ("fail", "warn"):
        label = "Failure" if r.status == "fail" else "Warning"
        events.log(f"{label} in test {n.name} ({n.original_file_path})", level)
        events.log(f"  {r.message}" if label == "Failure" else str(r.message), level)
    else:
        events.log(f"Failure in {n.resource_type} {n.name} ({n.original_file_path})", level)
        events.log(_indent(r.message or ""), level)
    if n.compiled_code is not None and n.resource_type in ("test", "model", "snapshot"):
        path = f"{session.project.target_path}/compiled/{n.package_name}/{n.original_file_path}"
        if n.resource_type == "test" and n.test_metadata is not None:
            path += f"/{n.alias}.sql"
        events.log("")
        events.log(f"  compiled code at {path}", level)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.split("\n"))


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    return run_task(session, args, "run")


def seed(session: Session, args: argparse.Namespace) -> CommandResult:
    return run_task(session, args, "seed")


def test(session: Session, args: argparse.Namespace) -> CommandResult:
    return run_task(session, args, "test")


def build(session: Session, args: argparse.Namespace) -> CommandResult:
    return run_task(session, args, "build")


def snapshot(session: Session, args: argparse.Namespace) -> CommandResult:
    return run_task(session, args, "snapshot")
