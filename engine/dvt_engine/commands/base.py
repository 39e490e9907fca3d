"""What every command shares: selection, the 'Found ...' event, artifacts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dvt_engine import artifacts
from dvt_engine.events import ProjectFound, RunStarted
from dvt_engine.invocation import Invocation
from dvt_engine.manifest import Manifest


def found_counts(manifest: Manifest, operations: int = 0) -> tuple[tuple[str, int], ...]:
    """dbt's 'Found 8 models, 1 analysis, 27 data tests, 3 seeds, 1 operation, 1 source,
    490 macros' (operations are the project's on-run-start/end hooks)."""
    counts = Counter(n.resource_type for n in manifest.nodes.values())
    counts["operation"] = operations
    counts["source"] = len(manifest.sources)
    parts: list[tuple[str, int]] = []
    # dbt lists types in the order it parsed their first node: singular tests (tests/*.sql)
    # come before seeds, generic tests (from YAML) after seeds and hooks
    singular = any(n.resource_type == "test" and n.test_metadata is None
                   for n in manifest.nodes.values())
    order = [("model", "model", "models"), ("snapshot", "snapshot", "snapshots"),
             ("analysis", "analysis", "analyses"), ("seed", "seed", "seeds"),
             ("operation", "operation", "operations")]
    order.insert(3 if singular else 5, ("test", "data test", "data tests"))
    for rtype, singular_name, plural in [*order, ("source", "source", "sources")]:
        n = counts.get(rtype, 0)
        if n:
            parts.append((singular_name if n == 1 else plural, n))
    parts.append(("macros", len(manifest.macros)))
    return tuple(parts)


def found_line(manifest: Manifest, operations: int = 0) -> str:
    return "Found " + ", ".join(f"{n} {label}" for label, n in found_counts(manifest,
                                                                            operations))


def announce_found(inv: Invocation, operations: int = 0) -> None:
    inv.events.emit(ProjectFound(counts=found_counts(inv.manifest, operations)))


def select_ids(inv: Invocation, default_types: tuple[str, ...],
               indirect_selection: str | None = None,
               resource_types: tuple[str, ...] | None = None) -> list[str]:
    """Apply -s/--exclude/--selector/--resource-type; warn on criteria that match nothing."""
    o = inv.options
    manifest = inv.manifest
    types = o.resource_types if resource_types is None else resource_types
    if not (o.select or o.exclude or o.selector or types) and not manifest.selectors:
        # nothing to select by: every enabled node of the command's types, which is what
        # select() returns then, without importing the selection grammar (~3 ms)
        kept = [u for nodes in (manifest.nodes, manifest.sources) for u, n in nodes.items()
                if n.resource_type in default_types]
        return manifest.topological_order(kept)
    from dvt_engine.selection import select

    chosen = select(
        manifest,
        select=list(o.select) or None,
        exclude=list(o.exclude) or None,
        selector=o.selector,
        resource_types=list(types) or None,
        default_types=default_types,
        indirect_selection=indirect_selection or o.indirect_selection or "eager",
    )
    for spec in chosen.unmatched:
        inv.events.warn(f"The selection criterion '{spec}' does not match any enabled nodes")
    return [u for u in manifest.topological_order(chosen.unique_ids)]


def write_manifest(inv: Invocation, executions: dict[str, dict[str, Any]] | None = None
                   ) -> None:
    adapter_type = None
    try:
        adapter_type = inv.output().type
    except Exception:  # noqa: BLE001 - no profile is fine for parse-only commands
        adapter_type = None
    if executions is None and adapter_type is not None:
        # DVT: every node's execution path (pushdown / federation), as the planner decides
        executions = {u: p.to_json() for u, p in inv.execution_plans().items()}
    artifacts.write_json(inv.target_dir / "manifest.json",
                         artifacts.manifest_json(inv.manifest, adapter_type, executions))


NOTHING_TO_DO = "Nothing to do. Try checking your model configs and model specification args"


def announce_run(inv: Invocation, command: str, ids: list[str]) -> int:
    """The RunStarted event (dbt's 'Concurrency: N threads' preamble); returns threads."""
    threads = inv.threads
    inv.events.emit(RunStarted(command=command, unique_ids=ids,
                               target_name=inv.profile.target_name, threads=threads))
    return threads
