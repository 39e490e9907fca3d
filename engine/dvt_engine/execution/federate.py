"""Running a federated model: extract each input through its own connection, compute the
model in Spark, land the result on the target (DESIGN §3 step 5, §6).

The node's SQL is compiled as for pushdown (in the target's dialect; every relation is
rendered by the adapter of the connection it lives on), planned by `federation.extract`
(only the used columns, single-relation predicates pushed down), extracted to Arrow,
registered as Spark temp views under a per-node prefix (models run concurrently in the one
SparkSession), and the Spark result is written to a staging table on the target and swapped
in atomically: a failing re-run leaves the previous table as it was.

An incremental model's watermark (`(select max(updated_at) from {{ this }})`) is evaluated
on the target before planning, so its filter is pushed into the extraction query instead of
extracting the whole foreign relation and filtering in Spark. Pre-hooks run before all of
this (as in dbt, before the model's SQL), post-hooks after landing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters import Adapter, AdapterResponse, Relation
from dvt_engine.errors import DatabaseError, DvtError
from dvt_engine.execution import materialize as mat
from dvt_engine.execution import stage
from dvt_engine.federation import FederatedQuery, ForeignRelation, TypedValue, plan_extractions
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan, read_inputs

if TYPE_CHECKING:
    import pyarrow as pa

    from dvt_engine.federation.extract import ScalarEvaluator
    from dvt_engine.federation.transport import Extracted
    from dvt_engine.invocation import Invocation


@dataclass
class FederationSetup:
    """A federated node's plan and the adapter that reads each of its relations."""

    query: FederatedQuery
    adapters: dict[str, Adapter]  # connection name -> adapter (foreign inputs)
    target: Adapter
    spark_conf: dict[str, Any] = field(default_factory=dict)
    # extraction key -> the relation's text in the compiled SQL (the staged route swaps it)
    relation_texts: dict[str, str] = field(default_factory=dict)


def view_prefix(node: Node) -> str:
    """Temp view names unique per node: concurrent models share one SparkSession."""
    digest = hashlib.sha1(node.unique_id.encode()).hexdigest()[:8]
    return f"dvt_{re.sub(r'[^A-Za-z0-9_]', '_', node.name)[:40]}_{digest}_"


def plan_federation(inv: Invocation, node: Node, plan: ExecutionPlan, sql: str
                    ) -> FederationSetup:
    """The FederatedQuery of `node` (compiled to `sql`), with schemas from the catalogs so
    unqualified columns resolve to their relation."""
    from sqlglot import exp

    manifest = inv.manifest
    target = inv.adapter(plan.target)
    relations: dict[str, ForeignRelation] = {}
    schemas: dict[str, list[str]] = {}
    adapters: dict[str, Adapter] = {}
    foreign_ids = {f.unique_id for f in plan.foreign_inputs}
    labels: dict[str, str] = {}  # local relation key -> its name in logs (orders, crm.x)
    for f in plan.foreign_inputs:
        parent = manifest.nodes.get(f.unique_id) or manifest.sources.get(f.unique_id)
        adapter = inv.adapter(f.connection)
        adapters[f.connection] = adapter
        key = parent.search_name if parent is not None else f.relation_name
        relations[f.relation_name] = ForeignRelation(key, adapter.dialect, f.relation_name,
                                                     f.connection)
        if parent is not None:
            _add_schema(schemas, key, adapter, inv.compiler.relation_of(parent))
    for parent in read_inputs(manifest, node):
        if parent.unique_id in foreign_ids:
            continue
        rel = inv.compiler.relation_of(parent)
        try:  # local relations are keyed by their table text in the target's dialect
            key = exp.to_table(str(rel), dialect=target.dialect).sql(dialect=target.dialect)
        except Exception:  # noqa: BLE001 - no schema only means a less precise plan
            continue
        labels[key] = parent.search_name
        _add_schema(schemas, key, target, rel)
    evaluate = None
    this = inv.compiler.relation_of(node)
    if _incremental_on(target, node, this):
        # the watermark reads {{ this }}: its columns tell a correlated name from its own
        with contextlib.suppress(Exception):  # no schema only means a less precise plan
            key = exp.to_table(str(this), dialect=target.dialect).sql(dialect=target.dialect)
            _add_schema(schemas, key, target, this)
        evaluate = _watermark_evaluator(target, node)
    planned_sql, planned = _placeholders(sql, relations)
    query = plan_extractions(planned_sql, target.dialect, planned, schemas, view_prefix(node),
                             evaluate_scalar=evaluate)
    for extraction in query.local_extractions:
        extraction.label = labels.get(extraction.key, "")
    texts = {fr.key: text for text, fr in relations.items()}
    return FederationSetup(query, adapters, target, inv.spark_conf(), texts)


def as_target_names(table: pa.Table, sql: str, target: Adapter) -> pa.Table:
    """Spark's result columns named as the model's SQL would name them on the target:
    an unquoted `CustomerName` is customername on PostgreSQL and CUSTOMERNAME on
    Snowflake; a name quoted in the model's SQL keeps its spelling."""
    if target.identifier_folding is None:
        return table
    quoted = _quoted_identifiers(sql, target.dialect)
    names = [n if n in quoted else
             (n.lower() if target.identifier_folding == "lower" else n.upper())
             for n in table.column_names]
    return table if names == table.column_names else table.rename_columns(names)


def _quoted_identifiers(sql: str, dialect: str) -> set[str]:
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # noqa: BLE001 - unparseable here means planning failed already
        return set()
    return {i.name for i in tree.find_all(exp.Identifier) if i.quoted}


def _placeholders(sql: str, relations: dict[str, ForeignRelation]
                  ) -> tuple[str, dict[str, ForeignRelation]]:
    """The model SQL with each foreign relation named by a plain placeholder.

    Foreign relations are rendered for their own connection (Databricks' backticks, say),
    which the target's dialect may not parse; the extraction still reads each by its own
    text (`ForeignRelation.relation_sql`)."""
    planned: dict[str, ForeignRelation] = {}
    for n, (text, foreign) in enumerate(sorted(relations.items(), key=lambda kv: -len(kv[0]))):
        placeholder = f"dvt_foreign_{n}"
        sql, found = stage.replace_relation(sql, text, placeholder)
        planned[placeholder if found else text] = foreign
    return sql, planned


def _incremental_on(target: Adapter, node: Node, relation: Relation) -> bool:
    """An incremental model whose table exists: its SQL may read a watermark from it."""
    if node.materialized != "incremental":
        return False
    try:
        existing = target.get_relation(relation.database, relation.schema or "",
                                       relation.identifier or "")
    except DvtError:
        return False
    return existing is not None and existing.type == "table"


def _watermark_evaluator(target: Adapter, node: Node) -> ScalarEvaluator:
    """Runs a scalar subquery over target relations on the target: its value and type."""

    def evaluate(sql: str) -> TypedValue:
        try:
            table = target.read_arrow(sql)
        except DvtError as exc:
            exc.message = f"evaluating the watermark of {node.name} on the target: {exc.message}"
            raise
        if table.num_rows > 1:
            raise DatabaseError(
                f"the watermark subquery of {node.name} returned {table.num_rows} rows, "
                f"a scalar subquery must return one: {sql}", node=node.unique_id,
                hint="aggregate it (max(...)) or add a filter that leaves one row")
        value = table.column(0)[0].as_py() if table.num_rows else None
        return TypedValue(value, _null_type(table.schema.field(0).type))

    return evaluate


def _null_type(arrow_type: Any) -> str | None:
    """The SQL type a NULL watermark is cast to (`coalesce(NULL, '1900-01-01')` must stay
    a timestamp, not become text); None where no portable name exists."""
    import pyarrow.types as pt

    if pt.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pt.is_date(arrow_type):
        return "DATE"
    if pt.is_integer(arrow_type):
        return "BIGINT"
    if pt.is_floating(arrow_type):
        return "DOUBLE"
    if pt.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pt.is_boolean(arrow_type):
        return "BOOLEAN"
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type):
        return "TEXT"
    return None


def _add_schema(schemas: dict[str, list[str]], key: str, adapter: Adapter,
                relation: Relation) -> None:
    try:
        columns = [c.name for c in adapter.get_columns(relation)]
    except DvtError:
        return  # the extraction itself will fail and say so
    if columns:  # an empty list would claim the relation has no columns at all
        schemas[key] = columns


def describe_for_compile(inv: Invocation, node: Node, plan: ExecutionPlan, sql: str
                         ) -> str:
    """`dvt compile`'s text for a federated node: the route, the extractions and the
    Spark SQL."""
    route = stage.configured_route(node)
    if route == stage.AUTO:
        limit = stage.stage_max_rows(node)
        line = (f"-- route: auto (foreign inputs staged on target {plan.target} and the model "
                f"run there when they total <= {limit:,} rows, else computed in Spark)")
    else:
        line = f"-- route: {route} (federation_route)"
    return line + "\n" + plan_federation(inv, node, plan, sql).query.describe()


def _spark_or_fail(conf: dict[str, Any] | None = None) -> Any:
    from dvt_engine.federation.spark import SparkUnavailable, get_spark, spark_available

    reason = spark_available()
    if reason is not None:
        raise SparkUnavailable(f"federation needs Spark: {reason}",
                               hint="run `dvt sync` to install what federation needs "
                                    "(pyspark and a Java 17+ runtime)")
    return get_spark(conf)


def compute(setup: FederationSetup, done: Sequence[Extracted] = ()
             ) -> tuple[list[Extracted], pa.Table]:
    from dvt_engine.federation.spark import run_to_arrow
    from dvt_engine.federation.transport import drop_views, load_inputs

    def adapter_for(extraction: Any) -> Adapter:
        if extraction.local or extraction.connection is None:
            return setup.target
        return setup.adapters[extraction.connection]

    # Arrow-path extractions run before Spark starts (a failing source fails fast, without
    # a JVM start); large PostgreSQL inputs are then read by Spark over JDBC (transport.py)
    spark, extracted = load_inputs(setup.query.all_extractions, adapter_for,
                                   lambda: _spark_or_fail(setup.spark_conf), done)
    try:
        table = run_to_arrow(spark, setup.query.spark_sql)
    finally:
        # views never registered need no dropping
        with contextlib.suppress(Exception):
            drop_views(spark, setup.query)
    return extracted, table


def query_staged(setup: FederationSetup, node: Node, sql: str,
                  foreign: list[Extracted]) -> pa.Table:
    """`sql` run on the target over staged copies of its foreign inputs (dropped after);
    they are named after the node, in the target's own schema."""
    target = setup.target
    digest = hashlib.sha1(node.unique_id.encode()).hexdigest()[:10]
    anchor = target.relation(target.database or None, target.schema, f"dvt_q_{digest}",
                             type="table")
    target.create_schema(anchor.database, anchor.schema or "")
    staged = stage.stage_inputs(target, anchor, foreign, setup.relation_texts, setup.adapters)
    try:
        return target.read_arrow(stage.read_staged(sql, staged))
    finally:
        stage.drop_staged(target, staged)


def choose_route(node: Node, setup: FederationSetup
                 ) -> tuple[stage.RouteChoice, list[Extracted]]:
    """Spark or staged (DESIGN §6), and the foreign inputs extracted to Arrow on the way.

    Spark is chosen before extracting when the model says so or the sources' estimates
    are already too large; otherwise the foreign inputs are extracted (both routes need
    them) and their real size decides."""
    from dvt_engine.federation.transport import extract_to_arrow

    foreign = setup.query.extractions
    estimates = stage.extraction_estimates(setup.adapters, foreign)
    choice = stage.choose_before_extraction(node, estimates)
    if choice is not None and choice.route == stage.SPARK:
        return choice, []
    extracted = [extract_to_arrow(setup.adapters[e.connection or ""], e) for e in foreign]
    return choice or stage.choose_after_extraction(node, extracted), extracted


def message(extracted: list[Extracted], rows: int | None, target: str, query: FederatedQuery,
             route: str) -> str:
    inputs = "; ".join(f"{e.extraction.summary()}, {e.rows} row{'s' if e.rows != 1 else ''}"
                       f" via {e.path}" for e in extracted)
    n = len(extracted)
    watermark = ("watermark pushed, " if query.watermark_pushed
                 else "watermark evaluated on the target, " if query.evaluated else "")
    how = "in Spark" if route == stage.SPARK else f"with inputs staged on target {target}"
    where = f" landed on target {target}" if route == stage.SPARK else ""
    landed = "" if rows is None else f"{rows} row{'s' if rows != 1 else ''}{where}"
    return (f"federated {how}: {n} input{'s' if n != 1 else ''} ({inputs})"
            + (f", {watermark}{landed}" if landed or watermark else "")).rstrip(", ")


def _write_staging(adapter: Adapter, relation: Relation, table: pa.Table) -> Relation:
    staging = mat.fresh_staging(adapter, relation)
    adapter.write_arrow(staging, table)
    return staging


def land_table(adapter: Adapter, relation: Relation, table: pa.Table,
                inside: mat.Inside = None) -> AdapterResponse:
    rows = mat.build_aside(adapter, relation,
                           lambda staging: adapter.write_arrow(staging, table), inside)
    return AdapterResponse(f"INSERT {rows}", "INSERT", rows)


def land_incremental(adapter: Adapter, relation: Relation, table: pa.Table,
                      config: dict[str, Any], full_refresh: bool,
                      inside: mat.Inside = None) -> AdapterResponse:
    existing = adapter.get_relation(relation.database, relation.schema or "",
                                    relation.identifier or "")
    if existing is None or full_refresh or existing.type != "table":
        return land_table(adapter, relation, table, inside)
    staging = _write_staging(adapter, relation, table)
    try:
        with adapter.transaction():
            # the same schema reconciliation and strategies as a pushdown incremental
            columns = mat.reconcile_schema(adapter, staging, relation,
                                            str(config.get("on_schema_change") or "ignore"))
            resp = mat.apply_strategy(adapter, relation, staging, columns, config)
            if inside is not None:
                inside()
            return resp
    except BaseException:
        adapter.forget_cache()
        raise
    finally:
        adapter.drop_relation(staging)
