"""target/manifest.json and target/run_results.json in dbt 1.10's shapes (v12 / v6)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

MANIFEST_KEYS = {"metadata", "nodes", "sources", "macros", "docs", "exposures", "metrics",
                 "groups", "selectors", "disabled", "parent_map", "child_map", "group_map",
                 "saved_queries", "semantic_models", "unit_tests"}
MODEL_KEYS = {"database", "schema", "name", "resource_type", "package_name", "path",
              "original_file_path", "unique_id", "fqn", "alias", "checksum", "config", "tags",
              "description", "columns", "meta", "group", "docs", "patch_path", "build_path",
              "unrendered_config", "created_at", "relation_name", "raw_code", "doc_blocks",
              "language", "refs", "sources", "metrics", "depends_on", "compiled_path",
              "contract", "access", "constraints", "version", "latest_version",
              "deprecation_date", "primary_key", "time_spine"}
SOURCE_KEYS = {"database", "schema", "name", "resource_type", "package_name", "path",
               "original_file_path", "unique_id", "fqn", "source_name", "source_description",
               "loader", "identifier", "quoting", "loaded_at_field", "freshness", "external",
               "description", "columns", "meta", "source_meta", "tags", "config",
               "patch_path", "unrendered_config", "relation_name", "created_at", "doc_blocks"}
MACRO_KEYS = {"name", "resource_type", "package_name", "path", "original_file_path",
              "unique_id", "macro_sql", "depends_on", "description", "meta", "docs",
              "patch_path", "arguments", "created_at", "supported_languages"}
RESULT_KEYS = {"status", "timing", "thread_id", "execution_time", "adapter_response",
               "message", "failures", "unique_id", "compiled", "compiled_code",
               "relation_name", "batch_results"}


def _write(project: Any) -> None:
    project.write("seeds/raw_orders.csv", "order_id,amount\n1,10\n2,20\n")
    project.write("models/staging/stg_orders.sql",
                  "{{ config(tags=['finance']) }}\nselect * from {{ ref('raw_orders') }}")
    project.write("models/marts/orders.sql", "{{ config(materialized='table') }}\n"
                                             "select o.* from {{ ref('stg_orders') }} o")
    project.write("models/marts/broken.sql", "select nope from {{ ref('stg_orders') }}")
    project.write("models/marts/after_broken.sql", "select * from {{ ref('broken') }}")
    project.write("models/marts/_marts.yml", """
        version: 2
        models:
          - name: orders
            description: one row per order
            columns:
              - name: order_id
                tests: [unique]
              - name: amount
                tests:
                  - relationships: {to: ref('stg_orders'), field: amount}
        sources:
          - name: app
            tables: [{name: events, description: raw events}]
    """)


def _load(project: Any, name: str) -> dict[str, Any]:
    return json.loads((project.root / "target" / name).read_text())


def test_manifest_shape(project: Any) -> None:
    _write(project)
    run = project.dvt("parse")
    assert run.exit_code == 0, run.output
    m = _load(project, "manifest.json")
    assert set(m) == MANIFEST_KEYS
    meta = m["metadata"]
    assert meta["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/manifest/v12.json"
    assert meta["project_name"] == "proj"
    assert meta["project_id"] == hashlib.md5(b"proj").hexdigest()
    assert meta["adapter_type"] == "duckdb"
    assert meta["generated_at"].endswith("Z")
    for key in ("dbt_version", "invocation_id", "env"):
        assert key in meta

    orders = m["nodes"]["model.proj.orders"]
    assert set(orders) >= MODEL_KEYS
    assert orders["fqn"] == ["proj", "marts", "orders"]
    assert orders["path"] == "marts/orders.sql"
    assert orders["original_file_path"] == "models/marts/orders.sql"
    assert orders["database"] == "dev" and orders["schema"] == "main"
    assert orders["relation_name"] == '"dev"."main"."orders"'
    raw = (project.root / "models/marts/orders.sql").read_text()
    assert orders["checksum"] == {"name": "sha256",
                                  "checksum": hashlib.sha256(raw.encode()).hexdigest()}
    assert orders["refs"] == [{"name": "stg_orders", "package": None, "version": None}]
    assert orders["depends_on"]["nodes"] == ["model.proj.stg_orders"]
    assert orders["description"] == "one row per order"
    assert orders["patch_path"] == "proj://models/marts/_marts.yml"
    assert orders["config"]["materialized"] == "table"
    assert orders["unrendered_config"] == {"materialized": "table"}
    assert orders["compiled_path"] is None
    assert orders["language"] == "sql" and orders["access"] == "protected"
    assert m["nodes"]["model.proj.stg_orders"]["tags"] == ["finance"]

    tests = {n["name"]: n for n in m["nodes"].values() if n["resource_type"] == "test"}
    unique = tests["unique_orders_order_id"]
    assert unique["unique_id"].startswith("test.proj.unique_orders_order_id.")
    assert unique["column_name"] == "order_id"
    assert unique["attached_node"] == "model.proj.orders"
    assert unique["file_key_name"] == "models.orders"
    assert unique["fqn"] == ["proj", "marts", "unique_orders_order_id"]
    assert unique["test_metadata"]["name"] == "unique"
    assert unique["test_metadata"]["kwargs"]["column_name"] == "order_id"
    assert unique["test_metadata"]["kwargs"]["model"] == \
        "{{ get_where_subquery(ref('orders')) }}"
    rel = tests["relationships_orders_amount__amount__ref_stg_orders_"]
    assert sorted(rel["depends_on"]["nodes"]) == ["model.proj.orders", "model.proj.stg_orders"]

    seed = m["nodes"]["seed.proj.raw_orders"]
    assert seed["resource_type"] == "seed" and seed["config"]["materialized"] == "seed"

    src = m["sources"]["source.proj.app.events"]
    assert set(src) >= SOURCE_KEYS
    assert src["source_name"] == "app" and src["description"] == "raw events"
    assert src["relation_name"] == '"dev"."app"."events"'
    assert src["fqn"] == ["proj", "marts", "app", "events"]

    macro = m["macros"]["macro.dvt.generate_schema_name"] if \
        "macro.dvt.generate_schema_name" in m["macros"] else \
        m["macros"]["macro.dbt.generate_schema_name"]
    assert set(macro) >= MACRO_KEYS

    every = set(m["nodes"]) | set(m["sources"])
    assert set(m["parent_map"]) == every and set(m["child_map"]) == every
    assert m["child_map"]["model.proj.stg_orders"] == sorted(
        m["child_map"]["model.proj.stg_orders"])
    assert "model.proj.orders" in m["child_map"]["model.proj.stg_orders"]
    assert m["parent_map"]["model.proj.orders"] == ["model.proj.stg_orders"]


def test_manifest_after_compile_has_compiled_fields(project: Any) -> None:
    _write(project)
    assert project.dvt("compile", "-s", "orders").exit_code == 0
    node = _load(project, "manifest.json")["nodes"]["model.proj.orders"]
    assert node["compiled_path"] == "target/compiled/proj/models/marts/orders.sql"
    assert node["compiled"] is True
    assert 'from "dev"."main"."stg_orders" o' in node["compiled_code"]


def test_disabled_nodes_in_manifest(project: Any) -> None:
    project.write("models/off.sql", "{{ config(enabled=false) }}select 1 as id")
    project.write("models/on.sql", "select 1 as id")
    assert project.dvt("parse").exit_code == 0
    m = _load(project, "manifest.json")
    assert "model.proj.off" not in m["nodes"]
    assert m["disabled"]["model.proj.off"][0]["config"]["enabled"] is False


def test_run_results_shape(project: Any) -> None:
    _write(project)
    assert project.dvt("seed").exit_code == 0
    run = project.dvt("run", "--threads", "2", "--vars", "{a: 1}")
    assert run.exit_code == 1
    rr = _load(project, "run_results.json")
    assert set(rr) == {"metadata", "results", "elapsed_time", "args"}
    assert rr["metadata"]["dbt_schema_version"] == \
        "https://schemas.getdbt.com/dbt/run-results/v6.json"
    for key in ("dbt_version", "generated_at", "invocation_id", "env"):
        assert key in rr["metadata"]
    assert isinstance(rr["elapsed_time"], float)
    assert rr["args"]["which"] == "run"
    assert rr["args"]["threads"] == 2 and rr["args"]["vars"] == {"a": 1}
    by_id = {r["unique_id"]: r for r in rr["results"]}
    assert set(by_id) == {"model.proj.stg_orders", "model.proj.orders", "model.proj.broken",
                          "model.proj.after_broken"}
    for r in rr["results"]:
        assert set(r) == RESULT_KEYS
    ok = by_id["model.proj.orders"]
    assert ok["status"] == "success" and ok["message"] == "OK"
    assert ok["adapter_response"]["_message"] == "OK"
    assert ok["failures"] is None
    assert ok["compiled"] is True and "stg_orders" in ok["compiled_code"]
    assert ok["relation_name"] == '"dev"."main"."orders"'
    assert [t["name"] for t in ok["timing"]] == ["compile", "execute"]
    assert all(t["started_at"].endswith("Z") for t in ok["timing"])
    assert ok["thread_id"].startswith("Thread-")
    assert ok["execution_time"] > 0
    bad = by_id["model.proj.broken"]
    assert bad["status"] == "error"
    assert "models/marts/broken.sql" in bad["message"]
    skipped = by_id["model.proj.after_broken"]
    assert skipped["status"] == "skipped"
    assert skipped["timing"] == [] and skipped["execution_time"] == 0
    assert skipped["compiled"] is False and skipped["message"] is None


def test_run_results_for_tests_and_seeds(project: Any) -> None:
    _write(project)
    project.write("models/marts/broken.sql", "select 1 as id")
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    by_id = {r["unique_id"]: r for r in _load(project, "run_results.json")["results"]}
    seed = by_id["seed.proj.raw_orders"]
    assert seed["message"] == "INSERT 2"
    assert seed["adapter_response"] == {"_message": "INSERT 2", "code": "INSERT",
                                        "rows_affected": 2}
    test = next(r for u, r in by_id.items() if u.startswith("test.proj.unique_orders"))
    assert test["status"] == "pass" and test["failures"] == 0 and test["message"] is None
