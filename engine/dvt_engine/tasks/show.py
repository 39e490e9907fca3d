"""show: preview a node's or an inline query's rows without materializing anything."""

from __future__ import annotations

import argparse
import json

from dvt_engine.session import Session
from dvt_engine.tasks.base import EXIT_ERROR, CommandResult, found_line, select_ids
from dvt_engine.tasks.compile import compile_inline
from dvt_engine.tasks.execute import NodeExecutor


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    events = session.events
    manifest = session.manifest
    events.log(found_line(manifest))
    session.flags.update(which="show")
    # a preview is of the node itself: its tests are not pulled in
    args.indirect_selection = getattr(args, "indirect_selection", None) or "empty"
    if args.inline:
        sql = compile_inline(session, args.inline)
        adapter = session.adapter()
        name = "inline"
    else:
        ids = [u for u in select_ids(session, args, ("model", "seed", "snapshot", "test",
                                                      "analysis"))]
        if not ids:
            return CommandResult("show", True, data=None)
        if len(ids) > 1:
            events.log(f"show previews one node; {len(ids)} selected, showing "
                       f"{manifest.get(ids[-1]).name}", "warn")
        node = manifest.nodes[ids[-1]]
        executor = NodeExecutor(session)
        if node.resource_type == "seed":
            sql = f"select * from {executor.relation(node)}"
        else:
            sql = executor.compile(node)
            executor.flush()
        adapter = executor.adapter(node)
        name = node.name
    limit = args.limit
    query = adapter.limit_query(sql, limit) if limit is not None and limit >= 0 else sql
    table = adapter.read_arrow(query)
    if args.output == "json":
        events.log(json.dumps({"node": name, "show": table.to_pylist()}, default=str), "result")
    else:
        events.log(f"Previewing {'inline node' if name == 'inline' else f'node {name!r}'}:")
        events.log(_text_table(table), "result")
    return CommandResult("show", True, data=table,
                         exit_code=0 if table is not None else EXIT_ERROR)


def _text_table(table: object) -> str:
    """dbt prints an agate-style table: | col | col |."""
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    names = table.column_names
    rows = [["" if v is None else str(v) for v in r.values()] for r in table.to_pylist()]
    widths = [max([len(n), *[len(r[i]) for r in rows]]) for i, n in enumerate(names)]
    header = "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |"
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    body = ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in rows]
    return "\n".join([header, sep, *body])
