"""Where a node's SQL runs, chosen once from the planner's decision (DESIGN §6).

A route answers every question about a node's SQL: build it (models), run a query for
its rows (tests' verdicts, `show`), give SQL that runs on the target (snapshots) and
describe itself (`compile`).

- PushdownRoute: everything the node reads is on its target; the SQL runs there.
- FederatedRoute: it reads other connections. Its foreign inputs are extracted (only
  the columns and rows it needs) and either staged on the target, where the node's own
  SQL then runs (small inputs, or `federation_route: stage`), or computed in the shared
  SparkSession and the result landed on the target (`federation_route: spark`, or more
  rows than `federation_stage_max_rows`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dvt_engine.errors import CompilationError
from dvt_engine.events import InputMoved
from dvt_engine.execution import materialize as mat
from dvt_engine.planner import ExecutionPlan, federation_unavailable

if TYPE_CHECKING:
    import pyarrow as pa

    from dvt_engine.adapters import Adapter, AdapterResponse, Relation
    from dvt_engine.execution import federate
    from dvt_engine.execution.context import ExecutionContext
    from dvt_engine.federation.transport import Extracted
    from dvt_engine.manifest import Node

PUSHDOWN, STAGED, SPARK = "pushdown", "staged", "spark"


@dataclass
class Landed:
    """What building a node did: the adapter's response, the SQL that ran (for
    target/run), the route it took and how its inputs moved."""

    response: AdapterResponse
    message: str
    run_sql: str
    route: str
    inputs: tuple[InputMoved, ...] = field(default_factory=tuple)
    rows: int | None = None  # when not the response's own count (a snapshot's changes)

    @property
    def rows_affected(self) -> int | None:
        return self.rows if self.rows is not None else self.response.rows_affected


class Route:
    name = PUSHDOWN

    def __init__(self, ctx: ExecutionContext, node: Node, target: str | None) -> None:
        self.ctx = ctx
        self.node = node
        self.target_name = target
        self.target: Adapter = ctx.inv.adapter(target)

    def build(self, relation: Relation, sql: str, inside: mat.Inside) -> Landed:
        raise NotImplementedError

    def query(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def preview(self, sql: str, limit: int | None) -> pa.Table:
        raise NotImplementedError

    def on_target(self, relation: Relation, sql: str) -> contextlib.AbstractContextManager[str]:
        raise NotImplementedError

    def describe(self, sql: str) -> str:
        raise NotImplementedError


class PushdownRoute(Route):
    def build(self, relation: Relation, sql: str, inside: mat.Inside) -> Landed:
        node, adapter = self.node, self.target
        kind = node.materialized
        if kind == "view":
            built = mat.build_view(adapter, relation, sql, inside)
        elif kind == "table":
            built = mat.build_table(adapter, relation, sql, inside)
        elif kind == "incremental":
            built = mat.build_incremental(adapter, relation, sql, node.config,
                                          self.ctx.full_refresh_for(node), inside)
        else:
            raise unknown_materialization(node, self.ctx.compiler.registry.materializations)
        return Landed(built.response, built.message, sql, PUSHDOWN)

    def query(self, sql: str) -> pa.Table:
        return self.target.read_arrow(sql)

    def preview(self, sql: str, limit: int | None) -> pa.Table:
        adapter = self.target
        query = adapter.limit_query(sql, limit) if limit is not None and limit >= 0 else sql
        return adapter.read_arrow(query)

    @contextlib.contextmanager
    def on_target(self, relation: Relation, sql: str) -> Iterator[str]:
        yield sql

    def describe(self, sql: str) -> str:
        return ""


class FederatedRoute(Route):
    """Reads other connections: staged on the target or computed in Spark."""

    name = "federated"

    def __init__(self, ctx: ExecutionContext, node: Node, plan: ExecutionPlan) -> None:
        super().__init__(ctx, node, plan.target)
        self.plan = plan

    def setup(self, sql: str) -> federate.FederationSetup:
        # federation (sqlglot, ~0.1 s to import) loads only when a node needs it
        from dvt_engine.execution import federate

        return federate.plan_federation(self.ctx.inv, self.node, self.plan, sql)

    def build(self, relation: Relation, sql: str, inside: mat.Inside) -> Landed:
        from dvt_engine.execution import federate, stage

        node, adapter = self.node, self.target
        kind = node.materialized
        if kind not in ("view", "table", "incremental"):
            raise unknown_materialization(node, self.ctx.compiler.registry.materializations)
        setup = self.setup(sql)
        if kind == "view":
            # a view on the target cannot read other connections: DVT builds a table
            self.ctx.events.warn(
                f"model {node.name} is materialized as a view but federated (it reads other "
                f"connections): building it as a table on '{self.plan.target}'",
                path=node.original_file_path, node=node.unique_id)
        choice, foreign = federate.choose_route(node, setup)
        self.ctx.events.log(f"{node.name}: federated, {choice.route} route ({choice.reason})",
                            "debug")
        full = self.ctx.full_refresh_for(node)
        if choice.route == stage.STAGE:
            built, run_sql = stage.build_staged(adapter, node, relation, sql, foreign,
                                                setup.relation_texts, full, inside,
                                                setup.adapters)
            resp, extracted, route = built.response, foreign, STAGED
            rows = resp.rows_affected
        else:
            extracted, table = federate.compute(setup, foreign)
            table = federate.as_target_names(table, sql, adapter)
            if kind == "incremental":
                resp = federate.land_incremental(adapter, relation, table, node.config, full,
                                                 inside)
            else:
                resp = federate.land_table(adapter, relation, table, inside)
            run_sql, rows, route = setup.query.describe(), table.num_rows, SPARK
        message = federate.message(extracted, rows, self.plan.target, setup.query,
                                   choice.route)
        return Landed(resp, message, run_sql, route, moved(extracted))

    def query(self, sql: str) -> pa.Table:
        from dvt_engine.execution import federate, stage

        setup = self.setup(sql)
        choice, foreign = federate.choose_route(self.node, setup)
        self.ctx.events.log(f"{self.node.name}: federated {self.node.resource_type}, "
                            f"{choice.route} route ({choice.reason})", "debug")
        if choice.route == stage.STAGE:
            return federate.query_staged(setup, self.node, sql, foreign)
        return federate.compute(setup, foreign)[1]

    def preview(self, sql: str, limit: int | None) -> pa.Table:
        from dvt_engine.execution import federate

        # computed in Spark, nothing landed on the target
        _, table = federate.compute(self.setup(sql))
        return table.slice(0, limit) if limit is not None and limit >= 0 else table

    @contextlib.contextmanager
    def on_target(self, relation: Relation, sql: str) -> Iterator[str]:
        """The node's SQL reading staged copies of its foreign inputs, next to `relation`
        on the target (dropped afterwards)."""
        from dvt_engine.execution import stage
        from dvt_engine.federation.transport import extract_to_arrow

        setup = self.setup(sql)
        foreign = [extract_to_arrow(setup.adapters[e.connection or ""], e)
                   for e in setup.query.extractions]
        staged = stage.stage_inputs(self.target, relation, foreign, setup.relation_texts,
                                    setup.adapters)
        try:
            yield stage.read_staged(sql, staged)
        finally:
            stage.drop_staged(self.target, staged)

    def describe(self, sql: str) -> str:
        from dvt_engine.execution import federate

        return federate.describe_for_compile(self.ctx.inv, self.node, self.plan, sql)


def route_for(ctx: ExecutionContext, node: Node, plan: ExecutionPlan | None = None) -> Route:
    """The node's route from the planner's decision."""
    plan = plan or ctx.plan(node)
    if plan is None or not plan.is_federated:
        return PushdownRoute(ctx, node, plan.target if plan is not None else node.target)
    if node.resource_type not in ("model", "test", "snapshot", "sql_operation"):
        raise federation_unavailable(ctx.inv.manifest, node, plan)
    return FederatedRoute(ctx, node, plan)


def moved(extracted: list[Extracted]) -> tuple[InputMoved, ...]:
    return tuple(InputMoved(relation=e.extraction.summary(), connection=e.extraction.connection
                            or "", rows=e.rows, via=e.path) for e in extracted)


def unknown_materialization(node: Node, custom: dict[str, str]) -> CompilationError:
    """A materialization DVT does not build: a custom one (named by the file that defines
    it) is not supported yet, anything else is a typo."""
    name = node.materialized
    if name in custom:
        return CompilationError(
            f"model {node.name} uses the custom materialization '{name}' defined in "
            f"{custom[name]}: custom materializations are not supported yet",
            node=node.unique_id, path=node.original_file_path,
            hint="Use view, table, incremental or ephemeral for this model.")
    return CompilationError(f"unknown materialization '{name}'",
                            node=node.unique_id, path=node.original_file_path,
                            hint="Use view, table, incremental or ephemeral.")


__all__ = ["FederatedRoute", "Landed", "PushdownRoute", "Route", "route_for"]

