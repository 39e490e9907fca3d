"""Running one node: the sequence written once, a runner per resource type.

compile -> route -> create schema -> pre-hooks -> build (post-hooks inside its
transaction) -> the other post-hooks -> target/run file -> result. A runner says what
"build" means for its resource type (a model is materialized through its route, a seed
is loaded, a snapshot merged); a test has no hooks and no relation, its verdict is a
query. In the manner of dbt's runner map, without its indirection.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.execution import materialize as mat
from dvt_engine.execution.context import ExecutionContext, iso
from dvt_engine.execution.routes import PUSHDOWN, Landed, Route, route_for
from dvt_engine.runner import NodeResult

if TYPE_CHECKING:
    from dvt_engine.adapters import Adapter, Relation
    from dvt_engine.invocation import Invocation
    from dvt_engine.manifest import Node
    from dvt_engine.planner import ExecutionPlan


SEED_SAMPLE_ROWS = 10  # `seed --show`


class NodeRunner:
    """The sequence every buildable node goes through."""

    resource_type: ClassVar[str] = ""

    def __init__(self, ctx: ExecutionContext) -> None:
        self.ctx = ctx

    def run(self, node: Node) -> NodeResult:
        started = time.time()
        try:
            self.check(node)
            result = self.execute(node)
        except DvtError as exc:
            if not exc.node and not exc.path:
                exc.node = node.unique_id
            result = NodeResult(node.unique_id, "error", short_error(exc, node),
                                error=str(exc))
        # dbt's two timing steps: compile (rendering), then execute (the statements)
        compiled = self.ctx.compiled_at(node, started)
        result.timing = [
            {"name": "compile", "started_at": iso(started), "completed_at": iso(compiled)},
            {"name": "execute", "started_at": iso(compiled), "completed_at": iso(time.time())}]
        result.node = node
        result.target = result.target or self.ctx.target_of(node)
        return result

    def check(self, node: Node) -> None:
        """Config errors found before anything runs."""

    def compile(self, node: Node) -> str:
        return self.ctx.compile(node)

    def execute(self, node: Node) -> NodeResult:
        ctx = self.ctx
        sql = self.compile(node)
        route = route_for(ctx, node)
        adapter = ctx.adapter(node)
        relation = ctx.relation(node)
        adapter.create_schema(relation.database, relation.schema or "")
        ctx.run_hooks(node, "pre-hook", adapter)
        landed = self.build(node, route, adapter, relation, sql,
                            ctx.post_hooks_inside(node, adapter))
        ctx.run_hooks(node, "post-hook", adapter, transaction=False)
        ctx.write_run(node, landed.run_sql)
        return self.result(node, landed, sql, relation, adapter)

    def build(self, node: Node, route: Route, adapter: Adapter, relation: Relation, sql: str,
              inside: mat.Inside) -> Landed:
        raise NotImplementedError

    def result(self, node: Node, landed: Landed, sql: str, relation: Relation,
               adapter: Adapter) -> NodeResult:
        response = dict(vars(landed.response))  # asdict deep-copies: slower
        if landed.route != PUSHDOWN:
            response = {"_message": landed.message, "code": "FEDERATED",
                        "rows_affected": landed.response.rows_affected}
        return NodeResult(node.unique_id, "success", landed.message,
                          rows_affected=landed.rows_affected,
                          adapter_response=response, compiled_code=sql,
                          relation_name=str(relation), route=landed.route,
                          inputs=landed.inputs)


class ModelRunner(NodeRunner):
    resource_type = "model"

    def build(self, node: Node, route: Route, adapter: Adapter, relation: Relation, sql: str,
              inside: mat.Inside) -> Landed:
        return route.build(relation, sql, inside)


class SeedRunner(NodeRunner):
    resource_type = "seed"

    def compile(self, node: Node) -> str:
        return ""  # a seed is a file, not SQL

    def build(self, node: Node, route: Route, adapter: Adapter, relation: Relation, sql: str,
              inside: mat.Inside) -> Landed:
        built = mat.build_seed(adapter, relation, Path(node.root_path or ""), node.config,
                               full_refresh=self.ctx.full_refresh_for(node), inside=inside)
        return Landed(built.response, built.message, "", PUSHDOWN)

    def result(self, node: Node, landed: Landed, sql: str, relation: Relation,
               adapter: Adapter) -> NodeResult:
        preview = None
        if self.ctx.show_seeds:  # dbt: a random sample, 10 rows shown, `...` if more
            preview = adapter.read_arrow(adapter.limit_query(
                f"select * from {relation} order by random()", SEED_SAMPLE_ROWS + 1))
        rows = landed.response.rows_affected
        return NodeResult(node.unique_id, "success", landed.message, rows_affected=rows,
                          adapter_response={"_message": landed.message, "code": "INSERT",
                                            "rows_affected": rows},
                          relation_name=str(relation), data=preview, route=PUSHDOWN)


class SnapshotRunner(NodeRunner):
    resource_type = "snapshot"

    def check(self, node: Node) -> None:
        from dvt_engine.execution.snapshot import snapshot_config

        snapshot_config(node)
        plan = self.ctx.plan(node)
        if plan is not None and plan.is_federated and \
                str(node.config.get("federation_route") or "").lower() == "spark":
            raise CompilationError(
                f"snapshot {node.name} reads other connections: snapshots are federated by "
                "staging their inputs on the target, not in Spark",
                node=node.unique_id, path=node.original_file_path,
                hint="Remove federation_route: spark from this snapshot.")

    def build(self, node: Node, route: Route, adapter: Adapter, relation: Relation, sql: str,
              inside: mat.Inside) -> Landed:
        from dvt_engine.execution.snapshot import build_snapshot

        # a federated snapshot reads staged copies of its foreign inputs on the target
        with route.on_target(relation, sql) as local_sql:
            resp, run_sql, rows = build_snapshot(adapter, node, relation, local_sql, inside)
        return Landed(resp, resp.message, run_sql, route.name if route.name == PUSHDOWN
                      else "staged", rows=rows)

    def result(self, node: Node, landed: Landed, sql: str, relation: Relation,
               adapter: Adapter) -> NodeResult:
        resp = landed.response
        return NodeResult(node.unique_id, "success", resp.message,
                          rows_affected=landed.rows_affected,
                          adapter_response={**asdict(resp), "_message": resp.message},
                          compiled_code=sql, relation_name=str(relation), route=landed.route)


class TestRunner(NodeRunner):
    """A data test: its query's failures against warn_if / error_if. No hooks."""

    resource_type = "test"

    def execute(self, node: Node) -> NodeResult:
        ctx = self.ctx
        sql = self.compile(node)
        route = route_for(ctx, node)
        cfg = node.config
        main_sql = sql
        relation_name = None
        stores = cfg.get("store_failures") or (cfg.get("store_failures") is None and
                                               ctx.store_failures)
        if stores and route.name != PUSHDOWN:
            raise CompilationError(
                f"test {node.name} reads several connections: store_failures is not "
                "supported for such tests yet", node=node.unique_id,
                path=node.original_file_path,
                hint="Remove store_failures from this test, or run it where its inputs live.")
        if stores:
            adapter = ctx.adapter(node)
            rel = ctx.relation(node)
            adapter.create_schema(rel.database, rel.schema or "")
            mat.build_table(adapter, rel, sql)
            main_sql = f"select * from {rel}"
            relation_name = str(rel)
        wrapped = verdict_sql(node, main_sql)
        verdict = route.query(wrapped).to_pylist()
        ctx.write_run(node, wrapped if route.name == PUSHDOWN else route.describe(wrapped))
        return test_result(node, verdict, sql, ctx.warn_error, relation_name, route.name)


RUNNERS: dict[str, type[NodeRunner]] = {
    r.resource_type: r for r in (ModelRunner, SeedRunner, SnapshotRunner, TestRunner)}


class NodeExecution:
    """What a build command hands the DAG runner: a node in, its NodeResult out."""

    def __init__(self, inv: Invocation, plans: dict[str, ExecutionPlan]) -> None:
        self.ctx = ExecutionContext(inv, plans=plans)
        self._runners = {kind: cls(self.ctx) for kind, cls in RUNNERS.items()}

    def execute(self, node: Node) -> NodeResult:
        runner = self._runners.get(node.resource_type) or self._runners["model"]
        return runner.run(node)

    def flush(self) -> None:
        self.ctx.flush()


def verdict_sql(node: Node, main_sql: str) -> str:
    """dbt's test query: failures and the warn/error verdicts over the test's rows."""
    cfg = node.config
    limit = cfg.get("limit")
    fail_calc = cfg.get("fail_calc") or "count(*)"
    return (
        f"select\n  {fail_calc} as failures,\n"
        f"  case when {fail_calc} {cfg.get('warn_if') or '!= 0'} then 'true' else 'false' end"
        " as should_warn,\n"
        f"  case when {fail_calc} {cfg.get('error_if') or '!= 0'} then 'true' else 'false'"
        " end as should_error\n"
        f"from (\n{main_sql}\n{f'limit {int(limit)}' if limit is not None else ''}\n"
        ") dbt_internal_test"
    )


def test_result(node: Node, verdict: list[dict[str, Any]], sql: str, warn_error: bool,
                relation_name: str | None = None, route: str = PUSHDOWN) -> NodeResult:
    """The NodeResult of a test from its verdict row (failures, should_warn/error)."""
    # as dbt: names lower-cased (Snowflake answers FAILURES, SHOULD_WARN, SHOULD_ERROR)
    row = {str(k).lower(): v for k, v in (verdict[0] if verdict else {"failures": 0}).items()}
    failures = int(row.get("failures") or 0)
    should_warn = str(row.get("should_warn")).lower() == "true"
    should_error = str(row.get("should_error")).lower() == "true"
    status, message = test_status(failures, should_warn, should_error, node.config,
                                  warn_error)
    return NodeResult(node.unique_id, status, message,
                      failures=0 if status == "pass" else failures,
                      compiled_code=sql, relation_name=relation_name, adapter_response={},
                      route=route)


def test_status(failures: int, should_warn: bool, should_error: bool, cfg: dict[str, Any],
                warn_error: bool) -> tuple[str, str | None]:
    """dbt's test verdict: error severity + error_if -> fail; warn_if -> warn (fail under
    --warn-error); the message names the threshold that decided."""
    severity = str(cfg.get("severity") or "ERROR").upper()
    if severity == "ERROR" and should_error:
        status, threshold = "fail", cfg.get("error_if") or "!= 0"
    elif should_warn:
        status, threshold = ("fail" if warn_error else "warn"), cfg.get("warn_if") or "!= 0"
    else:
        return "pass", None
    verb = "fail" if status == "fail" else "warn"
    plural = "s" if failures != 1 else ""
    return status, f"Got {failures} result{plural}, configured to {verb} if {threshold}"


def short_error(exc: DvtError, node: Node) -> str:
    """dbt's one-line reason: 'Database Error in model x (models/x.sql)\n  msg'."""
    where = f"{node.resource_type} {node.name} ({node.original_file_path})"
    text = f"{exc.kind} in {where}\n  {exc.message}"
    if exc.path and exc.line and exc.path != node.original_file_path:
        text += f"\n  at {exc.path}:{exc.line}"
    elif exc.line:
        text += f"\n  at line {exc.line}"
    if exc.hint:
        text += f"\n  hint: {exc.hint}"
    return text
