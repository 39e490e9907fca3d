"""The Databricks adapter against Spark's Thrift server with the real databricks-sql-connector.

The stand-in (tests/integration/databricks_server.py) is OSS Spark: one catalog, no
information_schema, and no real Delta (a "delta" name over parquet), so MERGE / DELETE
are not tested here. Each test gets its own schema.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Project
from tests.integration.databricks_server import TOKEN, DatabricksServer

PROFILES = """
proj:
  target: dbx
  outputs:
    dbx:
      type: databricks
      host: 127.0.0.1
      http_path: cliservice
      token: {token}
      schema: {schema}
      threads: 2
      connection_uri: {uri}
    lake:
      type: duckdb
      path: lake.duckdb
"""

REGIONS = "region_id,region_name\n1,North\n2,South\n3,East\n"
CATEGORIES = "category_id,category_name,active\n10,Soda,true\n20,Water,false\n"


class DbxProject(Project):
    def __init__(self, root: Path, server: DatabricksServer, schema: str) -> None:
        super().__init__(root)
        self.server = server
        self.schema = schema

    def sql(self, text: str) -> list[tuple[object, ...]]:
        return self.server.query(text)

    def artifacts_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.root / "target").rglob("*")
                       if p.is_file())


@pytest.fixture
def dbx(tmp_path: Path, databricks_server: DatabricksServer) -> DbxProject:
    p = DbxProject(tmp_path / "proj", databricks_server, f"dvt_{uuid.uuid4().hex[:8]}")
    p.root.mkdir()
    p.write("dbt_project.yml", "name: proj\nprofile: proj\n")
    p.write("profiles.yml", PROFILES.format(token=TOKEN, schema=p.schema,
                                            uri=databricks_server.connection_uri))
    return p


def test_debug_seeds_views_tables_pushdown_tests_and_show(dbx: DbxProject) -> None:
    debug = dbx.dvt("debug")
    assert debug.exit_code == 0, debug.output
    assert "OK connection ok" in debug.output

    dbx.write("seeds/dim_regions.csv", REGIONS)
    dbx.write("seeds/dim_categories.csv", CATEGORIES)
    dbx.write("models/regions_v.sql", "select region_id, upper(region_name) as name "
                                      "from {{ ref('dim_regions') }}")
    dbx.write("models/regions_t.sql", "{{ config(materialized='table') }}\n"
                                      "select * from {{ ref('regions_v') }} where region_id > 1")
    # the trial's pushdown_databricks_only: a cross join of two tables on the target
    dbx.write("models/pushdown_databricks_only.sql", """
{{ config(materialized='table') }}
select r.region_id, r.region_name, c.category_id, c.category_name
from {{ ref('dim_regions') }} r cross join {{ ref('dim_categories') }} c
""")
    dbx.write("models/schema.yml", """
version: 2
models:
  - name: regions_t
    columns:
      - name: region_id
        data_tests: [not_null, unique]
  - name: pushdown_databricks_only
    columns:
      - name: region_id
        data_tests: [unique]
""")
    build = dbx.dvt("build")
    assert build.exit_code == 1, build.output  # the unique test on the cross join fails
    st = build.statuses
    assert st["dim_regions"] == st["dim_categories"] == "success", build.output
    assert st["regions_v"] == st["regions_t"] == st["pushdown_databricks_only"] == "success"
    assert st["not_null_regions_t_region_id"] == st["unique_regions_t_region_id"] == "pass"
    assert st["unique_pushdown_databricks_only_region_id"] == "fail"

    s = dbx.schema
    # seed types as dbt-databricks infers them (bigint, string, boolean)
    assert dbx.sql(f"select category_id + 1, category_name, active from {s}.dim_categories "
                   "order by 1") == [(11, "Soda", True), (21, "Water", False)]
    assert dbx.sql(f"select * from {s}.regions_t order by 1") == [(2, "SOUTH"), (3, "EAST")]
    assert dbx.sql(f"select count(*) from {s}.pushdown_databricks_only") == [(6,)]
    kinds = {r[1]: r for r in dbx.sql(f"show views in {s}")}
    assert "regions_v" in kinds and "regions_t" not in kinds
    assert dbx.sql(f"show tables in {s} like '*dbt_tmp*'") == []

    # a second table run replaces the table in place (build aside + swap)
    again = dbx.dvt("run", "-s", "regions_t")
    assert again.exit_code == 0, again.output
    assert dbx.sql(f"select count(*) from {s}.regions_t") == [(2,)]

    show = dbx.dvt("show", "-s", "pushdown_databricks_only", "--limit", "2")
    assert show.exit_code == 0, show.output
    assert "category_name" in show.output and show.output.count("| Soda") + \
        show.output.count("| Water") == 2, show.output

    for text in (debug.output, build.output, show.output, dbx.artifacts_text()):
        assert TOKEN not in text


def test_incremental_append_and_a_failing_model(dbx: DbxProject) -> None:
    dbx.write("models/events.sql", """
{{ config(materialized='incremental', incremental_strategy='append') }}
select id, cast(id * 1.5 as double) as amount from range({{ var('n', 2) }})
{% if is_incremental() %} where id >= (select max(id) from {{ this }}) {% endif %}
""")
    dbx.write("models/bad.sql", "select no_such_column from {{ ref('events') }}")
    first = dbx.dvt("run")
    assert first.exit_code == 1, first.output
    assert first.statuses == {"events": "success", "bad": "error"}
    assert "no_such_column" in first.output
    assert TOKEN not in first.output
    second = dbx.dvt("run", "-s", "events", "--vars", "{n: 4}")
    assert second.exit_code == 0, second.output
    # ids 0,1 first; then 1,2,3 appended (the watermark is inclusive)
    assert dbx.sql(f"select id from {dbx.schema}.events order by id") == [
        (0,), (1,), (1,), (2,), (3,)]


def test_a_federated_model_lands_on_databricks_by_the_staged_route(dbx: DbxProject) -> None:
    con = duckdb.connect(str(dbx.root / "lake.duckdb"))
    con.execute("create table customers as select * from (values (1, 'ann', date '2024-01-02'),"
                " (2, 'bob', null), (3, 'o''neil\\x', date '2024-03-04')) t(id, name, since)")
    con.close()
    dbx.write("models/sources.yml", """
version: 2
sources:
  - name: lake
    connection: lake
    schema: main
    tables: [{name: customers}]
""")
    dbx.write("models/pg_to_databricks.sql", """
{{ config(materialized='table', federation_route='stage') }}
select id, name, since from {{ source('lake', 'customers') }} where id <> 2
""")
    run = dbx.dvt("run")
    assert run.exit_code == 0, run.output
    assert "federated with inputs staged on target dbx" in run.output, run.output
    rows = dbx.sql(f"select id, name, cast(since as string) from {dbx.schema}.pg_to_databricks "
                   "order by id")
    assert rows == [(1, "ann", "2024-01-02"), (3, "o'neil\\x", "2024-03-04")]
    # the staged inputs are gone
    assert dbx.sql(f"show tables in {dbx.schema} like '*dvt_in*'") == []
    assert TOKEN not in run.output + dbx.artifacts_text()


def test_cancel_stops_a_running_statement(dbx: DbxProject) -> None:
    """Ctrl-C / a front end's cancel: the running statement is cancelled on the server
    from another thread (uninterrupted, this one runs for minutes on the stand-in), and the
    adapter runs the next statement."""
    import threading
    import time

    from dvt_engine.errors import DatabaseError
    from dvt_engine.session import Session

    session = Session(dbx.root, profiles_dir=str(dbx.root))
    adapter = session.adapter()
    outcome: list[BaseException | None] = []

    def slow() -> None:
        try:
            # many short tasks: a cancelled job schedules no more of them
            adapter.execute("select sum(id * 7 % 13) from range(0, 100000000000, 1, 5000)",
                            fetch=True)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - examined below
            outcome.append(exc)

    try:
        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(3)
        adapter.cancel()
        worker.join(timeout=60)
        assert not worker.is_alive(), "the statement was not cancelled"
        assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError), outcome
        assert "CANCELED" in str(outcome[0]), outcome  # the server's word: cancelled there
        _, table = adapter.execute("select 1 as ok", fetch=True)
        assert table is not None and table.to_pylist() == [{"ok": 1}]
    finally:
        session.close()
