"""compile: render selected nodes (or --inline SQL) to target/compiled."""

from __future__ import annotations

import json

from dvt_engine.commands.base import announce_found, select_ids, write_manifest
from dvt_engine.errors import DvtError
from dvt_engine.events import Concurrency
from dvt_engine.execution.context import ExecutionContext
from dvt_engine.invocation import Invocation
from dvt_engine.jinja.context import RenderState, inject_ctes
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan
from dvt_engine.planner import describe as describe_plan
from dvt_engine.results import CompileResult

COMPILE_TYPES = ("model", "test", "snapshot", "analysis")


def compile_inline(inv: Invocation, sql: str) -> str:
    return compile_inline_inputs(inv, sql)[0]


def compile_inline_inputs(inv: Invocation, sql: str) -> tuple[str, list[Node]]:
    """Inline SQL compiled, and the nodes its ref()/source() calls resolved to."""
    state = RenderState(node=None, execute=True)
    out = inv.compiler.render(sql, state, "inline")
    return inject_ctes(out, state.ctes), state.resolved


def plan_inline(inv: Invocation, sql: str, target: str | None = None
                ) -> tuple[str, Node, ExecutionPlan]:
    """Inline SQL compiled, as a synthetic `sql_operation` node reading what it resolved
    to, and that node's plan: federation when it reads another connection than `target`
    (the default target when None), with the same identity rule as models."""
    from dvt_engine.planner import plan_node

    compiled, resolved = compile_inline_inputs(inv, sql)
    project = inv.project.name
    node = Node(unique_id=f"sql_operation.{project}.inline", resource_type="sql_operation",
                name="inline", package_name=project, original_file_path="inline",
                path="inline", fqn=[project, "inline"], raw_code=sql,
                config={"target": target} if target else {},
                depends_on_nodes=list(dict.fromkeys(n.unique_id for n in resolved)))
    profile = inv.profile
    compiler = inv.compiler
    plan = plan_node(inv.manifest, node, profile.outputs, profile.target_name,
                     inv.project_dir, relation_of=lambda n: str(compiler.relation_of(n)))
    return compiled, node, plan


def compile_one(inv: Invocation, unique_id: str) -> str:
    """A node's SQL compiled without writing target/compiled."""
    return ExecutionContext(inv, write_files=False).compile(inv.manifest.nodes[unique_id])


def run(inv: Invocation) -> CompileResult:
    options = inv.options
    manifest = inv.manifest
    announce_found(inv)
    if options.inline is not None:
        concurrency_line(inv)
        sql = compile_inline(inv, options.inline)
        _print(inv, None, sql)
        return CompileResult("compile", True, inline=sql)
    ids = [u for u in select_ids(inv, COMPILE_TYPES)
           if manifest.nodes.get(u) is not None]
    concurrency_line(inv)
    executor = ExecutionContext(inv)
    compiled: dict[str, str] = {}
    for uid in ids:
        compiled[uid] = executor.compile(manifest.nodes[uid])
    executor.flush()
    plans = inv.execution_plans()
    write_manifest(inv, {u: p.to_json() for u, p in plans.items()})
    # DVT: each node's execution path, decided before anything runs
    for uid in ids:
        inv.events.log(describe_plan(manifest, manifest.nodes[uid], plans[uid]))
        if plans[uid].is_federated and manifest.nodes[uid].resource_type == "model":
            _log_federation(inv, uid, plans[uid], compiled[uid])
    printed = printed_ids(inv, ids)
    for uid in printed:
        _print(inv, manifest.nodes[uid].name, compiled[uid])
    inv.events.log(f"Compiled {len(ids)} nodes to {inv.project.target_path}/compiled", "debug")
    return CompileResult("compile", True, compiled=compiled, printed=printed)


def _log_federation(inv: Invocation, uid: str, plan: ExecutionPlan, sql: str) -> None:
    """A federated model's extraction queries and Spark SQL, under its plan line."""
    from dvt_engine.execution.routes import route_for

    try:
        text = route_for(ExecutionContext(inv, write_files=False), inv.manifest.nodes[uid],
                         plan).describe(sql)
    except DvtError as exc:  # the run fails on it with the node named; compile only warns
        inv.events.warn(f"cannot plan federation for {uid}: {exc.message}", node=uid)
        return
    inv.events.log(text)


def concurrency_line(inv: Invocation) -> None:
    """dbt's 'Concurrency: N threads (target=...)' and a blank line, before the output."""
    inv.events.emit(Concurrency(threads=inv.threads, target_name=inv.profile.target_name))


def printed_ids(inv: Invocation, ids: list[str]) -> list[str]:
    """dbt prints the nodes whose name occurs in the first --select argument (none without
    --select: compiling everything only writes files)."""
    if not inv.options.select:
        return []
    first = inv.options.select[0]
    return [u for u in ids if inv.manifest.get(u).name in first]


def _print(inv: Invocation, name: str | None, sql: str) -> None:
    """dbt's CompiledNode event: a header line, then the SQL (JSON with --output json)."""
    if inv.options.output == "json":
        data = {"compiled": sql} if name is None else {"node": name, "compiled": sql}
        inv.events.printed(json.dumps(data, indent=2), "compile")
        return
    inv.events.log("Compiled inline node is:" if name is None
                   else f"Compiled node '{name}' is:")
    inv.events.printed(sql, "compile")
