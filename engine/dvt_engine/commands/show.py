"""show: preview a node's or an inline query's rows without materializing anything."""

from __future__ import annotations

import datetime
import json
import time
from decimal import Decimal
from typing import Any

from dvt_engine.commands.base import announce_found, select_ids
from dvt_engine.commands.compile import concurrency_line, plan_inline, printed_ids
from dvt_engine.errors import DvtError
from dvt_engine.execution.context import ExecutionContext
from dvt_engine.execution.routes import route_for
from dvt_engine.invocation import Invocation
from dvt_engine.results import EXIT_ERROR, ShowResult


def run(inv: Invocation) -> ShowResult:
    options = inv.options
    events = inv.events
    manifest = inv.manifest
    announce_found(inv)
    limit = options.limit
    if options.inline is not None:
        concurrency_line(inv)
        table = preview_inline(inv, options.inline, limit)
        name = None
    else:
        # a preview is of the node itself: its tests are not pulled in
        ids = select_ids(inv, ("model", "seed", "snapshot", "test", "analysis"),
                         indirect_selection=options.indirect_selection or "empty")
        if not ids:
            return ShowResult("show", True)
        concurrency_line(inv)
        # dbt previews the selected node named in the first --select argument
        named = printed_ids(inv, ids)
        if len(ids) > 1:
            events.log(f"show previews one node; {len(ids)} selected, showing "
                       f"{manifest.get((named or ids)[-1]).name}", "debug")
        node = manifest.nodes[(named or ids)[-1]]
        context = ExecutionContext(inv)
        if node.resource_type == "seed":
            sql = f"select * from {context.relation(node)}"
        else:
            sql = context.compile(node)
            context.flush()
        name = node.name
        plans = inv.execution_plans([node.unique_id])
        table = route_for(context, node, plans.get(node.unique_id)).preview(sql, limit)
    if options.output == "json":
        rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
        data = {"show": rows} if name is None else {"node": name, "show": rows}
        events.printed(json.dumps(data, indent=2, default=str), "show")
    else:
        events.log("Previewing inline node:" if name is None else f"Previewing node '{name}':")
        events.printed(print_table(table), "show")
    return ShowResult("show", True, table=table, node=name)


def query(inv: Invocation, target: str | None = None) -> ShowResult:
    """`Session.query`: inline SQL's rows, with no events; an error in `.error`."""
    started = time.perf_counter()
    try:
        table = preview_inline(inv, inv.options.inline or "", inv.options.limit, target)
    except DvtError as exc:
        return ShowResult("show", False, exit_code=EXIT_ERROR, error=exc,
                          elapsed=time.perf_counter() - started)
    return ShowResult("show", True, table=table, elapsed=time.perf_counter() - started)


def preview_inline(inv: Invocation, sql: str, limit: int | None,
                   target: str | None = None) -> Any:
    """Inline SQL's rows (an Arrow table): on `target`'s adapter (the default target when
    None) when everything it reads lives there, else federated through Spark like a
    federated model's preview."""
    compiled, node, plan = plan_inline(inv, sql, target)
    return route_for(ExecutionContext(inv, write_files=False), node, plan).preview(compiled,
                                                                                  limit)


def _json_value(value: Any) -> Any:
    """As dbt's agate table to_json: ints stay ints, decimals become floats, dates ISO."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return value


_MAX_COLUMNS, _MAX_WIDTH, _MAX_PRECISION = 6, 20, 3


def print_table(table: Any, max_rows: int | None = None) -> str:
    """agate's Table.print_table as dbt calls it (6 columns, 20 characters, all rows or
    `max_rows` and a row of `...`): text left-aligned, other types right-aligned,
    decimals with grouping."""
    names = list(table.column_names)
    shown = names[:_MAX_COLUMNS]
    text_cols = [_is_text(table.schema.field(n).type) for n in shown]
    columns = [table.column(i).to_pylist() for i in range(len(shown))]
    formatters = [_number_formatter(col, table.schema.field(i).type)
                  for i, col in enumerate(columns)]
    header = [_truncate(n) for n in shown]
    rows = [[_truncate(_cell(col[r], formatters[i])) for i, col in enumerate(columns)]
            for r in range(table.num_rows)]
    if len(names) > _MAX_COLUMNS:
        header.append("...")
        text_cols.append(False)
        rows = [[*row, "..."] for row in rows]
    more = max_rows is not None and len(rows) > max_rows
    rows = rows[:max_rows] if more else rows
    widths = [max([len(h), *[len(row[i]) for row in rows]]) for i, h in enumerate(header)]
    if more:  # agate sizes the columns before it adds the row that says there are more
        rows.append(["..."] * len(header))

    def line(cells: list[str]) -> str:
        parts = [f" {c.ljust(w) if text else c.rjust(w)} "
                 for c, w, text in zip(cells, widths, text_cols, strict=True)]
        return "|" + "|".join(parts) + "|"

    divider = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), divider, *[line(row) for row in rows]])


def _is_text(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_WIDTH else text[:_MAX_WIDTH - 3] + "..."


def _number_formatter(values: list[Any], arrow_type: Any) -> Any:
    """Floats and decimals: one number of places per column (at most 3), with grouping."""
    import pyarrow as pa

    if not (pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)):
        return None
    places = 0
    for v in values:
        if v is None or (isinstance(v, float) and (v != v or v in (float("inf"), -float("inf")))):
            continue
        # a float keeps its one decimal place (4.0, as agate prints a float column);
        # a decimal's trailing zeros do not count
        number = Decimal(str(v))
        exponent = (number if isinstance(v, float) else number.normalize()).as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    ellipsis = "\u2026" if places > _MAX_PRECISION else ""
    places = min(places, _MAX_PRECISION)
    return lambda v: f"{Decimal(str(v)):,.{places}f}{ellipsis}"


def _cell(value: Any, formatter: Any) -> str:
    if value is None:
        return ""
    if formatter is not None and not (isinstance(value, float) and value in (
            float("inf"), -float("inf"))):
        return str(formatter(value))
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
