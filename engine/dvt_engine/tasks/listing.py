"""list / ls: the selected resources as names, paths, selectors or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dvt_engine.artifacts import node_json
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan, home_output
from dvt_engine.session import Session
from dvt_engine.tasks.base import CommandResult, select_ids

ALL_TYPES = ("model", "seed", "test", "snapshot", "source", "analysis")


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    manifest = session.manifest
    if args.resource_type and "all" in args.resource_type:
        args.resource_type = None
    if args.resource_type and "default" in args.resource_type:
        args.resource_type = None
    # dbt lists in unique_id order: models, seeds, sources, tests (then by name)
    ids = sorted(select_ids(session, args, ALL_TYPES))
    plans = session.execution_plans(ids) if args.output == "json" else {}
    default = session.profile.target_name if args.output == "json" else ""
    lines = [_render(manifest.get(u), args, plans.get(u), default) for u in ids]
    for line in lines:
        session.events.log(line, "result")
    names = [manifest.get(u).search_name for u in ids]
    if not ids:
        session.events.log("No nodes selected!", "warn")
    return CommandResult("list", True, data=names if args.output != "json" else
                         [json.loads(line) for line in lines])


def _render(node: Node, args: argparse.Namespace, plan: ExecutionPlan | None = None,
            default_target: str = "") -> str:
    if args.output == "name":
        return node.search_name
    if args.output == "path":
        return node.original_file_path
    if args.output == "json":
        data = _json(node)
        if plan is not None:
            # DVT: where the node runs and how (the target resolved: never None here)
            data["execution"] = plan.path
            data["target"] = plan.target
            if plan.is_federated:
                data["foreign_inputs"] = [f.to_json() for f in plan.foreign_inputs]
        if node.resource_type == "source":
            data["connection"] = home_output(node, default_target)
        keys: Any = _DEFAULT_KEYS
        if args.output_keys:
            # dbt takes "name unique_id" (one quoted arg) as well as several args
            keys = {k for key in args.output_keys for k in key.replace(",", " ").split()}
        data = {k: v for k, v in data.items() if k in keys}
        return json.dumps(data, default=str)
    return ".".join(node.fqn) if node.resource_type != "source" else \
        "source:" + ".".join(node.fqn)


# dbt's ListTask.ALLOWED_KEYS: the keys printed without --output-keys
_DEFAULT_KEYS = frozenset(("alias", "name", "package_name", "depends_on", "tags", "config",
                           "resource_type", "source_name", "original_file_path", "unique_id",
                           # DVT's additions: the planner's decision, a source's connection
                           "execution", "target", "foreign_inputs", "connection"))


def _json(node: Node) -> dict[str, Any]:
    """The node's manifest entry (all keys; --output-keys picks from it), in its order."""
    return node_json(node)
