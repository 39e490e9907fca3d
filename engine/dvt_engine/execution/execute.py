"""What running one node means, per resource type: compile, materialize, test."""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dvt_engine.adapters import Adapter, Relation
from dvt_engine.errors import DvtError
from dvt_engine.execution import materialize as mat
from dvt_engine.filewriter import BackgroundWriter
from dvt_engine.invocation import Invocation
from dvt_engine.jinja.context import RenderState, inject_ctes
from dvt_engine.manifest import Node
from dvt_engine.planner import ExecutionPlan, federation_unavailable
from dvt_engine.runner import NodeResult

_CALL_VALUE = re.compile(r"^\s*(ref|source|get_where_subquery)\s*\(.*\)\s*$", re.S)


class NodeExecutor:
    """Compiles and runs nodes of one command; writes target/compiled and target/run."""

    def __init__(self, inv: Invocation, *, write_files: bool = True,
                 plans: dict[str, ExecutionPlan] | None = None) -> None:
        self.inv = inv
        # the planner's decision per node: its target, and federation's foreign inputs
        self.plans = plans or {}
        self.compiler = inv.compiler
        self.full_refresh = inv.options.full_refresh
        self.store_failures = inv.options.store_failures
        self.write_files = write_files
        self.show_seeds = inv.options.command == "seed" and inv.options.show
        self.target_dir = inv.target_dir
        self.writer = BackgroundWriter()
        # when each node's compile step ended: run_results' timing has compile + execute
        self._compiled_at: dict[str, float] = {}

    def flush(self) -> None:
        """Wait for compiled/run files to be on disk."""
        for exc in self.writer.flush():
            self.inv.events.warn(f"could not write a file under target/: {exc}")

    # -- compile --------------------------------------------------------------------
    def compile(self, node: Node) -> str:
        if node.resource_type == "test" and node.test_metadata is not None:
            sql = self._compile_generic_test(node)
        else:
            sql = self.compiler.compile_node(node)
        node.compiled_code = sql
        self._compiled_at[node.unique_id] = time.time()
        if self.write_files:
            self._write("compiled", node, sql)
        return sql

    def _compile_generic_test(self, node: Node) -> str:
        # one RenderState for the kwargs and the test: an ephemeral `model` (or `to`)
        # adds its CTE there, and the CTEs are injected into the test's SQL
        state = RenderState(node=node, execute=True)
        extra = {"_dbt_generic_test_kwargs": self._test_kwargs(node, state)}
        sql = self.compiler.render(node.raw_code, state, node.original_file_path, extra)
        return inject_ctes(sql, state.ctes)

    def _test_kwargs(self, node: Node, state: RenderState) -> dict[str, Any]:
        """dbt renders the kwargs natively: `model` is a Relation (or the where-subquery
        text), so tests may call adapter.get_columns_in_relation(model) or model.name."""
        kwargs = dict((node.test_metadata or {}).get("kwargs") or {})
        out = {}
        for key, value in kwargs.items():
            if isinstance(value, str) and _CALL_VALUE.match(value):
                box: list[Any] = []
                self.compiler.render("{% do __dvt_box.append(" + value + ") %}", state,
                                     node.original_file_path, {"__dvt_box": box})
                out[key] = box[0] if box else None
            elif isinstance(value, str) and "{{" in value:
                out[key] = self.compiler.render(value, state, node.original_file_path)
            else:
                out[key] = value
        return out

    def _write(self, kind: str, node: Node, sql: str) -> None:
        path = self.target_dir / kind / node.package_name / node.original_file_path
        if node.resource_type == "test" and node.test_metadata is not None:
            path = path.parent / Path(node.original_file_path).name / f"{node.alias}.sql"
        self.writer.write(path, sql)

    def adapter(self, node: Node) -> Adapter:
        plan = self.plans.get(node.unique_id)
        return self.inv.adapter(plan.target if plan is not None else node.target)

    def relation(self, node: Node) -> Relation:
        return self.compiler.relation_of(node)

    # -- run ----------------------------------------------------------------------
    def execute(self, node: Node) -> NodeResult:
        started = time.time()
        try:
            plan = self.plans.get(node.unique_id)
            if plan is not None and plan.is_federated and node.resource_type == "model":
                from dvt_engine.execution.federate import run_federated

                # extract -> Spark -> land on the target; a failure fails this node alone
                result = run_federated(self, node, plan)
            elif plan is not None and plan.is_federated and node.resource_type == "test":
                from dvt_engine.execution.federate import run_federated_test

                result = run_federated_test(self, node, plan)
            elif plan is not None and plan.is_federated and node.resource_type == "snapshot":
                from dvt_engine.execution.federate import run_federated_snapshot

                result = run_federated_snapshot(self, node, plan)
            elif plan is not None and plan.is_federated:
                raise federation_unavailable(self.inv.manifest, node, plan)
            elif node.resource_type == "test":
                result = self._run_test(node)
            elif node.resource_type == "seed":
                result = self._run_seed(node)
            elif node.resource_type == "snapshot":
                from dvt_engine.execution.snapshot import run_snapshot

                result = run_snapshot(self, node)
            else:
                result = self._run_model(node)
        except DvtError as exc:
            if not exc.node and not exc.path:
                exc.node = node.unique_id
            result = NodeResult(node.unique_id, "error", _short(exc, node), error=str(exc))
        # dbt's two timing steps: compile (rendering), then execute (the statements)
        compiled = self._compiled_at.pop(node.unique_id, started)
        result.timing = [
            {"name": "compile", "started_at": _iso(started), "completed_at": _iso(compiled)},
            {"name": "execute", "started_at": _iso(compiled), "completed_at": _iso(time.time())}]
        result.node = node
        return result

    def _hooks(self, node: Node, key: str, adapter: Adapter,
               transaction: bool | None = None) -> None:
        """Run the node's hooks; with `transaction`, only those whose `transaction` setting
        (dbt's, true by default) matches: post-hooks run inside the build's transaction,
        `transaction: false` ones after its commit."""
        for hook in node.config.get(key) or []:
            sql = hook.get("sql") if isinstance(hook, dict) else hook
            inside = bool(hook.get("transaction", True)) if isinstance(hook, dict) else True
            if not sql or (transaction is not None and inside != transaction):
                continue
            rendered = self.compiler.render(str(sql), RenderState(node=node, execute=True),
                                            node.original_file_path)
            if rendered.strip():
                adapter.execute(rendered)

    def post_hooks_inside(self, node: Node, adapter: Adapter) -> mat.Inside:
        """The post-hooks that run inside the build's transaction (None when there are none:
        a build without hooks keeps its cheaper path)."""
        if not node.config.get("post-hook"):
            return None
        return lambda: self._hooks(node, "post-hook", adapter, transaction=True)

    def _run_model(self, node: Node) -> NodeResult:
        sql = self.compile(node)
        adapter = self.adapter(node)
        relation = self.relation(node)
        adapter.create_schema(relation.database, relation.schema or "")
        self._hooks(node, "pre-hook", adapter)
        kind = node.materialized
        inside = self.post_hooks_inside(node, adapter)
        if kind == "view":
            built = mat.build_view(adapter, relation, sql, inside)
        elif kind == "table":
            built = mat.build_table(adapter, relation, sql, inside)
        elif kind == "incremental":
            built = mat.build_incremental(adapter, relation, sql, node.config, self._full(node),
                                          inside)
        else:
            raise DvtError(f"unknown materialization '{node.materialized}'",
                           node=node.unique_id,
                           hint="Use view, table, incremental or ephemeral.")
        self._hooks(node, "post-hook", adapter, transaction=False)
        if self.write_files:
            self._write("run", node, sql)
        return NodeResult(node.unique_id, "success", built.message,
                          rows_affected=built.response.rows_affected,
                          adapter_response=asdict(built.response),
                          compiled_code=sql, relation_name=str(relation))

    def _full(self, node: Node) -> bool:
        cfg = node.config.get("full_refresh")
        return bool(cfg) if cfg is not None else self.full_refresh

    def _run_seed(self, node: Node) -> NodeResult:
        adapter = self.adapter(node)
        relation = self.relation(node)
        adapter.create_schema(relation.database, relation.schema or "")
        self._hooks(node, "pre-hook", adapter)
        built = mat.build_seed(adapter, relation, Path(node.root_path or ""), node.config,
                               full_refresh=self._full(node),
                               inside=self.post_hooks_inside(node, adapter))
        self._hooks(node, "post-hook", adapter, transaction=False)
        preview = None
        if self.show_seeds:
            preview = adapter.read_arrow(adapter.limit_query(f"select * from {relation}", 5))
        return NodeResult(node.unique_id, "success", built.message,
                          rows_affected=built.response.rows_affected,
                          adapter_response={"_message": built.message, "code": "INSERT",
                                            "rows_affected": built.response.rows_affected},
                          relation_name=str(relation), data=preview)

    def _run_test(self, node: Node) -> NodeResult:
        sql = self.compile(node)
        adapter = self.adapter(node)
        cfg = node.config
        main_sql = sql
        relation_name = None
        if cfg.get("store_failures") or (cfg.get("store_failures") is None and
                                         self.store_failures):
            rel = self.relation(node)
            adapter.create_schema(rel.database, rel.schema or "")
            mat.build_table(adapter, rel, sql)
            main_sql = f"select * from {rel}"
            relation_name = str(rel)
        wrapped = verdict_sql(node, main_sql)
        if self.write_files:
            self._write("run", node, wrapped)
        return self.test_result(node, adapter.fetch_dicts(wrapped), sql, relation_name)

    def test_result(self, node: Node, verdict: list[dict[str, Any]], sql: str,
                    relation_name: str | None = None) -> NodeResult:
        """The NodeResult of a test from its verdict row (failures, should_warn/error)."""
        # as dbt: names lower-cased (Snowflake answers FAILURES, SHOULD_WARN, SHOULD_ERROR)
        row = {str(k).lower(): v for k, v in (verdict[0] if verdict else {"failures": 0}).items()}
        failures = int(row.get("failures") or 0)
        should_warn = str(row.get("should_warn")).lower() == "true"
        should_error = str(row.get("should_error")).lower() == "true"
        status, message = _test_status(failures, should_warn, should_error, node.config,
                                       self.inv.options.warn_error)
        return NodeResult(node.unique_id, status, message,
                          failures=0 if status == "pass" else failures,
                          compiled_code=sql, relation_name=relation_name,
                          adapter_response={})


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


def _test_status(failures: int, should_warn: bool, should_error: bool, cfg: dict[str, Any],
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


def _iso(ts: float) -> str:
    import datetime

    # isoformat is several times cheaper than strftime, and this runs twice per node
    utc = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _short(exc: DvtError, node: Node) -> str:
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
