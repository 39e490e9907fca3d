"""run, seed, test, build, snapshot: select nodes, execute them over the DAG, report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from dvt_engine import artifacts
from dvt_engine.commands.base import (
    NOTHING_TO_DO,
    announce_found,
    announce_run,
    select_ids,
    write_manifest,
)
from dvt_engine.errors import DvtError
from dvt_engine.events import HookFinished, HookStarted, NodeProblem, RunFinished
from dvt_engine.execution.runners import NodeExecution
from dvt_engine.invocation import Invocation
from dvt_engine.jinja.context import RenderState
from dvt_engine.manifest import Manifest, Node
from dvt_engine.results import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, RunResult
from dvt_engine.runner import NodeResult, Runner

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


def planned(node: Node, plan: ExecutionPlan | None) -> tuple[str | None, str | None]:
    """A node's target and route as planned (a federated one's route is chosen when it
    runs: staged or spark)."""
    if plan is None:
        return node.target, None
    return plan.target, "federated" if plan.is_federated else "pushdown"


def build_edges(manifest: Manifest, selected: list[str]) -> dict[str, set[str]]:
    """In build, a node waits for the tests of its ancestors, as dbt's add_test_edges: a
    test waits-edges node N when everything the test reads is upstream of N (so a
    relationships test to `b` holds back the children of `a` that also read `b`, not the
    other children of `b`). An edge to N is left out where a selected parent of N already
    waits for the test."""
    chosen = set(selected)
    ancestors: dict[str, set[str]] = {}

    def upstream(uid: str) -> set[str]:
        if uid not in ancestors:
            ancestors[uid] = manifest.ancestors(uid)
        return ancestors[uid]

    edges: dict[str, set[str]] = {}
    for uid in selected:
        node = manifest.nodes.get(uid)
        if node is None or node.resource_type != "test":
            continue
        reads = set(node.depends_on_nodes)
        below = set().union(*(manifest.descendants(p) for p in reads)) if reads else set()
        waiting = {n for n in below if n in manifest.nodes
                   and manifest.get(n).resource_type != "test" and reads <= upstream(n)}
        for child in waiting & chosen:
            if not any(p in waiting and p in chosen for p in manifest.parent_map.get(child, ())):
                edges.setdefault(child, set()).add(uid)
    return edges


def run_task(inv: Invocation, command: str, only_ids: list[str] | None = None) -> RunResult:
    events = inv.events
    options = inv.options
    started = time.perf_counter()
    manifest = inv.manifest
    announce_found(inv, len(inv.project.on_run_start) + len(inv.project.on_run_end))
    if only_ids is None:
        ids = select_ids(inv, DEFAULT_TYPES[command])
    else:
        ids = [u for u in manifest.topological_order([u for u in only_ids
                                                       if u in manifest.nodes])]
    ids = [u for u in ids if not manifest.nodes[u].is_ephemeral
           and manifest.nodes[u].resource_type in DEFAULT_TYPES[command]]
    recorded = options.replace(command=command).to_json()
    if not ids:
        events.warn(NOTHING_TO_DO)
        # dbt still writes run_results.json, with no results
        artifacts.write_json(inv.target_dir / "run_results.json",
                             artifacts.run_results_json([], time.perf_counter() - started,
                                                        recorded))
        write_manifest(inv)
        return RunResult(command, True, exit_code=EXIT_OK)
    inv.compiler.selected_resources = list(ids)
    threads = announce_run(inv, command, ids)
    plans = inv.execution_plans()  # every node's: manifest.json records them all
    executor = NodeExecution(inv, plans)
    runner = Runner(manifest, events, threads=threads, fail_fast=options.fail_fast,
                    on_cancel=inv.cancel_running)
    inv.attach(runner)  # a front end's cancel reaches it
    results: list[NodeResult] = []
    start_hooks, hook_error = _project_hooks(inv, "on_run_start")
    end_hooks: list[NodeResult] = []
    try:
        if hook_error is None:
            edges = build_edges(manifest, ids) if command == "build" else None
            try:
                results = runner.run(ids, executor.execute,
                                     lambda n: describe(n, plans.get(n.unique_id)), edges,
                                     lambda n: planned(n, plans.get(n.unique_id)))
            finally:
                executor.flush()
            end_hooks, hook_error = _project_hooks(inv, "on_run_end")
    finally:
        inv.detach(runner)
    elapsed = time.perf_counter() - started
    hook_results = start_hooks + end_hooks
    samples = _seed_samples(results) if command == "seed" and options.show else ()
    artifacts.write_json(inv.target_dir / "run_results.json",
                         artifacts.run_results_json(start_hooks + results + end_hooks, elapsed,
                                                    recorded))
    write_manifest(inv, {u: p.to_json() for u, p in plans.items()})
    ok = hook_error is None and all(r.status not in ("error", "fail", "skipped", "cancelled")
                                    for r in results)
    events.emit(run_finished(inv, command, results, hook_results, elapsed, runner.interrupted,
                             samples))
    return RunResult(command, ok, exit_code=EXIT_INTERRUPTED if runner.interrupted else
                     EXIT_OK if ok else EXIT_FAILURE, elapsed=elapsed,
                     results=start_hooks + results + end_hooks)


def _project_hooks(inv: Invocation, which: str) -> tuple[list[NodeResult], str | None]:
    """Run on-run-start / on-run-end; dbt prints and counts them like nodes."""
    hooks = [h for h in getattr(inv.project, which) if str(h).strip()]
    if not hooks:
        return [], None
    compiler = inv.compiler
    events = inv.events
    results: list[NodeResult] = []
    label = which.replace("_", "-")
    project = inv.project.name
    for i, hook in enumerate(hooks):
        name = f"{project}.{label}.{i}"
        uid = f"operation.{project}.{project}-{label}-{i}"
        events.emit(HookStarted(name=name, index=i + 1, total=len(hooks)))
        t0 = time.perf_counter()
        try:
            sql = compiler.render(str(hook), RenderState(node=None, execute=True),
                                  "dbt_project.yml")
            if sql.strip():
                inv.adapter().execute(sql)
        except DvtError as exc:
            elapsed = time.perf_counter() - t0
            events.emit(HookFinished(name=name, index=i + 1, total=len(hooks),
                                     status="error", execution_time=elapsed))
            results.append(NodeResult(uid, "error", str(exc), execution_time=elapsed,
                                      error=str(exc)))
            events.log("")
            return results, f"on-run hook {name} failed: {exc.message}"
        elapsed = time.perf_counter() - t0
        events.emit(HookFinished(name=name, index=i + 1, total=len(hooks), status="success",
                                 execution_time=elapsed))
        results.append(NodeResult(uid, "success", f"{name} passed", execution_time=elapsed,
                                  thread_id="main"))
    events.log("")
    return results, None


def run_finished(inv: Invocation, command: str, results: list[NodeResult],
                 hooks: list[NodeResult], elapsed: float, interrupted: bool,
                 samples: tuple[tuple[str, str], ...] = ()) -> RunFinished:
    """The RunFinished event of a build command: what ran, by kind, and what failed."""
    counts: Counter[tuple[str, str]] = Counter()
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
    kinds = tuple((label, v) for (_, label), v in sorted(counts.items()))
    everything = hooks + results
    status = Counter(r.status for r in everything)
    problems = tuple(_problem(inv, r) for r in everything
                     if r.status in ("error", "fail", "warn"))
    # errors first, then warnings (dbt's order)
    problems = tuple(p for p in problems if p.status != "warn") + \
        tuple(p for p in problems if p.status == "warn")
    return RunFinished(
        command=command, elapsed=elapsed, results=results, kinds=kinds, problems=problems,
        passed=status["success"] + status["pass"], warned=status["warn"],
        errored=status["error"] + status["fail"],
        skipped=status["skipped"] + status["cancelled"], total=len(everything),
        interrupted=interrupted, samples=samples)


def _seed_samples(results: list[NodeResult]) -> tuple[tuple[str, str], ...]:
    """`seed --show`: each loaded seed's name and a random sample, as agate prints it."""
    from dvt_engine.commands.show import print_table
    from dvt_engine.execution.runners import SEED_SAMPLE_ROWS

    return tuple((f"{r.node.schema}.{r.node.alias}", print_table(r.data, SEED_SAMPLE_ROWS))
                 for r in results if r.data is not None and r.node is not None)


def _problem(inv: Invocation, r: NodeResult) -> NodeProblem:
    n = r.node
    if n is None:  # a project hook
        return NodeProblem(r.status, "hook", r.unique_id, "dbt_project.yml", r.message or "")
    compiled = None
    if n.compiled_code is not None and n.resource_type in ("test", "model", "snapshot"):
        compiled = f"{inv.project.target_path}/compiled/{n.package_name}/{n.original_file_path}"
        if n.resource_type == "test" and n.test_metadata is not None:
            compiled += f"/{n.alias}.sql"
    return NodeProblem(r.status, n.resource_type, n.name, n.original_file_path,
                       r.message or "", compiled)


def _command(name: str) -> Callable[[Invocation], RunResult]:
    def command(inv: Invocation) -> RunResult:
        return run_task(inv, name)

    command.__name__ = name
    return command


COMMANDS: dict[str, Callable[[Invocation], RunResult]] = {
    name: _command(name) for name in ("run", "seed", "test", "build", "snapshot")}
