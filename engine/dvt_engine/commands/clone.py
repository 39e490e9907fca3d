"""clone --state DIR: make the selected nodes of another run available in this target.

For each selected model/seed/snapshot whose relation from the state manifest exists,
create a view in the current target selecting from it: dbt's fallback when the database
has no zero-copy clone. Nodes without a state relation, and targets that already exist
(without --full-refresh), are no-ops, as in dbt.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dvt_engine import artifacts
from dvt_engine.adapters import Relation
from dvt_engine.commands.base import (
    NOTHING_TO_DO,
    announce_found,
    announce_run,
    select_ids,
    write_manifest,
)
from dvt_engine.errors import DvtError, ProjectError
from dvt_engine.events import NodeProblem, RunFinished
from dvt_engine.execution import materialize as mat
from dvt_engine.invocation import Invocation
from dvt_engine.manifest import Node
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, RunResult
from dvt_engine.runner import NodeResult, Runner

CLONE_TYPES = ("model", "seed", "snapshot")


def load_state_manifest(state: str | None) -> dict[str, Any]:
    if not state:
        raise ProjectError(
            "clone needs --state: the artifacts of the run to clone from",
            hint="e.g. `dvt clone --state prod-artifacts/` where that folder holds the "
                 "manifest.json of a production run.")
    path = Path(state).expanduser() / "manifest.json"
    if not path.is_file():
        raise ProjectError(f"No manifest.json in --state {state}",
                           path=str(path),
                           hint="Copy target/manifest.json of the run to clone from into "
                                "that folder.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path} is not valid JSON: {exc.msg}", path=str(path),
                           line=exc.lineno, hint="Regenerate it with `dvt parse` or a "
                                                 "run on the other target.") from None
    return data


class Cloner:
    def __init__(self, inv: Invocation, state_nodes: dict[str, Any], full_refresh: bool
                 ) -> None:
        self.inv = inv
        self.state_nodes = state_nodes
        self.full_refresh = full_refresh

    def state_relation(self, node: Node) -> Relation | None:
        """The relation the state run built for this node, if it exists now."""
        other = self.state_nodes.get(node.unique_id)
        if not other or (other.get("config") or {}).get("materialized") == "ephemeral":
            return None
        adapter = self.inv.adapter(node.target)
        ident = other.get("alias") or other.get("name")
        if not ident or not other.get("schema"):
            return None
        return adapter.get_relation(other.get("database") or adapter.database,
                                    other["schema"], ident)

    def execute(self, node: Node) -> NodeResult:
        events = self.inv.events
        source = self.state_relation(node)
        if source is None:
            events.log(f"No relation found in state manifest for {node.unique_id}", "debug")
            return NodeResult(node.unique_id, "success", "No-op")
        adapter = self.inv.adapter(node.target)
        target = self.inv.compiler.relation_of(node)
        existing = adapter.get_relation(target.database, target.schema or "",
                                        target.identifier or "")
        same = source.matches(target.database, target.schema, target.identifier)
        if same or (existing is not None and not self.full_refresh):
            events.log(f"Relation {target} already exists", "debug")
            return NodeResult(node.unique_id, "success", "No-op", relation_name=str(target))
        adapter.create_schema(target.database, target.schema or "")
        built = mat.build_view(adapter, target, f"select * from {source}")
        return NodeResult(node.unique_id, "success", built.message,
                          adapter_response=asdict(built.response), relation_name=str(target))


def describe(node: Node) -> str:
    return f"clone {node.unique_id}"


def run(inv: Invocation) -> RunResult:
    state = load_state_manifest(inv.options.state)
    events = inv.events
    started = time.perf_counter()
    manifest = inv.manifest
    announce_found(inv)
    ids = [u for u in select_ids(inv, CLONE_TYPES)
           if u in manifest.nodes and manifest.nodes[u].resource_type in CLONE_TYPES
           and not manifest.nodes[u].is_ephemeral]
    if not ids:
        events.log("")
        events.warn(NOTHING_TO_DO)
        return RunResult("clone", True, exit_code=EXIT_OK)
    threads = announce_run(inv, "clone", ids)
    cloner = Cloner(inv, state.get("nodes") or {},
                    bool(inv.options.full_refresh))
    try:
        results = Runner(manifest, events, threads=threads).run(ids, _guard(cloner), describe)
    finally:
        for adapter in inv.adapters_in_use():
            adapter.forget_cache()
    elapsed = time.perf_counter() - started
    artifacts.write_json(inv.target_dir / "run_results.json",
                         artifacts.run_results_json(results, elapsed,
                                                    inv.options.to_json()))
    write_manifest(inv)
    events.emit(run_finished(results, elapsed))
    ok = all(r.status == "success" for r in results)
    return RunResult("clone", ok, results=results, exit_code=EXIT_OK if ok else EXIT_FAILURE,
                         elapsed=elapsed)


def run_finished(results: list[NodeResult], elapsed: float) -> RunFinished:
    """dbt's run-end lines for clone: kinds by resource type, No-op counted apart."""
    kinds = Counter(r.node.resource_type for r in results if r.node is not None)
    errors = [r for r in results if r.status != "success"]
    noop = sum(1 for r in results if r.message == "No-op")
    return RunFinished(
        command="clone", elapsed=elapsed, results=results,
        kinds=tuple(sorted(kinds.items())),
        problems=tuple(NodeProblem("error", r.node.resource_type if r.node else "",
                                   r.node.name if r.node else r.unique_id, "",
                                   r.message or "", plain=True) for r in errors),
        passed=len(results) - len(errors) - noop, errored=len(errors), no_op=noop,
        total=len(results))


def _guard(cloner: Cloner) -> Any:
    """A database error fails its node alone, with dbt's one-line reason."""

    def execute(node: Node) -> NodeResult:
        try:
            return cloner.execute(node)
        except DvtError as exc:
            text = f"{exc.kind} in {node.resource_type} {node.name} " \
                   f"({node.original_file_path})\n  {exc.message}"
            return NodeResult(node.unique_id, "error", text, error=str(exc))

    return execute
