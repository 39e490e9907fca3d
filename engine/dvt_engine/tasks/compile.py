"""compile: render selected nodes (or --inline SQL) to target/compiled."""

from __future__ import annotations

import argparse
import json

from dvt_engine.jinja.context import RenderState, inject_ctes
from dvt_engine.session import Session
from dvt_engine.tasks.base import CommandResult, found_line, select_ids, write_manifest
from dvt_engine.tasks.execute import NodeExecutor

COMPILE_TYPES = ("model", "test", "snapshot", "analysis")


def compile_inline(session: Session, sql: str) -> str:
    state = RenderState(node=None, execute=True)
    out = session.compiler.render(sql, state, "inline")
    return inject_ctes(out, state.ctes)


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    events = session.events
    manifest = session.manifest
    events.log(found_line(manifest))
    session.flags.update(full_refresh=bool(getattr(args, "full_refresh", False)),
                         which="compile")
    if args.inline:
        sql = compile_inline(session, args.inline)
        _print(session, "inline_query", sql, args.output)
        return CommandResult("compile", True, data=sql)
    ids = [u for u in select_ids(session, args, COMPILE_TYPES)
           if manifest.nodes.get(u) is not None and not manifest.nodes[u].is_ephemeral]
    executor = NodeExecutor(session)
    compiled: dict[str, str] = {}
    for uid in ids:
        compiled[uid] = executor.compile(manifest.nodes[uid])
    executor.flush()
    write_manifest(session)
    if len(ids) == 1 or (args.select and len(ids) <= 3 and args.output != "json"):
        for uid in ids:
            _print(session, manifest.nodes[uid].name, compiled[uid], args.output)
    else:
        events.log(f"Compiled {len(ids)} nodes to {session.project.target_path}/compiled")
    data: str | dict[str, str] = next(iter(compiled.values())) if len(compiled) == 1 \
        else compiled
    return CommandResult("compile", True, data=data)


def _print(session: Session, name: str, sql: str, output: str) -> None:
    if output == "json":
        session.events.log(json.dumps({"node": name, "compiled": sql}), "result")
        return
    session.events.log(f"Compiled node '{name}' is:")
    session.events.log(sql, "result")
