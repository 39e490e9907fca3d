"""list / ls: the selected resources as names, paths, selectors or JSON."""

from __future__ import annotations

import json
from typing import Any

from dvt_engine.artifacts import node_json
from dvt_engine.commands.base import select_ids
from dvt_engine.invocation import Invocation
from dvt_engine.manifest import Node
from dvt_engine.options import Options
from dvt_engine.planner import ExecutionPlan, home_output
from dvt_engine.results import ListResult

ALL_TYPES = ("model", "seed", "test", "snapshot", "source", "analysis")


def run(inv: Invocation) -> ListResult:
    options = inv.options
    manifest = inv.manifest
    types = options.resource_types
    if "all" in types or "default" in types:
        types = ()
    output = options.output or "selector"
    # dbt lists in unique_id order: models, seeds, sources, tests (then by name)
    ids = sorted(select_ids(inv, ALL_TYPES, resource_types=types))
    plans = inv.execution_plans(ids) if output == "json" else {}
    default = inv.profile.target_name if output == "json" else ""
    lines = [_render(manifest.get(u), options, plans.get(u), default) for u in ids]
    for line in lines:
        inv.events.printed(line, "list")
    names = [manifest.get(u).search_name for u in ids]
    if not ids:
        inv.events.warn("No nodes selected!")
    return ListResult("list", True, names=names, lines=lines,
                      entries=[json.loads(line) for line in lines] if output == "json" else [])


def _render(node: Node, options: Options, plan: ExecutionPlan | None = None,
            default_target: str = "") -> str:
    output = options.output or "selector"
    if output == "name":
        return node.search_name
    if output == "path":
        return node.original_file_path
    if output == "json":
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
        if options.output_keys:
            # dbt takes "name unique_id" (one quoted arg) as well as several args
            keys = {k for key in options.output_keys for k in key.replace(",", " ").split()}
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
