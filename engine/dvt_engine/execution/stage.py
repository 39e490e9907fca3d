"""The staged route of a federated model: copy its foreign inputs onto the target and run
the whole model there (DESIGN §6).

When the foreign inputs are small, this moves far fewer bytes than computing in Spark:
Spark would also pull every relation that already sits on the target, and push the result
back. The foreign inputs are extracted exactly as for Spark (only the used columns, the
pushed predicates), written next to the model as `<model>__dvt_in_<n>` tables, the model's
own compiled SQL (already in the target's dialect) reads them instead of the foreign
relations, and the model is materialized as a pushdown model is: built aside and swapped
in. The staged inputs are dropped afterwards, whatever happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters import Adapter, Relation
from dvt_engine.errors import CompilationError
from dvt_engine.execution import materialize as mat

if TYPE_CHECKING:
    from dvt_engine.federation import Extraction
    from dvt_engine.federation.transport import Extracted
    from dvt_engine.manifest import Node

SPARK, STAGE, AUTO = "spark", "stage", "auto"
ROUTES = (AUTO, SPARK, STAGE)
# above this many foreign rows in all, `auto` computes in Spark: loading them into the
# target would cost more than Spark's fixed overhead saves
DEFAULT_STAGE_MAX_ROWS = 1_000_000
STAGED_SUFFIX = "__dvt_in_"


@dataclass(frozen=True)
class RouteChoice:
    """Staged or Spark, and why."""

    route: str  # SPARK | STAGE
    reason: str  # for the log line and compile output


def configured_route(node: Node) -> str:
    """The node's `federation_route` config: auto (default), spark or stage."""
    route = str(node.config.get("federation_route") or AUTO).lower()
    if route not in ROUTES:
        raise CompilationError(
            f"federation_route '{route}' is not one of {', '.join(ROUTES)}",
            node=node.unique_id, path=node.original_file_path,
            hint="Set `federation_route` to auto (the default), spark or stage.")
    return route


def stage_max_rows(node: Node) -> int:
    value = node.config.get("federation_stage_max_rows")
    try:
        return DEFAULT_STAGE_MAX_ROWS if value is None else int(value)
    except (TypeError, ValueError):
        raise CompilationError(
            f"federation_stage_max_rows must be a number of rows, not {value!r}",
            node=node.unique_id, path=node.original_file_path) from None


def choose_before_extraction(node: Node, estimates: list[int | None]) -> RouteChoice | None:
    """The route when it can be told before extracting (config, or row estimates of the
    sources that give one); None when `auto` must look at the extracted rows."""
    route = configured_route(node)
    if route == SPARK:
        return RouteChoice(SPARK, "federation_route: spark")
    if route == STAGE:
        return RouteChoice(STAGE, "federation_route: stage")
    limit = stage_max_rows(node)
    known = sum(e for e in estimates if e is not None)
    if known > limit:
        return RouteChoice(SPARK, f"about {known:,} foreign rows (> {limit:,})")
    return None


def choose_after_extraction(node: Node, extracted: list[Extracted]) -> RouteChoice:
    limit = stage_max_rows(node)
    rows = sum(e.rows for e in extracted)
    if rows > limit:
        return RouteChoice(SPARK, f"{rows:,} foreign rows (> {limit:,})")
    return RouteChoice(STAGE, f"{rows:,} foreign rows (<= {limit:,})")


def staged_relation(model: Relation, n: int) -> Relation:
    # keeps the model's quoting and include policies (SQLite names no database)
    return model.incorporate(path={"identifier": f"{model.identifier}{STAGED_SUFFIX}{n}"},
                             type="table")


def _fold(name: str, folding: str | None) -> str:
    return name.lower() if folding == "lower" else name.upper() if folding == "upper" else name


def target_names(names: list[str], source: Adapter | None, target: Adapter) -> list[str]:
    """Column names as the target's SQL will call them.

    The model's SQL names an input's columns as the target's dialect reads identifiers:
    `country_code` unquoted is country_code on PostgreSQL but COUNTRY_CODE on Snowflake.
    A column that was unquoted at its source (in the source's folded case, or any case on
    an engine that ignores it) is renamed to the target's folded case; a quoted
    mixed-case name keeps its spelling.
    """
    folding = source.identifier_folding if source is not None else None
    return [_fold(n, target.identifier_folding) if folding is None or n == _fold(n, folding)
            else n for n in names]


def stage_inputs(target: Adapter, model: Relation, extracted: list[Extracted],
                 texts: dict[str, str], sources: dict[str, Adapter] | None = None
                 ) -> dict[str, Relation]:
    """Write each extracted input next to the model on the target; relation text -> staged.

    texts: extraction key -> the relation's text in the compiled SQL. Leftovers of a
    crashed run under the same names are dropped first.
    """
    staged: dict[str, Relation] = {}
    try:
        for n, result in enumerate(extracted):
            relation = staged_relation(model, n)
            leftover = target.get_relation(relation.database, relation.schema or "",
                                           relation.identifier or "")
            if leftover is not None:
                target.drop_relation(leftover)
            table = result.table
            source = (sources or {}).get(result.extraction.connection or "")
            names = target_names(table.column_names, source, target)
            if names != table.column_names:
                table = table.rename_columns(names)
            target.write_arrow(relation, table)
            staged[texts[result.extraction.key]] = relation
    except BaseException:
        drop_staged(target, staged)
        raise
    return staged


def drop_staged(target: Adapter, staged: dict[str, Relation]) -> None:
    for relation in staged.values():
        target.drop_relation(relation)


def replace_relation(sql: str, text: str, replacement: str) -> tuple[str, int]:
    """Replace the relation `text` in `sql` where it is a whole name (`raw.packs` is not
    replaced inside `raw.packs_v2`); the new SQL and how many were replaced."""
    pattern = re.compile(r'(?<![\w$."`\]])' + re.escape(text) + r'(?![\w$"`\[])')
    return pattern.subn(lambda _m: replacement, sql)


def read_staged(sql: str, staged: dict[str, Relation]) -> str:
    """The model's compiled SQL reading the staged tables instead of the foreign relations.

    The relation texts are exactly what ref()/source() rendered into `sql`; a match must
    not be part of a longer name (`raw.packs` in `raw.packs_v2`).
    """
    for text, relation in sorted(staged.items(), key=lambda kv: -len(kv[0])):
        sql, found = replace_relation(sql, text, str(relation))
        if not found:
            raise CompilationError(
                f"cannot find {text} in the compiled SQL to read its staged copy",
                hint="Set `federation_route: spark` on this model.")
    return sql


def extraction_estimates(adapters: dict[str, Adapter], extractions: list[Extraction]
                         ) -> list[int | None]:
    """Row estimates of the foreign extractions from sources that can give one cheaply."""
    estimates: list[int | None] = []
    for extraction in extractions:
        adapter = adapters.get(extraction.connection or "")
        estimate = getattr(adapter, "estimate_rows", None)
        estimates.append(_safe_estimate(estimate, extraction.sql) if estimate else None)
    return estimates


def _safe_estimate(estimate: Any, sql: str) -> int | None:
    try:
        value = estimate(sql)
    except Exception:  # noqa: BLE001 - an estimate is a hint; the extraction will tell
        return None
    return int(value) if value is not None else None


def build_staged(target: Adapter, node: Node, relation: Relation, sql: str,
                 extracted: list[Extracted], texts: dict[str, str], full_refresh: bool,
                 inside: mat.Inside = None, sources: dict[str, Adapter] | None = None
                 ) -> tuple[mat.Built, str]:
    """Stage the extracted foreign inputs on the target, build the model there from its
    own SQL (a table, or incremental as in pushdown), drop the staged inputs; the build
    and the SQL that ran."""
    staged = stage_inputs(target, relation, extracted, texts, sources)
    try:
        local_sql = read_staged(sql, staged)
        if node.materialized == "incremental":
            built = mat.build_incremental(target, relation, local_sql, node.config,
                                          full_refresh, inside)
        else:  # a view cannot outlive its staged inputs: a table, as in Spark's route
            built = mat.build_table(target, relation, local_sql, inside)
    finally:
        drop_staged(target, staged)
    return built, local_sql
