"""snapshot, docs generate/serve, source freshness, clone, sync: real DuckDB, tmp projects."""

from __future__ import annotations

import json
import re
import shutil
import threading
import urllib.request
from pathlib import Path

from tests.conftest import Project

SNAP_TS = """
{% snapshot orders_snap %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp',
          updated_at='updated_at') }}
select * from {{ ref('orders') }}
{% endsnapshot %}
"""

ORDERS_CSV = """
id,status,updated_at
1,placed,2024-01-01 00:00:00
2,placed,2024-01-01 00:00:00
"""


def _versions(project: Project, table: str = "snapshots.orders_snap") -> list[tuple]:
    return project.query(
        f"select id, status, dbt_valid_from, dbt_valid_to from {table} "
        "order by id, dbt_valid_from")


# -- snapshots ---------------------------------------------------------------------------
def test_snapshot_timestamp_strategy_versions_changed_rows(project: Project) -> None:
    project.write("seeds/orders.csv", ORDERS_CSV)
    project.write("snapshots/orders_snap.sql", SNAP_TS)
    assert project.dvt("seed").exit_code == 0
    first = project.dvt("snapshot")
    assert first.exit_code == 0, first.output
    assert first.statuses == {"orders_snap": "success"}
    assert "OK snapshotted snapshots.orders_snap" in first.output
    rows = _versions(project)
    assert [(r[0], r[1], r[3]) for r in rows] == [(1, "placed", None), (2, "placed", None)]
    scd = project.query("select dbt_scd_id, md5('1|2024-01-01 00:00:00') "
                        "from snapshots.orders_snap where id = 1")[0]
    assert scd[0] == scd[1]  # dbt's md5(unique_key | updated_at)

    project.query("update main.orders set status = 'shipped', "
                  "updated_at = '2024-02-01' where id = 1")
    project.query("insert into main.orders values (3, 'placed', '2024-02-01')")
    second = project.dvt("snapshot")
    assert second.exit_code == 0, second.output
    rows = _versions(project)
    by_id = {i: [r for r in rows if r[0] == i] for i in (1, 2, 3)}
    assert len(by_id[1]) == 2
    old, new = by_id[1]
    assert (old[1], str(old[3])) == ("placed", "2024-02-01 00:00:00")  # closed out
    assert (new[1], new[3]) == ("shipped", None)
    assert len(by_id[2]) == 1 and by_id[2][0][3] is None  # unchanged: not duplicated
    assert len(by_id[3]) == 1 and by_id[3][0][3] is None  # new row inserted

    third = project.dvt("snapshot")  # nothing changed: nothing added
    assert third.exit_code == 0
    assert len(_versions(project)) == 4


def test_snapshot_post_hook_runs_before_the_commit(project: Project) -> None:
    """As dbt: a snapshot's post-hooks run inside its transaction. A failing one leaves no
    table on the first run and the old versions on a later one."""
    failing = SNAP_TS.replace("updated_at='updated_at')",
                              "updated_at='updated_at', post_hook='select * from nowhere')")
    project.write("seeds/orders.csv", ORDERS_CSV)
    project.write("snapshots/orders_snap.sql", failing)
    assert project.dvt("seed").exit_code == 0
    first = project.dvt("snapshot")
    assert first.statuses == {"orders_snap": "error"}, first.output
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name = 'orders_snap'") == [(0,)]
    project.write("snapshots/orders_snap.sql", SNAP_TS)
    assert project.dvt("snapshot").exit_code == 0
    project.query("update main.orders set status = 'shipped', "
                  "updated_at = '2024-02-01' where id = 1")
    project.write("snapshots/orders_snap.sql", failing)
    again = project.dvt("snapshot")
    assert again.statuses == {"orders_snap": "error"}, again.output
    assert [(r[0], r[1], r[3]) for r in _versions(project)] == [
        (1, "placed", None), (2, "placed", None)]


def test_snapshot_defined_in_yaml_alone(project: Project) -> None:
    """dbt 1.9: `snapshots:` in YAML with `relation:` and no .sql block."""
    project.write("seeds/orders.csv", ORDERS_CSV)
    project.write("snapshots/snapshots.yml", """
snapshots:
  - name: orders_yaml_snap
    relation: ref('orders')
    description: every version of every order
    config:
      schema: snapshots
      unique_key: id
      strategy: timestamp
      updated_at: updated_at
""")
    listing = project.dvt("ls", "--resource-type", "snapshot", "--output", "name")
    assert listing.output.split() == ["orders_yaml_snap"], listing.output
    assert project.dvt("seed").exit_code == 0
    first = project.dvt("snapshot")
    assert first.exit_code == 0, first.output
    # `schema:` goes through generate_schema_name, as for models (target_schema does not)
    assert "OK snapshotted main_snapshots.orders_yaml_snap" in first.output
    project.query("update main.orders set status = 'shipped', "
                  "updated_at = '2024-02-01' where id = 1")
    assert project.dvt("snapshot").exit_code == 0
    rows = _versions(project, "main_snapshots.orders_yaml_snap")
    assert [(r[0], r[1], r[3] is None) for r in rows] == [
        (1, "placed", False), (1, "shipped", True), (2, "placed", True)]
    # a relation that is not a ref() or source() is an error naming the file
    project.write("snapshots/snapshots.yml", "snapshots:\n  - name: bad\n"
                                             "    relation: raw.orders\n")
    bad = project.dvt("ls")
    assert bad.exit_code == 2
    assert "snapshots/snapshots.yml" in bad.output and "ref() or source()" in bad.output


def test_snapshot_check_strategy_and_invalidated_hard_deletes(project: Project) -> None:
    project.query("create schema raw; create table raw.customers as "
                  "select * from (values (1, 'gold', 'a'), (2, 'silver', 'b'), "
                  "(3, 'bronze', 'c')) t(id, status, note)")
    project.write("models/sources.yml", """
        sources:
          - name: raw
            schema: raw
            tables:
              - name: customers
    """)
    project.write("snapshots/cust.sql", """
        {% snapshot cust_snap %}
        {{ config(target_schema='snapshots', unique_key='id', strategy='check',
                  check_cols=['status'], hard_deletes='invalidate') }}
        select * from {{ source('raw', 'customers') }}
        {% endsnapshot %}
    """)
    assert project.dvt("snapshot").exit_code == 0
    project.query("update raw.customers set status = 'platinum' where id = 1;"
                  "update raw.customers set note = 'changed' where id = 2;"
                  "delete from raw.customers where id = 3")
    run = project.dvt("snapshot")
    assert run.exit_code == 0, run.output
    rows = project.query("select id, status, dbt_valid_to is null as current "
                         "from snapshots.cust_snap order by id, dbt_valid_from")
    assert rows == [
        (1, "gold", False), (1, "platinum", True),  # checked column changed: new version
        (2, "silver", True),  # only an unchecked column changed: no new version
        (3, "bronze", False),  # deleted in the source: closed out
    ]


def test_snapshot_hard_deletes_new_record(project: Project) -> None:
    project.query("create table main.src as select * from (values (1, 'a'), (2, 'b')) t(id, v)")
    project.write("snapshots/s.sql", """
        {% snapshot s_snap %}
        {{ config(target_schema='snapshots', unique_key='id', strategy='check',
                  check_cols='all', hard_deletes='new_record') }}
        select * from main.src
        {% endsnapshot %}
    """)
    assert project.dvt("snapshot").exit_code == 0
    project.query("delete from main.src where id = 2")
    assert project.dvt("snapshot").exit_code == 0
    rows = project.query("select id, dbt_is_deleted, dbt_valid_to is null "
                         "from snapshots.s_snap order by id, dbt_valid_from")
    assert rows == [(1, "False", True), (2, "False", False), (2, "True", True)]
    assert project.dvt("snapshot").exit_code == 0  # still deleted: no further rows
    assert len(project.query("select * from snapshots.s_snap")) == 3


def test_snapshot_without_unique_key_fails_naming_the_file(project: Project) -> None:
    project.write("snapshots/bad.sql", """
        {% snapshot bad %}
        {{ config(target_schema='snapshots', strategy='timestamp', updated_at='u') }}
        select 1 as id, now() as u
        {% endsnapshot %}
    """)
    run = project.dvt("snapshot")
    assert run.exit_code == 1
    assert run.statuses == {"bad": "error"}
    assert "unique_key is required" in run.output
    assert "snapshots/bad.sql" in run.output


# -- docs ----------------------------------------------------------------------------------
def test_docs_generate_writes_catalog_and_index_and_serves(project: Project) -> None:
    project.write("seeds/orders.csv", ORDERS_CSV)
    project.write("models/order_ids.sql", "select id from {{ ref('orders') }}\n")
    project.write("models/schema.yml", """
        models:
          - name: order_ids
            description: Order keys </script><b>not html</b>
            columns:
              - name: id
                description: the key
        sources:
          - name: raw
            schema: main
            tables:
              - name: orders
    """)
    assert project.dvt("build").exit_code == 0
    run = project.dvt("docs", "generate")
    assert run.exit_code == 0, run.output
    target = project.root / "target"
    assert f"Catalog written to {(target / 'catalog.json').resolve()}" in run.output
    catalog = json.loads((target / "catalog.json").read_text())
    assert catalog["errors"] is None
    assert catalog["metadata"]["dbt_schema_version"].endswith("catalog/v1.json")
    model = catalog["nodes"]["model.proj.order_ids"]
    assert model["metadata"]["type"] == "VIEW"
    assert model["metadata"]["name"] == "order_ids"
    assert model["columns"]["id"] == {"type": "INTEGER", "index": 1, "name": "id",
                                      "comment": None}
    seed = catalog["nodes"]["seed.proj.orders"]
    assert seed["metadata"]["type"] == "BASE TABLE"
    assert list(seed["columns"]) == ["id", "status", "updated_at"]
    assert "source.proj.raw.orders" in catalog["sources"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert '"main"."orders"' in manifest["nodes"]["model.proj.order_ids"]["compiled_code"]

    html = (target / "index.html").read_text()
    # self-contained: no external scripts, styles or fonts
    assert not re.search(r"<script[^>]+src=|<link|@import|url\(", html)
    embedded = re.search(r'id="dvt-catalog" type="application/json">(.*?)</script>', html,
                         re.S)
    assert embedded is not None
    assert "model.proj.order_ids" in json.loads(embedded.group(1))["nodes"]
    # the description's </script> is escaped inside the JSON, never closing the tag
    assert "</script><b>" not in html

    from dvt_engine.commands.docs import make_server

    server = make_server(target, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/index.html"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            assert b"dvt-manifest" in resp.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_docs_serve_without_generate_is_an_error(project: Project) -> None:
    run = project.dvt("docs", "serve", "--no-browser", "--port", "0")
    assert run.exit_code == 2
    assert "dvt docs generate" in run.output


# -- source freshness --------------------------------------------------------------------
FRESHNESS_YML = """
sources:
  - name: raw
    schema: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: day}
    tables:
      - name: fresh
      - name: late
      - name: stale
        freshness:
          warn_after: {count: 1, period: hour}
          error_after: {count: 2, period: day}
      - name: unchecked
        freshness: null
"""


def _freshness_tables(project: Project) -> None:
    project.query(
        "create schema raw;"
        "create table raw.fresh as select now() at time zone 'UTC' as loaded_at;"
        "create table raw.late as select (now() - interval 3 day) at time zone 'UTC' "
        "as loaded_at;"
        "create table raw.stale as select (now() - interval 3 day) at time zone 'UTC' "
        "as loaded_at;"
        "create table raw.unchecked as select 1 as x")


def test_source_freshness_statuses_and_sources_json(project: Project) -> None:
    _freshness_tables(project)
    project.write("models/sources.yml", FRESHNESS_YML)
    run = project.dvt("source", "freshness")
    assert run.exit_code == 1, run.output  # one source is past error_after
    assert run.statuses == {"fresh": "pass", "late": "warn", "stale": "error"}
    assert re.search(r"START freshness of raw\.fresh \.+ \[RUN\]", run.output)
    assert re.search(r"PASS freshness of raw\.fresh \.+ \[PASS in \d+\.\d\ds\]", run.output)
    assert re.search(r"WARN freshness of raw\.late \.+ \[WARN in", run.output)
    assert re.search(r"ERROR STALE freshness of raw\.stale \.+ \[ERROR STALE in", run.output)
    data = json.loads((project.root / "target" / "sources.json").read_text())
    assert data["metadata"]["dbt_schema_version"].endswith("sources/v3.json")
    results = {r["unique_id"]: r for r in data["results"]}
    assert set(results) == {"source.proj.raw.fresh", "source.proj.raw.late",
                            "source.proj.raw.stale"}
    late = results["source.proj.raw.late"]
    assert late["status"] == "warn"
    assert 3 * 86400 - 600 < late["max_loaded_at_time_ago_in_s"] < 3 * 86400 + 600
    assert late["criteria"]["warn_after"] == {"count": 1, "period": "day"}


def test_source_freshness_selected_pass_exits_zero_and_missing_table_is_runtime_error(
        project: Project) -> None:
    _freshness_tables(project)
    project.write("models/sources.yml", FRESHNESS_YML + "      - name: nowhere\n")
    ok = project.dvt("source", "freshness", "-s", "source:raw.fresh")
    assert ok.exit_code == 0, ok.output
    assert ok.statuses == {"fresh": "pass"}
    broken = project.dvt("source", "freshness", "-s", "source:raw.nowhere")
    assert broken.exit_code == 1
    assert broken.statuses == {"nowhere": "runtime error"}
    assert re.search(r"ERROR freshness of raw\.nowhere \.+ \[ERROR in", broken.output)
    result = json.loads((project.root / "target" / "sources.json").read_text())["results"][0]
    assert result["status"] == "runtime error" and "nowhere" in result["error"]


# -- clone -----------------------------------------------------------------------------------
TWO_TARGETS = """
proj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      threads: 1
    prod:
      type: duckdb
      path: dev.duckdb
      schema: prod
      threads: 1
"""


def test_clone_creates_views_on_the_state_relations(project: Project, tmp_path: Path) -> None:
    project.write("profiles.yml", TWO_TARGETS)
    project.write("seeds/orders.csv", ORDERS_CSV)
    project.write("models/order_ids.sql", "select id from {{ ref('orders') }}\n")
    project.write("models/not_in_prod.sql", "select 1 as x\n")
    assert project.dvt("build", "--target", "prod", "-s", "orders", "order_ids").exit_code == 0
    state = tmp_path / "prod_state"
    state.mkdir()
    shutil.copy(project.root / "target" / "manifest.json", state / "manifest.json")

    missing = project.dvt("clone")
    assert missing.exit_code == 2
    assert "--state" in missing.output

    run = project.dvt("clone", "--state", str(state))
    assert run.exit_code == 0, run.output
    assert "OK created clone model.proj.order_ids" in run.output
    views = project.query("select table_name, table_type from information_schema.tables "
                          "where table_schema = 'main' order by 1")
    assert views == [("order_ids", "VIEW"), ("orders", "VIEW")]  # not_in_prod: skipped
    assert project.query("select count(*) from main.order_ids") == [(2,)]
    project.query("insert into prod.orders values (3, 'placed', '2024-03-01')")
    assert project.query("select count(*) from main.order_ids") == [(3,)]  # reads prod

    again = project.dvt("clone", "--state", str(state))
    assert again.exit_code == 0
    assert "NO-OP=3" in again.output  # already there (and not_in_prod has no state relation)


# -- sync --------------------------------------------------------------------------------
def test_sync_dry_run_reports_duckdb_present(project: Project) -> None:
    run = project.dvt("sync", "--dry-run")
    assert run.exit_code == 0, run.output
    assert re.search(r"^\s+duckdb\s+present", run.output, re.M)
    assert re.search(r"^\s+duckdb-engine\s+present", run.output, re.M)
    assert "Everything the profile needs is installed." in run.output
    assert "pip install" not in run.output
