"""The federation matrix over three real engines (DESIGN §6, the trial plan's matrix): a
DuckDB warehouse (default target), a SQLite file and a PostgreSQL server, each both a
source and a target. Every direction they can form, three-way joins landed on two
targets, pushdown on each target in the same run; type round-trips through Spark in both
directions; a landing that fails midway leaves the old table; a source that is down fails
its node alone, naming the connection, never the password.

Expected rows are computed independently: the same SQL in an in-memory DuckDB over copies
of the data. One SparkSession serves the module (a JVM start costs seconds).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
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
    pg_down:
      type: postgres
      host: {host}
      port: {down_port}
      user: {user}
      password: {password}
      dbname: {dbname}
      schema: analytics
    junk:
      type: sqlite
      path: junk.db
      schema: main
"""

SOURCES = """
version: 2
sources:
  - name: pg_src
    connection: pg
    schema: raw
    tables: [{name: customers}, {name: types}, {name: spans}]
  - name: crm
    connection: crm
    schema: main
    tables: [{name: orders}, {name: labels}]
  - name: wh_src
    schema: raw
    tables: [{name: products}, {name: types}]
  - name: down_src
    connection: pg_down
    schema: raw
    tables: [{name: customers}]
  - name: junk_src
    connection: junk
    schema: main
    tables: [{name: things}]
"""

CUSTOMERS = [(1, "ann", "NL"), (2, "bob", "DE"), (3, "cy", "NL"), (4, "dee", "FR")]
ORDERS = [(10, 1, 100, 2), (11, 1, 101, 1), (12, 2, 100, 5), (13, 3, 102, 3), (14, 4, 101, 1),
          (15, 3, 100, 1)]
PRODUCTS = [(100, "tea", "2.50"), (101, "cake", "4.00"), (102, "jam", "3.25")]

# one SQL text per model body; {c}, {o}, {p} are the customers, orders, products relations
THREE_WAY = """
    select c.name, sum(o.qty * p.price) as revenue, count(*) as orders
    from {c} c
    join {o} o on o.customer_id = c.id
    join {p} p on p.id = o.product_id
    group by c.name
"""
MATRIX_SQL = {
    "pg_to_duck": "select id, name, country from {c} where country <> 'FR'",
    "duck_to_pg": "select id, title, price from {p} where price > 3",
    "sqlite_to_pg": "select customer_id, sum(qty) as qty from {o} group by customer_id",
    "pg_to_sqlite": "select id, name from {c} where country = 'NL'",
    "three_way_pg": THREE_WAY,
    "three_way_duck": THREE_WAY,
    "pushdown_pg": "select country, count(*) as n from {c} group by country",
    "pushdown_duck": "select count(*) as n, sum(price) as total from {p}",
    "pushdown_sqlite": "select product_id, count(*) as n from {o} group by product_id",
}
TARGETS = {"pg_to_duck": None, "duck_to_pg": "pg", "sqlite_to_pg": "pg", "pg_to_sqlite": "crm",
           "three_way_pg": "pg", "three_way_duck": None, "pushdown_pg": "pg",
           "pushdown_duck": None, "pushdown_sqlite": "crm"}
DBT_RELATIONS = {"c": "{{ source('pg_src', 'customers') }}", "o": "{{ source('crm', 'orders') }}",
                 "p": "{{ source('wh_src', 'products') }}"}

# every type, a NULL in every column (id 3), unicode, empty string vs NULL
TYPES_DDL = ("id integer, big bigint, amt {num}(12,2), huge {num}(38,10), ts timestamp, "
             "tstz timestamptz, d date, flag boolean, dbl double precision, txt text")
TYPES_ROWS = """
    (1, 9007199254740993, 1234567890.12, 1234567890123456789012345678.0123456789,
     '2024-03-10 02:30:00.123456', '2024-06-30 23:59:59.5+02', '1999-12-31', true, 0.1, 'Zoë'),
    (2, -1, -0.05, -0.0000000001, '1900-01-01 00:00:00', '1970-01-01 00:00:00+00',
     '2000-02-29', false, -1e300, '東京 🚀'),
    (3, null, null, null, null, null, null, null, null, null),
    (4, 0, 0, 0, '2024-01-01 00:00:00', '2024-01-01 00:00:00-08', '2024-01-01', false, 0, '')
"""
TYPE_COLUMNS = "id, big, amt, huge, ts, tstz, d, flag, dbl, txt"
PG_TYPES = [("id", "integer", 32, 0), ("big", "bigint", 64, 0), ("amt", "numeric", 12, 2),
            ("huge", "numeric", 38, 10), ("ts", "timestamp without time zone", None, None),
            ("tstz", "timestamp with time zone", None, None), ("d", "date", None, None),
            ("flag", "boolean", None, None), ("dbl", "double precision", 53, None),
            ("txt", "text", None, None)]
DUCK_TYPES = [("id", "INTEGER"), ("big", "BIGINT"), ("amt", "DECIMAL(12,2)"),
              ("huge", "DECIMAL(38,10)"), ("ts", "TIMESTAMP"),
              ("tstz", "TIMESTAMP WITH TIME ZONE"), ("d", "DATE"), ("flag", "BOOLEAN"),
              ("dbl", "DOUBLE"), ("txt", "VARCHAR")]


class FedProject(PgProject):
    def write_profile(self, user: str | None = None, password: str = SECRET,
                      threads: int = 2) -> None:
        self.write("profiles.yml", PROFILES.format(
            host=self.db.host, port=self.db.port, user=user or self.db.user,
            password=password, dbname=self.db.dbname, down_port=_closed_port()))

    def use_route(self, route: str) -> None:
        """Every model federates by this route: spark, or stage (inputs staged on the target)."""
        self.write("dbt_project.yml", "name: proj\nprofile: proj\nmodels:\n  proj:\n"
                                      f"    +federation_route: {route}\n"
                                      f"data_tests:\n  proj:\n    +federation_route: {route}\n")

    def duck(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def crm(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.root / "crm.db")
        try:
            rows = con.execute(sql, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def model(self, name: str, sql: str, target: str | None = None,
              materialized: str = "table") -> None:
        cfg = f"materialized='{materialized}'" + (f", target='{target}'" if target else "")
        self.write(f"models/{name}.sql", "{{ config(" + cfg + ") }}\n" + sql)


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = get_spark({"spark.master": "local[2]"})
    yield session
    stop_spark()


@pytest.fixture
def fp(tmp_path: Path, pg_db: PgDatabase, spark: object) -> FedProject:
    p = FedProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    p.write("dbt_project.yml", "name: proj\nprofile: proj\n")
    p.write_profile()
    p.write("models/sources.yml", SOURCES)
    customers = ", ".join(f"({i}, '{n}', '{c}')" for i, n, c in CUSTOMERS)
    pg_db.query("create schema raw; create table raw.customers (id int, name text, country text);"
                f"insert into raw.customers values {customers};"
                f"create table raw.types ({TYPES_DDL.format(num='numeric')});"
                f"insert into raw.types values {TYPES_ROWS}")
    con = sqlite3.connect(p.root / "crm.db")
    con.execute("create table orders (id integer, customer_id integer, product_id integer, "
                "qty integer)")
    con.executemany("insert into orders values (?, ?, ?, ?)", ORDERS)
    con.execute("create table labels (id integer, label text)")
    con.executemany("insert into labels values (?, ?)", [(i, f"label {i}") for i in range(1, 6)])
    con.commit()
    con.close()
    products = ", ".join(f"({i}, '{t}', {pr})" for i, t, pr in PRODUCTS)
    p.duck("create schema raw; create table raw.products (id int, title varchar, "
           f"price decimal(10,2)); insert into raw.products values {products};"
           f"create table raw.types ({TYPES_DDL.format(num='decimal')});"
           f"insert into raw.types values {TYPES_ROWS}")
    return p


def _expected(sql: str) -> list[tuple[Any, ...]]:
    """`sql` computed by DuckDB alone over copies of the three engines' data."""
    con = duckdb.connect()
    con.execute("create table customers (id int, name text, country text)")
    con.executemany("insert into customers values (?, ?, ?)", CUSTOMERS)
    con.execute("create table orders (id int, customer_id int, product_id int, qty int)")
    con.executemany("insert into orders values (?, ?, ?, ?)", ORDERS)
    con.execute("create table products (id int, title text, price decimal(10,2))")
    con.executemany("insert into products values (?, ?, ?)", PRODUCTS)
    body = sql.format(c="customers", o="orders", p="products")
    return sorted(con.execute(body).fetchall())


ROUTE_WORDS = {"spark": "federated in Spark: ", "stage": "federated with inputs staged on target "}


@pytest.mark.parametrize("route", ["spark", "stage"])
def test_every_direction_and_pushdown_on_each_target(fp: FedProject, route: str) -> None:
    fp.use_route(route)
    for name, sql in MATRIX_SQL.items():
        fp.model(name, sql.format(**DBT_RELATIONS), TARGETS[name])
    listing = fp.dvt("ls", "--output", "json", "--resource-type", "model")
    assert listing.exit_code == 0, listing.output
    paths = {line["name"]: line["execution"] for line in listing.result.entries}
    assert paths == {name: "pushdown" if name.startswith("pushdown") else "federation"
                     for name in MATRIX_SQL}

    run = fp.dvt("run")
    assert run.exit_code == 0, run.output
    assert run.statuses == dict.fromkeys(MATRIX_SQL, "success"), run.output
    assert SECRET not in run.output
    landed = {
        "pg_to_duck": fp.duck("select * from main.pg_to_duck"),
        "three_way_duck": fp.duck("select * from main.three_way_duck"),
        "pushdown_duck": fp.duck("select * from main.pushdown_duck"),
        "duck_to_pg": fp.query("select * from analytics.duck_to_pg"),
        "sqlite_to_pg": fp.query("select * from analytics.sqlite_to_pg"),
        "three_way_pg": fp.query("select * from analytics.three_way_pg"),
        "pushdown_pg": fp.query("select * from analytics.pushdown_pg"),
        "pg_to_sqlite": fp.crm("select * from pg_to_sqlite"),
        "pushdown_sqlite": fp.crm("select * from pushdown_sqlite"),
    }
    for name, rows in landed.items():
        assert sorted(rows) == _expected(MATRIX_SQL[name]), name
    # federated lines say what moved; pushdown lines do not
    for name in MATRIX_SQL:
        line = next(ln for ln in run.output.splitlines() if f".{name} " in ln and "OK" in ln)
        assert (f"[{ROUTE_WORDS[route]}" in line) != name.startswith("pushdown"), line
    three = next(ln for ln in run.output.splitlines() if "three_way_pg " in ln and "OK" in ln)
    assert ": 3 inputs (" in three if route == "spark" else ": 2 inputs (" in three, three
    # nothing staged is left on any target
    assert fp.duck("select count(*) from information_schema.tables "
                   "where table_name like '%dbt_tmp%'") == [(0,)]
    assert fp.query("select count(*) from information_schema.tables "
                    "where table_name like '%dbt_tmp%'") == [(0,)]
    assert fp.crm("select count(*) from sqlite_master where name like '%dbt_tmp%'") == [(0,)]
    # a test that reads two connections is federated by the same route
    fp.write("tests/customers_without_orders.sql",
             "select c.id from {{ source('pg_src', 'customers') }} c "
             "left join {{ source('crm', 'orders') }} o on o.customer_id = c.id "
             "where o.id is null and c.id < 0")
    tested = fp.dvt("test", "--debug")
    assert tested.exit_code == 0, tested.output
    assert tested.statuses == {"customers_without_orders": "pass"}, tested.output
    assert f"customers_without_orders: federated test, {route} route" in tested.output
    # nor any staged input
    assert fp.duck("select count(*) from information_schema.tables "
                   "where table_name like '%dvt_in%'") == [(0,)]
    assert fp.query("select count(*) from information_schema.tables "
                    "where table_name like '%dvt_in%'") == [(0,)]
    assert fp.crm("select count(*) from sqlite_master where name like '%dvt_in%'") == [(0,)]


def _pg_types(fp: FedProject, table: str) -> list[tuple[Any, ...]]:
    return fp.query("select column_name, data_type, numeric_precision, numeric_scale "
                    "from information_schema.columns where table_schema = 'analytics' "
                    f"and table_name = '{table}' order by ordinal_position")


@pytest.mark.parametrize("route", ["spark", "stage"])
def test_types_round_trip_through_federation(fp: FedProject, route: str) -> None:
    fp.use_route(route)
    fp.model("types_pg_to_duck",
             f"select {TYPE_COLUMNS} from {{{{ source('pg_src', 'types') }}}}")
    fp.model("types_duck_to_pg",
             f"select {TYPE_COLUMNS} from {{{{ source('wh_src', 'types') }}}}", "pg")
    # through SQLite and back: PostgreSQL -> SQLite -> DuckDB
    fp.model("types_pg_to_sqlite",
             f"select {TYPE_COLUMNS} from {{{{ source('pg_src', 'types') }}}}", "crm")
    fp.model("types_sqlite_to_duck",
             f"select {TYPE_COLUMNS} from {{{{ ref('types_pg_to_sqlite') }}}}")
    run = fp.dvt("run")
    assert run.exit_code == 0, run.output
    assert set(run.statuses.values()) == {"success"}, run.statuses

    # landed on PostgreSQL: the declared types, and the values as PostgreSQL had them
    assert _pg_types(fp, "types_duck_to_pg") == PG_TYPES
    order = f"select {TYPE_COLUMNS} from {{}} order by id"
    pg_rows = fp.query(order.format("analytics.types_duck_to_pg"))
    assert pg_rows == fp.query(order.format("raw.types"))
    # landed on DuckDB
    assert fp.duck("select column_name, data_type from information_schema.columns "
                   "where table_name = 'types_pg_to_duck' order by ordinal_position") \
        == DUCK_TYPES
    duck_rows = fp.duck(order.format("main.types_pg_to_duck"))
    assert duck_rows == fp.duck(order.format("raw.types"))
    # SQLite declares what it cannot store natively, and hands the same types back
    assert [r[1:3] for r in fp.crm("pragma table_info(types_pg_to_sqlite)")] == [
        ("id", "INTEGER"), ("big", "INTEGER"), ("amt", "DECIMAL(12,2)"),
        ("huge", "DECIMAL(38,10)"), ("ts", "TIMESTAMP"), ("tstz", "TIMESTAMPTZ"),
        ("d", "DATE"), ("flag", "BOOLEAN"), ("dbl", "REAL"), ("txt", "TEXT")]
    # (SQLite has one 64-bit INTEGER: an integer column comes back a bigint)
    assert fp.duck("select column_name, data_type from information_schema.columns "
                   "where table_name = 'types_sqlite_to_duck' order by ordinal_position") \
        == [("id", "BIGINT"), *DUCK_TYPES[1:]]
    # SQLite's NUMERIC affinity stores a decimal as a REAL (15 significant digits): the
    # 38-digit value comes back rounded but still as a decimal(38,10); the rest is exact
    via_sqlite = fp.duck(order.format("main.types_sqlite_to_duck"))
    assert via_sqlite[0][3] == Decimal("1234567890123456900000000000")
    assert [r[:3] + r[4:] for r in via_sqlite] == [r[:3] + r[4:] for r in duck_rows]
    assert [r[3] for r in via_sqlite[1:]] == [r[3] for r in duck_rows[1:]]
    # spelled out: the values every engine must agree on
    utc = dt.timezone.utc
    for rows in (pg_rows, duck_rows):
        first, second, nulls, empty = rows
        assert first[1:4] == (9007199254740993, Decimal("1234567890.12"),
                              Decimal("1234567890123456789012345678.0123456789"))
        assert first[4] == dt.datetime(2024, 3, 10, 2, 30, 0, 123456)
        assert first[5] == dt.datetime(2024, 6, 30, 21, 59, 59, 500000, tzinfo=utc)
        assert first[6:] == (dt.date(1999, 12, 31), True, 0.1, "Zoë")
        assert second[3] == Decimal("-0.0000000001") and second[8] == -1e300
        assert second[9] == "東京 🚀"
        assert nulls == (3, *[None] * 9)
        assert empty[5] == dt.datetime(2024, 1, 1, 8, tzinfo=utc) and empty[9] == ""


def test_failed_landing_and_source_down_fail_alone(fp: FedProject) -> None:
    fp.model("fragile", "select id, label from {{ source('crm', 'labels') }}", "pg")
    fp.model("fragile_child", "select count(*) as n from {{ ref('fragile') }}", "pg")
    fp.model("independent", "select id, title from {{ source('wh_src', 'products') }}", "pg")
    run = fp.dvt("run")
    assert run.exit_code == 0, run.output
    good = fp.query("select id, label from analytics.fragile order by id")
    assert good == [(i, f"label {i}") for i in range(1, 6)]

    # a later row holds a NUL character, which no PostgreSQL text column can take: the
    # landing fails after the staging table was created and partly filled
    fp.crm("insert into labels values (?, ?)", (1000, "bad \x00 value"))
    fp.duck("insert into raw.products values (103, 'pie', 5.00)")
    run = fp.dvt("run")
    assert run.exit_code == 1, run.output
    assert run.statuses == {"fragile": "error", "fragile_child": "skipped",
                            "independent": "success"}, run.output
    assert fp.query("select id, label from analytics.fragile order by id") == good
    assert fp.query("select count(*) from information_schema.tables "
                    "where table_name like '%dbt_tmp%'") == [(0,)]
    assert fp.query("select count(*) from analytics.independent") == [(4,)]

    # sources that are down: PostgreSQL on a closed port, a SQLite file that is no database
    (fp.root / "junk.db").write_text("this is not a database\n" * 50)
    fp.model("from_down", "select id, name from {{ source('down_src', 'customers') }}")
    fp.model("from_junk", "select a from {{ source('junk_src', 'things') }}")
    fp.model("pg_to_duck", "select id, name from {{ source('pg_src', 'customers') }}")
    run = fp.dvt("run", "-s", "from_down", "from_junk", "pg_to_duck")
    assert run.exit_code == 1, run.output
    assert run.statuses == {"from_down": "error", "from_junk": "error",
                            "pg_to_duck": "success"}, run.output
    errors = {r.node.name: r.message for r in run.result.results if r.status == "error"}
    assert ("extracting down_src.customers for federation from connection 'pg_down': "
            "connection failed") in errors["from_down"], errors
    assert ("extracting junk_src.things for federation from connection 'junk': file is not "
            "a database") in errors["from_junk"], errors
    assert fp.duck("select table_name from information_schema.tables "
                   "where table_schema = 'main' order by 1") == [("pg_to_duck",)]
    results = (fp.root / "target" / "run_results.json").read_text()
    assert SECRET not in run.output and SECRET not in results
    assert {r["status"] for r in json.loads(results)["results"]} == {"error", "success"}

    # a type Spark cannot take (PostgreSQL's interval): that node fails, naming the source
    # and the column; staged on the target instead, the same model works
    fp.query("create table raw.spans (id int, span interval); "
             "insert into raw.spans values (1, interval '1 day 2 hours')")
    spans = "select id, span from {{ source('pg_src', 'spans') }}"
    fp.model("spans_spark", "{{ config(federation_route='spark') }}\n" + spans)
    fp.model("spans_staged", "{{ config(federation_route='stage') }}\n" + spans)
    run = fp.dvt("run", "-s", "spans_spark", "spans_staged")
    assert run.statuses == {"spans_spark": "error", "spans_staged": "success"}, run.output
    assert ("moving pg_src.spans from connection 'pg' into Spark: Spark cannot take column "
            "span (month_day_nano_interval)") in run.output, run.output
    assert "federation_route: stage" in run.output  # the hint
    assert fp.duck("select id, span from main.spans_staged") == [
        (1, dt.timedelta(days=1, hours=2))]

    # Spark's result lands with the names PostgreSQL itself would give: an unquoted alias
    # folds to lower case, a quoted one keeps its spelling
    fp.model("named", "{{ config(federation_route='spark') }}\n"
             "select id as \"KeepMe\", label as LabelText from {{ source('crm', 'labels') }} "
             "where id < 3", "pg")
    run = fp.dvt("run", "-s", "named")
    assert run.exit_code == 0, run.output
    assert fp.query("select column_name from information_schema.columns where "
                    "table_name = 'named' order by ordinal_position") == [
        ("KeepMe",), ("labeltext",)]
    assert fp.query('select "KeepMe", labeltext from analytics.named order by 1') == [
        (1, "label 1"), (2, "label 2")]
