"""The example project builds end to end, and its incremental model behaves on re-runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Project

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture
def demo(tmp_path: Path) -> Project:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("target", "*.duckdb*", "logs"))
    return Project(root, db_file="demo.duckdb")


def test_demo_builds(demo: Project) -> None:
    run = demo.dvt("build")
    assert run.exit_code == 0, run.output
    # 5 seeds (CSV, Parquet, JSON), 7 models (+1 ephemeral, inlined), 1 snapshot,
    # 27 tests, 1 hook
    assert "Done. PASS=41 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=41" in run.output
    assert demo.query("select count(*) from country_codes")[0][0] > 0
    assert demo.query("select count(*) from customer_segments")[0][0] > 0
    types = dict(demo.query("select column_name, data_type from information_schema.columns "
                            "where table_name = 'raw_orders'"))
    assert types["amount"] == "DECIMAL(10,2)"  # column_types from dbt_project.yml
    # the ephemeral model is not a relation
    assert demo.query("select count(*) from information_schema.tables "
                      "where table_name = 'int_order_payments'") == [(0,)]


def test_demo_incremental_rerun(demo: Project) -> None:
    assert demo.dvt("build").exit_code == 0
    before = demo.query("select count(*), count(distinct event_id) from fct_events")[0]
    run = demo.dvt("run", "-s", "fct_events")
    assert run.exit_code == 0, run.output
    after = demo.query("select count(*), count(distinct event_id) from fct_events")[0]
    assert before == after == (15, 15)  # the overlapping latest event was replaced, not added


def test_demo_run_operation(demo: Project) -> None:
    assert demo.dvt("build").exit_code == 0
    run = demo.dvt("run-operation", "log_row_count", "--args", "{relation_name: orders}")
    assert run.exit_code == 0, run.output
    rows = demo.query("select count(*) from orders")[0][0]
    assert f"rows in \"demo\".\"main\".\"orders\": {rows}" in run.output
