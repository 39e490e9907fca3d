"""compile: render selected nodes (or --inline SQL) to target/compiled."""

from __future__ import annotations

import argparse
import json

from dvt_engine.errors import DvtError
from dvt_engine.jinja.context import RenderState, inject_ctes
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan
from dvt_engine.planner import describe as describe_plan
from dvt_engine.session import Session
from dvt_engine.tasks.base import CommandResult, found_line, select_ids, write_manifest
from dvt_engine.tasks.execute import NodeExecutor

COMPILE_TYPES = ("model", "test", "snapshot", "analysis")


def compile_inline(session: Session, sql: str) -> str:
    return compile_inline_inputs(session, sql)[0]


def compile_inline_inputs(session: Session, sql: str) -> tuple[str, list[Node]]:
    """Inline SQL compiled, and the nodes its ref()/source() calls resolved to."""
    state = RenderState(node=None, execute=True)
    out = session.compiler.render(sql, state, "inline")
    return inject_ctes(out, state.ctes), state.resolved


def plan_inline(session: Session, sql: str, target: str | None = None
                ) -> tuple[str, Node, ExecutionPlan]:
    """Inline SQL compiled, as a synthetic `sql_operation` node reading what it resolved
    to, and that node's plan: federation when it reads another connection than `target`
    (the default target when None), with the same identity rule as models."""
    from dvt_engine.planner import plan_node

    compiled, resolved = compile_inline_inputs(session, sql)
    project = session.project.name
    node = Node(unique_id=f"sql_operation.{project}.inline", resource_type="sql_operation",
                name="inline", package_name=project, original_file_path="inline",
                path="inline", fqn=[project, "inline"], raw_code=sql,
                config={"target": target} if target else {},
                depends_on_nodes=list(dict.fromkeys(n.unique_id for n in resolved)))
    profile = session.profile
    plan = plan_node(session.manifest, node, profile.outputs, profile.target_name,
                     session.project_dir,
                     relation_of=lambda n: str(session.compiler.relation_of(n)))
    return compiled, node, plan


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    events = session.events
    manifest = session.manifest
    events.log(found_line(manifest))
    session.flags.update(full_refresh=bool(getattr(args, "full_refresh", False)),
                         which="compile")
    if args.inline:
        concurrency_line(session, args)
        sql = compile_inline(session, args.inline)
        _print(session, None, sql, args.output)
        return CommandResult("compile", True, data=sql)
    ids = [u for u in select_ids(session, args, COMPILE_TYPES)
           if manifest.nodes.get(u) is not None and not manifest.nodes[u].is_ephemeral]
    concurrency_line(session, args)
    executor = NodeExecutor(session)
    compiled: dict[str, str] = {}
    for uid in ids:
        compiled[uid] = executor.compile(manifest.nodes[uid])
    executor.flush()
    plans = session.execution_plans()
    write_manifest(session, {u: p.to_json() for u, p in plans.items()})
    # DVT: each node's execution path, decided before anything runs
    for uid in ids:
        events.log(describe_plan(manifest, manifest.nodes[uid], plans[uid]))
        if plans[uid].is_federated and manifest.nodes[uid].resource_type == "model":
            _log_federation(session, uid, plans[uid], compiled[uid])
    for uid in printed_ids(session, args, ids):
        _print(session, manifest.nodes[uid].name, compiled[uid], args.output)
    events.log(f"Compiled {len(ids)} nodes to {session.project.target_path}/compiled", "debug")
    data: str | dict[str, str] = next(iter(compiled.values())) if len(compiled) == 1 \
        else compiled
    return CommandResult("compile", True, data=data)


def _log_federation(session: Session, uid: str, plan: ExecutionPlan, sql: str) -> None:
    """A federated model's extraction queries and Spark SQL, under its plan line."""
    from dvt_engine.tasks.federate import describe_for_compile

    try:
        text = describe_for_compile(session, session.manifest.nodes[uid], plan, sql)
    except DvtError as exc:  # the run fails on it with the node named; compile only warns
        session.events.log(f"cannot plan federation for {uid}: {exc.message}", "warn")
        return
    session.events.log(text)


def concurrency_line(session: Session, args: argparse.Namespace) -> None:
    """dbt's 'Concurrency: N threads (target=...)' and a blank line, before the output."""
    threads = int(getattr(args, "threads", None) or session.output().threads)
    session.events.log(f"Concurrency: {threads} threads (target='{session.profile.target_name}')")
    session.events.log("")


def printed_ids(session: Session, args: argparse.Namespace, ids: list[str]) -> list[str]:
    """dbt prints the nodes whose name occurs in the first --select argument (none without
    --select: compiling everything only writes files)."""
    if not args.select:
        return []
    first = args.select[0]
    return [u for u in ids if session.manifest.get(u).name in first]


def _print(session: Session, name: str | None, sql: str, output: str) -> None:
    """dbt's CompiledNode event: a header line, then the SQL (JSON with --output json)."""
    if output == "json":
        data = {"compiled": sql} if name is None else {"node": name, "compiled": sql}
        session.events.log(json.dumps(data, indent=2), "result")
        return
    session.events.log("Compiled inline node is:" if name is None
                       else f"Compiled node '{name}' is:")
    session.events.log(sql, "result")
