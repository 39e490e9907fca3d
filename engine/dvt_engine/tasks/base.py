"""What every command shares: its result, selection, the 'Found ...' line, artifacts."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dvt_engine import artifacts
from dvt_engine.manifest import Manifest
from dvt_engine.runner import NodeResult
from dvt_engine.session import Session

EXIT_OK, EXIT_FAILURE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class CommandResult:
    command: str
    success: bool
    results: list[NodeResult] = field(default_factory=list)
    data: Any = None  # show: Arrow table; list: names; compile: SQL; ...
    exit_code: int = EXIT_OK
    elapsed: float = 0.0

    def __bool__(self) -> bool:
        return self.success


def found_line(manifest: Manifest, operations: int = 0) -> str:
    """dbt's 'Found 8 models, 1 analysis, 27 data tests, 3 seeds, 1 operation, 1 source,
    490 macros' (operations are the project's on-run-start/end hooks)."""
    counts = Counter(n.resource_type for n in manifest.nodes.values())
    counts["operation"] = operations
    counts["source"] = len(manifest.sources)
    parts = []
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
            parts.append(f"{n} {singular_name if n == 1 else plural}")
    parts.append(f"{len(manifest.macros)} macros")
    return "Found " + ", ".join(parts)


def select_ids(session: Session, args: argparse.Namespace, default_types: tuple[str, ...]
               ) -> list[str]:
    """Apply -s/--exclude/--selector/--resource-type; warn on criteria that match nothing."""
    from dvt_engine.selection import select

    manifest = session.manifest
    chosen = select(
        manifest,
        select=getattr(args, "select", None) or None,
        exclude=getattr(args, "exclude", None) or None,
        selector=getattr(args, "selector", None),
        resource_types=getattr(args, "resource_type", None) or None,
        default_types=default_types,
        indirect_selection=getattr(args, "indirect_selection", None) or "eager",
    )
    for spec in chosen.unmatched:
        session.events.log(
            f"The selection criterion '{spec}' does not match any enabled nodes", "warn")
    return [u for u in manifest.topological_order(chosen.unique_ids)]


def args_json(args: argparse.Namespace) -> dict[str, Any]:
    out = {}
    for k, v in vars(args).items():
        if k.startswith("_") or callable(v):
            continue
        out[k] = v
    return out


def write_manifest(session: Session, executions: dict[str, dict[str, Any]] | None = None
                   ) -> None:
    adapter_type = None
    try:
        adapter_type = session.output().type
    except Exception:  # noqa: BLE001 - no profile is fine for parse-only commands
        adapter_type = None
    if executions is None and adapter_type is not None:
        # DVT: every node's execution path (pushdown / federation), as the planner decides
        executions = {u: p.to_json() for u, p in session.execution_plans().items()}
    artifacts.write_json(session.target_dir / "manifest.json",
                         artifacts.manifest_json(session.manifest, adapter_type, executions))


NOTHING_TO_DO = "Nothing to do. Try checking your model configs and model specification args"


def announce_run(session: Session, args: argparse.Namespace, command: str,
                 ids: list[str]) -> int:
    """dbt's 'Concurrency: N threads' preamble and the RunStarted event; returns threads."""
    from dvt_engine.events import RunStarted

    threads = int(getattr(args, "threads", None) or session.output().threads)
    events = session.events
    events.log("")
    events.log(f"Concurrency: {threads} threads (target='{session.profile.target_name}')")
    events.log("")
    events.emit(RunStarted(command=command, unique_ids=ids,
                           target_name=session.profile.target_name, threads=threads))
    return threads
