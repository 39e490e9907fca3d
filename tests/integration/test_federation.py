"""Federated models end to end on a real local Spark: a DuckDB warehouse (default target),
a SQLite CRM file and a PostgreSQL database. Models read relations on other connections,
only the used columns are extracted, single-relation predicates are pushed down, the
result lands on the target atomically.

One SparkSession serves the module (a JVM start costs seconds): few tests, several
assertions each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dvt_engine.federation.spark import get_spark, spark_available, stop_spark

from tests.integration.conftest import SECRET, PgDatabase, PgProject

_missing = spark_available()
pytestmark = pytest.mark.skipif(_missing is not None, reason=f"no local Spark: {_missing}")

PROFILES = """
proj:
  target: warehouse
  outputs:
    warehouse:
      type: duckdb
      path: warehouse.duckdb
      threads: 4
    crm:
      type: sqlite
      path: crm.db
      schema: main
    pg:
      type: postgres
      host: {host}
      port: {port}
      user: {user}
      password: {password}
      dbname: {dbname}
      schema: analytics
"""

SOURCES = """
version: 2
sources:
  - name: crm
    connection: crm
    schema: main
    tables:
      - name: customers
  - name: pg_src
    connection: pg
    schema: raw
    tables:
      - name: events
  - name: wh_src
    schema: raw
    tables:
      - name: events
"""

MODELS = {
    # warehouse seed joined with a SQLite table: 3 of its 6 columns, the country filter
    # pushed down to SQLite
    "models/fed_join.sql": """
        {{ config(materialized='table') }}
        select o.id, c.name, o.amount
        from {{ ref('wh_orders') }} o
        join {{ source('crm', 'customers') }} c on o.customer_id = c.id
        where c.country = 'NL'
    """,
    # pushdown on the warehouse, downstream of a federated table
    "models/after_fed.sql": "select count(*) as n from {{ ref('fed_join') }}",
    # DuckDB -> PostgreSQL
    "models/pg_reads_wh.sql": """
        {{ config(materialized='table', target='pg') }}
        select id, kind from {{ source('wh_src', 'events') }} where id > 1
    """,
    # three connections; a view that federates becomes a table
    "models/three_way.sql": """
        {{ config(materialized='view') }}
        select c.name, count(*) as events, sum(o.amount) as amount
        from {{ source('crm', 'customers') }} c
        join {{ source('pg_src', 'events') }} e on e.customer_id = c.id
        join {{ ref('wh_orders') }} o on o.customer_id = c.id
        group by c.name
    """,
}

CUSTOMERS = [(1, "ann", "NL", "a@x", "1", "2024-01-01"), (2, "bob", "DE", "b@x", "2", "2024-01-02"),
             (3, "cy", "NL", "c@x", "3", "2024-01-03"), (4, "dee", "FR", "d@x", "4", "2024-01-04")]
ORDERS = "id,customer_id,amount\n10,1,5\n11,1,7\n12,2,11\n13,3,13\n14,4,17\n"


class FedProject(PgProject):
    def write_profile(self, user: str | None = None, password: str = SECRET,
                      threads: int = 2) -> None:
        self.write("profiles.yml", PROFILES.format(
            host=self.db.host, port=self.db.port, user=user or self.db.user,
            password=password, dbname=self.db.dbname))

    def duck(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def crm(self, sql: str) -> None:
        con = sqlite3.connect(self.root / "crm.db")
        try:
            con.executescript(sql)
        finally:
            con.close()


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = get_spark({"spark.master": "local[2]"})
    yield session
    stop_spark()


@pytest.fixture
def fp(tmp_path: Path, pg_db: PgDatabase, spark: object) -> FedProject:
    p = FedProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    # the Spark route throughout (small inputs would be staged on the target by default)
    p.write("dbt_project.yml", "name: proj\nprofile: proj\nmodels:\n  proj:\n"
                               "    +federation_route: spark\n")
    p.write_profile()
    p.write("models/sources.yml", SOURCES)
    p.write("seeds/wh_orders.csv", ORDERS)
    for path, text in MODELS.items():
        p.write(path, text)
    rows = ", ".join(str(r) for r in CUSTOMERS)
    p.crm("create table customers (id integer, name text, country text, email text, "
          f"phone text, created text); insert into customers values {rows};")
    pg_db.query("create schema raw; create table raw.events (id int, customer_id int); "
                "insert into raw.events values (1, 1), (2, 1), (3, 3)")
    p.duck("create schema raw; create table raw.events as "
           "select * from (values (1, 'a'), (2, 'b'), (3, 'c')) t(id, kind)")
    return p


def _expected_join() -> list[tuple[Any, ...]]:
    """The same model SQL, computed by DuckDB alone over copies of the data."""
    con = duckdb.connect()
    con.execute("create table customers (id int, name text, country text, email text, "
                "phone text, created text)")
    con.executemany("insert into customers values (?, ?, ?, ?, ?, ?)", CUSTOMERS)
    con.execute("create table orders as select * from (values (10, 1, 5), (11, 1, 7), "
                "(12, 2, 11), (13, 3, 13), (14, 4, 17)) t(id, customer_id, amount)")
    return con.execute("select o.id, c.name, o.amount from orders o join customers c "
                       "on o.customer_id = c.id where c.country = 'NL' order by 1").fetchall()


def test_federated_models_land_on_their_targets(fp: FedProject) -> None:
    # compile shows what each federated model extracts and the Spark SQL
    run = fp.dvt("compile", "-s", "fed_join")
    assert run.exit_code == 0, run.output
    assert "model fed_join: federation -> warehouse; foreign inputs: source crm.customers" \
        in run.output
    assert "crm.customers: 3 of 6 columns, 1 predicate pushed down" in run.output
    assert "-- Spark SQL:" in run.output
    assert "email" not in run.output.split("-- Spark SQL:")[0].split("crm.customers:")[1]

    run = fp.dvt("build")
    assert run.exit_code == 0, run.output
    assert SECRET not in run.output
    assert set(run.statuses.values()) == {"success"}, run.statuses
    assert fp.duck("select id, name, amount from main.fed_join order by id") == _expected_join()
    assert fp.duck("select n from main.after_fed") == [(3,)]
    line = next(ln for ln in run.output.splitlines() if "OK created federated table model main.fed_join" in ln)
    assert "[federated in Spark: 2 inputs (" in line, line
    assert "crm.customers: 3 of 6 columns, 1 predicate pushed down, 2 rows" in line, line
    assert "), 3 rows landed on target warehouse in " in line, line
    assert fp.duck("select 1 from main.fed_join limit 0") == []
    # DuckDB -> PostgreSQL
    assert fp.query("select id, kind from analytics.pg_reads_wh order by id") == [
        (2, "b"), (3, "c")]
    # three connections; the view was built as a table, with a warning
    assert ("model three_way is materialized as a view but federated (it reads other "
            "connections): building it as a table on 'warehouse'") in run.output
    assert fp.duck("select table_type from information_schema.tables "
                   "where table_name = 'three_way'") == [("BASE TABLE",)]
    assert fp.duck("select name, events, amount from main.three_way order by name") == [
        ("ann", 4, 24), ("cy", 1, 13)]
    # no staging tables or temp views left behind
    assert fp.duck("select count(*) from information_schema.tables "
                   "where table_name like '%__dbt_tmp'") == [(0,)]

    # atomicity: an extraction that fails leaves the previous table as it was, and the
    # node fails alone, naming the source
    fp.crm("alter table customers rename column name to full_name;")
    run = fp.dvt("run", "-s", "fed_join", "pg_reads_wh")
    assert run.exit_code == 1, run.output
    assert run.statuses == {"fed_join": "error", "pg_reads_wh": "success"}, run.output
    assert "extracting crm.customers for federation" in run.output
    assert fp.duck("select id, name, amount from main.fed_join order by id") == _expected_join()


def test_incremental_federation_merges_into_the_existing_table(fp: FedProject) -> None:
    fp.write("models/fed_inc.sql", """
        {{ config(materialized='incremental', unique_key='id') }}
        select c.id, c.name from {{ source('crm', 'customers') }} c
        {% if is_incremental() %}
        where c.id >= (select max(id) from {{ this }})
        {% endif %}
    """)
    run = fp.dvt("run", "-s", "fed_inc")
    assert run.exit_code == 0, run.output
    assert fp.duck("select id, name from main.fed_inc order by id") == [
        (1, "ann"), (2, "bob"), (3, "cy"), (4, "dee")]
    fp.crm("update customers set name = 'DEE' where id = 4; update customers set name = 'ANN' "
           "where id = 1; insert into customers values (5, 'eve', 'NL', 'e@x', '5', '');")
    run = fp.dvt("run", "-s", "fed_inc")
    assert run.exit_code == 0, run.output
    # only ids >= 4 were read again: 4 replaced, 5 added, 1 untouched
    assert fp.duck("select id, name from main.fed_inc order by id") == [
        (1, "ann"), (2, "bob"), (3, "cy"), (4, "DEE"), (5, "eve")]
    result = next(r for r in run.result.results if r.unique_id == "model.proj.fed_inc")
    assert result.rows_affected == 2
    run = fp.dvt("run", "-s", "fed_inc", "--full-refresh")
    assert run.exit_code == 0, run.output
    assert fp.duck("select id, name from main.fed_inc order by id")[0] == (1, "ANN")


WATERMARK_MODEL = """
    {{ config(materialized='incremental', unique_key='id', pre_hook=[
        "create table if not exists main.hook_log (n integer)",
        "insert into main.hook_log select coalesce(max(n), 0) + 1 from main.hook_log"]) }}
    select e.id, e.customer_id, e.updated_at,
           (select max(n) from main.hook_log) as run_no
    from {{ source('pg_changes', 'changes') }} e
    {% if is_incremental() %}
    where e.updated_at > (select max(updated_at) from {{ this }})
    {% endif %}
"""


def test_incremental_watermark_is_pushed_to_the_source_after_pre_hooks(fp: FedProject) -> None:
    """The watermark is read on the target and sent to PostgreSQL inside the extraction
    query; pre-hooks run before the federated computation (the model reads what they
    wrote: run 1 fails if they ran later, run 2 would record 1 instead of 2)."""
    fp.write("models/pg_changes.yml", "version: 2\nsources:\n  - name: pg_changes\n"
             "    connection: pg\n    schema: raw\n    tables:\n      - name: changes\n")
    fp.write("models/fed_wm.sql", WATERMARK_MODEL)
    fp.query("create table raw.changes (id int, customer_id int, updated_at timestamp); "
             "insert into raw.changes values (1, 1, '2024-01-01'), (2, 1, '2024-01-02'), "
             "(3, 3, '2024-01-03 00:00:00')")
    run = fp.dvt("run", "-s", "fed_wm")
    assert run.exit_code == 0, run.output
    assert fp.duck("select id, customer_id, run_no from main.fed_wm order by id") == [
        (1, 1, 1), (2, 1, 1), (3, 3, 1)]
    assert "watermark" not in run.output

    fp.query("insert into raw.changes values (4, 4, '2024-01-04 10:30:00'); "
             "update raw.changes set customer_id = 9, updated_at = '2024-01-05' where id = 2")
    # compile shows the plan a run would use: the watermark read from the target
    run = fp.dvt("compile", "-s", "fed_wm")
    assert run.exit_code == 0, run.output
    assert ('-- watermark evaluated on the target: (SELECT MAX(updated_at) FROM '
            '"warehouse"."main"."fed_wm") = CAST(\'2024-01-03 00:00:00\' AS TIMESTAMP) '
            '(pushed down)') in run.output, run.output
    run = fp.dvt("run", "-s", "fed_wm")
    assert run.exit_code == 0, run.output
    # merged: 2 replaced, 4 added, 1 and 3 untouched; the new rows saw the second pre-hook
    assert fp.duck("select id, customer_id, updated_at::varchar, run_no from main.fed_wm "
                   "order by id") == [
        (1, 1, "2024-01-01 00:00:00", 1), (2, 9, "2024-01-05 00:00:00", 2),
        (3, 3, "2024-01-03 00:00:00", 1), (4, 4, "2024-01-04 10:30:00", 2)]
    # PostgreSQL sent only the 2 changed rows (of 4): the filter ran in the source
    (result,) = [r for r in run.result.results if r.unique_id == "model.proj.fed_wm"]
    assert "pg_changes.changes: 3 of 3 columns, 1 predicate pushed down, 2 rows" \
        in result.message, result.message
    assert "), watermark pushed, 2 rows landed on target warehouse" in result.message
    line = next(ln for ln in run.output.splitlines() if "main.fed_wm" in ln and "OK" in ln)
    assert "watermark pushed" in line and "1 input (" in line, line
    written = (fp.root / "target" / "run" / "proj" / "models" / "fed_wm.sql").read_text()
    assert ('."raw"."changes" WHERE updated_at > '
            "CAST('2024-01-03 00:00:00' AS TIMESTAMP)") in written, written
    # nothing was extracted from the target: both subqueries became literals
    assert "1 foreign relation(s), 0 on the target" in written and "2 AS run_no" in written


def test_example_project_federates_and_shows(spark: Any, tmp_path: Path) -> None:
    """examples/federation (DuckDB + SQLite) builds; `show` of a federated model computes
    it in Spark without landing anything."""
    import shutil

    from tests.conftest import Project

    src = Path(__file__).resolve().parents[2] / "examples" / "federation"
    root = tmp_path / "federation"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("target", "*.duckdb*", "*.db"))
    project = Project(root, db_file="warehouse.duckdb")
    build = project.dvt("build")
    assert build.exit_code == 0, build.output
    assert "crm.customers: 4 of 6 columns, 1 predicate pushed down" in build.output
    # the small CRM input is staged on the warehouse; region_revenue asks for Spark
    lines = {name: next(ln for ln in build.output.splitlines()
                        if f"OK created federated table model main.{name} " in ln)
             for name in ("customer_revenue", "region_revenue")}
    assert "[federated with inputs staged on target warehouse: 1 input (" \
        in lines["customer_revenue"]
    assert "[federated in Spark: 2 inputs (customer_revenue: " in lines["region_revenue"]
    assert project.query("select region_name, revenue from region_revenue order by 1") == [
        ("North", 165.75), ("South", 159.99), ("West", 375.0)]
    listing = project.dvt("ls", "--output", "json", "--resource-type", "model")
    paths = {line["name"]: line["execution"] for line in listing.result.entries}
    assert paths == {"customer_revenue": "federation", "region_revenue": "federation",
                     "top_region": "pushdown"}
    project.query("drop table region_revenue")
    shown = project.dvt("show", "-s", "region_revenue")
    assert shown.exit_code == 0, shown.output
    assert shown.result.table.num_rows == 3
    assert "| West        |  375.00 |" in shown.output
    # inline SQL reading two connections is federated like a model preview
    inline = project.dvt(
        "show", "--inline",
        "select c.name, o.amount from {{ source('crm','customers') }} c "
        "join {{ ref('orders') }} o on o.customer_id = c.customer_id order by 2 desc",
        "--limit", "2")
    assert inline.exit_code == 0, inline.output
    assert inline.result.table.to_pylist() == [{"name": "Dan Olsen", "amount": 300.0},
                                              {"name": "Ada Olsen", "amount": 120.5}]
    # reading only the default target stays on its adapter
    local = project.dvt("show", "--inline", "select count(*) as n from {{ ref('orders') }}")
    assert local.exit_code == 0, local.output
    assert local.result.table.to_pylist()[0]["n"] > 2


@pytest.mark.parametrize("how", ["front end", "SIGINT"])
def test_cancel_interrupts_the_spark_job_and_keeps_the_session(fp: FedProject, how: str) -> None:
    """A cancel during a federated model's Spark job: a front end's (another thread, the
    model in a worker thread) or Ctrl-C's (SIGINT, the model in the main thread). The job
    stops (uninterrupted it runs ~20 s here), the node is cancelled, nothing lands, and the
    shared SparkSession computes the next model."""
    import os
    import signal
    import threading

    from dvt_engine.events import NodeStarted
    from dvt_engine.session import Session

    if how == "SIGINT" and threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread; this runner runs tests elsewhere")

    fp.crm("create table nums (x integer);"
           + "".join(f"insert into nums values ({i});" for i in range(2000)))
    fp.write("models/slow_sources.yml", "version: 2\nsources:\n  - name: crm_nums\n"
             "    connection: crm\n    schema: main\n    tables: [{name: nums}]\n")
    fp.write("models/slow_fed.sql", "{{ config(materialized='table') }}\n"
             "select sum(a.x * b.x + c.x) as s from {{ source('crm_nums', 'nums') }} a "
             "cross join {{ source('crm_nums', 'nums') }} b "
             "cross join {{ source('crm_nums', 'nums') }} c")
    session = Session(fp.root, profiles_dir=str(fp.root))
    timers: list[threading.Timer] = []

    def on_event(event: object) -> None:
        if isinstance(event, NodeStarted) and event.unique_id.endswith(".slow_fed"):
            timers.append(threading.Timer(3.0, lambda: session.cancel()
                                          if how == "front end"
                                          else os.kill(os.getpid(), signal.SIGINT)))
            timers[-1].start()

    threads = "4" if how == "front end" else "1"
    try:
        result = session.invoke(["run", "-s", "slow_fed", "--threads", threads],
                                subscriber=on_event)
        for timer in timers:
            timer.join()
        assert result.exit_code == 130, [r.message for r in result.results]
        assert [r.status for r in result.results] == ["cancelled"]
        assert fp.duck("select count(*) from information_schema.tables "
                       "where table_name = 'slow_fed'") == [(0,)]
        after = session.invoke(["build", "-s", "wh_orders", "fed_join"])
        assert after.success, [r.message for r in after.results]
    finally:
        session.close()
    assert fp.duck("select count(*) from fed_join") == [(len(_expected_join()),)]
