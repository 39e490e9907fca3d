"""What the runners of one command share: compiling, hooks, target/ files, adapters.

One ExecutionContext per command. It knows how to compile a node, run its hooks, find
its adapter and relation, and write target/compiled and target/run; it does not know
what building a node means (runners.py) or where its SQL runs (routes.py).
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING

from dvt_engine.execution.materialize import Inside
from dvt_engine.filewriter import BackgroundWriter
from dvt_engine.jinja.context import RenderState, generic_test_kwargs, inject_ctes

if TYPE_CHECKING:
    from dvt_engine.adapters import Adapter, Relation
    from dvt_engine.invocation import Invocation
    from dvt_engine.manifest import Node
    from dvt_engine.planner import ExecutionPlan



class ExecutionContext:
    def __init__(self, inv: Invocation, *, write_files: bool = True,
                 plans: dict[str, ExecutionPlan] | None = None) -> None:
        self.inv = inv
        self.events = inv.events
        # the planner's decision per node: its target, and federation's foreign inputs
        self.plans = plans or {}
        self.compiler = inv.compiler
        self.full_refresh = inv.options.full_refresh
        self.store_failures = inv.options.store_failures
        self.warn_error = inv.options.warn_error
        self.write_files = write_files
        self.show_seeds = inv.options.command == "seed" and inv.options.show
        self.target_dir = inv.target_dir
        self._target = str(self.target_dir)
        self.writer = BackgroundWriter()
        # when each node's compile step ended: run_results' timing has compile + execute
        self._compiled_at: dict[str, float] = {}

    def flush(self) -> None:
        """Wait for compiled/run files to be on disk."""
        for exc in self.writer.flush():
            self.events.warn(f"could not write a file under target/: {exc}")

    # -- where a node runs --------------------------------------------------------------
    def plan(self, node: Node) -> ExecutionPlan | None:
        return self.plans.get(node.unique_id)

    def target_of(self, node: Node) -> str | None:
        plan = self.plans.get(node.unique_id)
        return plan.target if plan is not None else node.target

    def adapter(self, node: Node) -> Adapter:
        return self.inv.adapter(self.target_of(node))

    def relation(self, node: Node) -> Relation:
        return self.compiler.relation_of(node)

    def full_refresh_for(self, node: Node) -> bool:
        """The node's own `full_refresh` config wins over --full-refresh."""
        cfg = node.config.get("full_refresh")
        return bool(cfg) if cfg is not None else self.full_refresh

    # -- compile ------------------------------------------------------------------------
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

    def compiled_at(self, node: Node, default: float) -> float:
        return self._compiled_at.pop(node.unique_id, default)

    def _compile_generic_test(self, node: Node) -> str:
        # one RenderState for the kwargs and the test: an ephemeral `model` (or `to`)
        # adds its CTE there, and the CTEs are injected into the test's SQL
        state = RenderState(node=node, execute=True)
        extra = {"_dbt_generic_test_kwargs": generic_test_kwargs(self.compiler, node, state)}
        sql = self.compiler.render(node.raw_code, state, node.original_file_path, extra)
        return inject_ctes(sql, state.ctes)

    # -- files --------------------------------------------------------------------------
    def write_run(self, node: Node, sql: str) -> None:
        """target/run/...: the SQL that built the node."""
        if self.write_files:
            self._write("run", node, sql)

    def _write(self, kind: str, node: Node, sql: str) -> None:
        # plain strings: three Path joins per file cost more than the write's Python side
        path = f"{self._target}/{kind}/{node.package_name}/{node.original_file_path}"
        if node.resource_type == "test" and node.test_metadata is not None:
            path = f"{path}/{node.alias}.sql"
        self.writer.write(path, sql)

    # -- hooks --------------------------------------------------------------------------
    def run_hooks(self, node: Node, key: str, adapter: Adapter,
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

    def post_hooks_inside(self, node: Node, adapter: Adapter) -> Inside:
        """The post-hooks that run inside the build's transaction (None when there are none:
        a build without hooks keeps its cheaper path)."""
        if not node.config.get("post-hook"):
            return None
        return lambda: self.run_hooks(node, "post-hook", adapter, transaction=True)


_ISO_SECOND: tuple[int, str] = (-1, "")


def iso(ts: float) -> str:
    """`2024-01-31T12:00:00.123456Z` (UTC); runs four times per node, so the date and time
    of the second are formatted once per second."""
    global _ISO_SECOND
    second = int(ts)
    cached_second, text = _ISO_SECOND
    if cached_second != second:
        text = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S")
        _ISO_SECOND = (second, text)
    return f"{text}.{int((ts - second) * 1_000_000):06d}Z"
