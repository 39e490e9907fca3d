"""Running a federated model: extract each input through its own connection, compute the
model in Spark, land the result on the target (DESIGN §3 step 5, §6).

The node's SQL is compiled as for pushdown (in the target's dialect; every relation is
rendered by the adapter of the connection it lives on), planned by `federation.extract`
(only the used columns, single-relation predicates pushed down), extracted to Arrow,
registered as Spark temp views under a per-node prefix (models run concurrently in the one
SparkSession), and the Spark result is written to a staging table on the target and swapped
in atomically: a failing re-run leaves the previous table as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters import Adapter, AdapterResponse, Relation
from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.federation import FederatedQuery, ForeignRelation, plan_extractions
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan, read_inputs
from dvt_engine.runner import NodeResult
from dvt_engine.tasks import materialize as mat

if TYPE_CHECKING:
    import pyarrow as pa

    from dvt_engine.federation.transport import Extracted
    from dvt_engine.session import Session
    from dvt_engine.tasks.execute import NodeExecutor


@dataclass
class FederationSetup:
    """A federated node's plan and the adapter that reads each of its relations."""

    query: FederatedQuery
    adapters: dict[str, Adapter]  # connection name -> adapter (foreign inputs)
    target: Adapter
    spark_conf: dict[str, Any] = field(default_factory=dict)


def view_prefix(node: Node) -> str:
    """Temp view names unique per node: concurrent models share one SparkSession."""
    digest = hashlib.sha1(node.unique_id.encode()).hexdigest()[:8]
    return f"dvt_{re.sub(r'[^A-Za-z0-9_]', '_', node.name)[:40]}_{digest}_"


def plan_federation(session: Session, node: Node, plan: ExecutionPlan, sql: str
                    ) -> FederationSetup:
    """The FederatedQuery of `node` (compiled to `sql`), with schemas from the catalogs so
    unqualified columns resolve to their relation."""
    from sqlglot import exp

    manifest = session.manifest
    target = session.adapter(plan.target)
    relations: dict[str, ForeignRelation] = {}
    schemas: dict[str, list[str]] = {}
    adapters: dict[str, Adapter] = {}
    foreign_ids = {f.unique_id for f in plan.foreign_inputs}
    for f in plan.foreign_inputs:
        parent = manifest.nodes.get(f.unique_id) or manifest.sources.get(f.unique_id)
        adapter = session.adapter(f.connection)
        adapters[f.connection] = adapter
        key = parent.search_name if parent is not None else f.relation_name
        relations[f.relation_name] = ForeignRelation(key, adapter.dialect, f.relation_name,
                                                     f.connection)
        if parent is not None:
            _add_schema(schemas, key, adapter, session.compiler.relation_of(parent))
    for parent in read_inputs(manifest, node):
        if parent.unique_id in foreign_ids:
            continue
        rel = session.compiler.relation_of(parent)
        try:  # local relations are keyed by their table text in the target's dialect
            key = exp.to_table(str(rel), dialect=target.dialect).sql(dialect=target.dialect)
        except Exception:  # noqa: BLE001 - no schema only means a less precise plan
            continue
        _add_schema(schemas, key, target, rel)
    query = plan_extractions(sql, target.dialect, relations, schemas, view_prefix(node))
    return FederationSetup(query, adapters, target, session.spark_conf())


def _add_schema(schemas: dict[str, list[str]], key: str, adapter: Adapter,
                relation: Relation) -> None:
    try:
        columns = [c.name for c in adapter.get_columns(relation)]
    except DvtError:
        return  # the extraction itself will fail and say so
    if columns:  # an empty list would claim the relation has no columns at all
        schemas[key] = columns


def describe_for_compile(session: Session, node: Node, plan: ExecutionPlan, sql: str
                         ) -> str:
    """`dvt compile`'s text for a federated node: the extractions and the Spark SQL."""
    return plan_federation(session, node, plan, sql).query.describe()


def _spark_or_fail(conf: dict[str, Any] | None = None) -> Any:
    from dvt_engine.federation.spark import SparkUnavailable, get_spark, spark_available

    reason = spark_available()
    if reason is not None:
        raise SparkUnavailable(f"federation needs Spark: {reason}",
                               hint="run `dvt sync` to install what federation needs "
                                    "(pyspark and a Java 17+ runtime)")
    return get_spark(conf)


def _compute(setup: FederationSetup) -> tuple[list[Extracted], pa.Table]:
    from dvt_engine.federation.spark import arrow_to_view, run_to_arrow
    from dvt_engine.federation.transport import drop_views, extract_to_arrow

    def adapter_for(extraction: Any) -> Adapter:
        if extraction.local or extraction.connection is None:
            return setup.target
        return setup.adapters[extraction.connection]

    # every extraction before Spark: a failing source fails fast, without a JVM start
    extracted = [extract_to_arrow(adapter_for(e), e) for e in setup.query.all_extractions]
    spark = _spark_or_fail(setup.spark_conf)
    try:
        for result in extracted:
            arrow_to_view(spark, result.table, result.extraction.view_name)
        table = run_to_arrow(spark, setup.query.spark_sql)
    finally:
        # views never registered need no dropping
        with contextlib.suppress(Exception):
            drop_views(spark, setup.query)
    return extracted, table


def preview_federated(session: Session, node: Node, plan: ExecutionPlan, sql: str,
                      limit: int | None) -> pa.Table:
    """`show` of a federated model: computed in Spark, nothing landed on the target."""
    _, table = _compute(plan_federation(session, node, plan, sql))
    return table.slice(0, limit) if limit is not None and limit >= 0 else table


def run_federated(ex: NodeExecutor, node: Node, plan: ExecutionPlan) -> NodeResult:
    """Compile, extract, compute in Spark, land on the target; the node's NodeResult."""
    sql = ex.compile(node)
    kind = node.materialized
    if kind not in ("view", "table", "incremental"):
        raise CompilationError(f"unknown materialization '{kind}'", node=node.unique_id,
                               hint="Use view, table, incremental or ephemeral.")
    setup = plan_federation(ex.session, node, plan, sql)
    if kind == "view":
        # a view on the target cannot read other connections: DVT builds a table instead
        ex.session.events.log(
            f"model {node.name} is materialized as a view but federated (it reads other "
            f"connections): building it as a table on '{plan.target}'", "warn")
    extracted, table = _compute(setup)
    adapter = setup.target
    relation = ex.relation(node)
    adapter.create_schema(relation.database, relation.schema or "")
    ex._hooks(node, "pre-hook", adapter)
    if kind == "incremental":
        resp = _land_incremental(adapter, relation, table, node.config, ex._full(node))
    else:
        resp = _land_table(adapter, relation, table)
    ex._hooks(node, "post-hook", adapter)
    if ex.write_files:
        ex._write("run", node, setup.query.describe())
    message = _message(extracted, table.num_rows, plan.target)
    return NodeResult(node.unique_id, "success", message, rows_affected=resp.rows_affected,
                      adapter_response={"_message": message, "code": "FEDERATED",
                                        "rows_affected": resp.rows_affected},
                      compiled_code=sql, relation_name=str(relation))


def _message(extracted: list[Extracted], rows: int, target: str) -> str:
    inputs = "; ".join(f"{e.extraction.summary()}, {e.rows} row{'s' if e.rows != 1 else ''}"
                       for e in extracted)
    n = len(extracted)
    return (f"federated: {n} input{'s' if n != 1 else ''} ({inputs}), "
            f"{rows} row{'s' if rows != 1 else ''} landed on target {target}")


def _write_staging(adapter: Adapter, relation: Relation, table: pa.Table) -> Relation:
    staging = mat.fresh_staging(adapter, relation)
    adapter.write_arrow(staging, table)
    return staging


def _land_table(adapter: Adapter, relation: Relation, table: pa.Table) -> AdapterResponse:
    rows = mat.build_aside(adapter, relation,
                           lambda staging: adapter.write_arrow(staging, table))
    return AdapterResponse(f"INSERT {rows}", "INSERT", rows)


def _land_incremental(adapter: Adapter, relation: Relation, table: pa.Table,
                      config: dict[str, Any], full_refresh: bool) -> AdapterResponse:
    existing = adapter.get_relation(relation.database, relation.schema or "",
                                    relation.identifier or "")
    if existing is None or full_refresh or existing.type != "table":
        return _land_table(adapter, relation, table)
    staging = _write_staging(adapter, relation, table)
    try:
        with adapter.transaction():
            # the same schema reconciliation and strategies as a pushdown incremental
            columns = mat._reconcile_schema(adapter, staging, relation,
                                            str(config.get("on_schema_change") or "ignore"))
            return mat._apply_strategy(adapter, relation, staging, columns, config)
    finally:
        adapter.drop_relation(staging)
