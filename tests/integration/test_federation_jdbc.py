"""Large PostgreSQL inputs of federated models are read by Spark over JDBC, in parallel
partitions, when the driver jar is installed; small ones, and outputs that say
`federation_transport: arrow`, go through ADBC. The node's log line names the path.

The JDBC threshold is lowered for the test (`federation_jdbc_min_rows` in the profile, and
ROWS_PER_PARTITION so 40k rows are split): 50k rows keep it fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dvt_engine.federation import spark as fspark
from dvt_engine.federation import transport
from dvt_engine.federation.spark import (
    get_spark,
    jdbc_available,
    jdbc_jar,
    spark_available,
    stop_spark,
)

from tests.integration.conftest import PASSWORD_USER, SECRET, PgDatabase, PgProject

_missing = spark_available()
_jar = jdbc_jar("postgres")
pytestmark = [
    pytest.mark.skipif(_missing is not None, reason=f"no local Spark: {_missing}"),
    pytest.mark.skipif(_jar is None or not _jar.is_file(),
                       reason=f"no PostgreSQL JDBC driver at {_jar} "
                              "(apt-get install libpostgresql-jdbc-java)"),
]

ROWS = 50_000
WRONG_PASSWORD = "wrong-pw-never-shown-3b9"

PROFILES = """
proj:
  target: warehouse
  outputs:
    warehouse:
      type: duckdb
      path: warehouse.duckdb
      threads: 2
    pg:
      type: postgres
      host: {host}
      port: {port}
      user: {user}
      password: {password}
      dbname: {dbname}
      schema: analytics
      federation_jdbc_min_rows: {min_rows}
{extra}"""

SOURCES = """
version: 2
sources:
  - name: pg_src
    connection: pg
    schema: raw
    tables:
      - name: events
"""

MODEL_SQL = """
select c.name, count(*) as n, sum(e.amount) as total, min(e.ts) as first_ts
from {events} e
join {customers} c on e.customer_id = c.id
where e.kind <> 'k3'
group by c.name
"""
EVENTS_SQL = """
select g::bigint as id, (g % 50)::int + 1 as customer_id,
       ((g % 997) * 0.25)::numeric(10,2) as amount, 'k' || (g % 5) as kind,
       timestamp '2024-01-01' + g * interval '1 minute' as ts, repeat('x', 20) as note
from generate_series(1, {rows}) as s(g)
"""
CUSTOMERS = "id,name\n" + "".join(f"{i},c{i:02d}\n" for i in range(1, 41))


class JdbcProject(PgProject):
    def write_profile(self, user: str | None = None, password: str = SECRET,
                      threads: int = 2, extra: str = "", min_rows: int = 1000) -> None:
        self.write("profiles.yml", PROFILES.format(
            host=self.db.host, port=self.db.port, user=user or self.db.user,
            password=password, dbname=self.db.dbname, extra=extra, min_rows=min_rows))

    def duck(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def message(self, name: str) -> str:
        results = json.loads((self.root / "target" / "run_results.json").read_text())["results"]
        return str(next(r["message"] for r in results if r["unique_id"] == f"model.proj.{name}"))


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = get_spark({"spark.master": "local[2]"})
    # the jar was put in spark.jars at start: the driver class loads
    assert jdbc_available(session, "postgres")
    yield session
    stop_spark()


@pytest.fixture
def jp(tmp_path: Path, pg_db: PgDatabase, spark: object,
       monkeypatch: pytest.MonkeyPatch) -> JdbcProject:
    monkeypatch.setattr(transport, "ROWS_PER_PARTITION", 10_000)
    p = JdbcProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    # the Spark route throughout (small inputs would be staged on the target by default)
    p.write("dbt_project.yml", "name: proj\nprofile: proj\nmodels:\n  proj:\n"
                               "    +federation_route: spark\n")
    p.write_profile()
    p.write("models/sources.yml", SOURCES)
    p.write("seeds/customers.csv", CUSTOMERS)
    events, customers = "{{ source('pg_src', 'events') }}", "{{ ref('customers') }}"
    body = MODEL_SQL.format(events=events, customers=customers)
    p.write("models/fed_duck.sql", "{{ config(materialized='table') }}\n" + body)
    p.write("models/fed_pg.sql", "{{ config(materialized='table', target='pg') }}\n" + body)
    p.write("models/local_only.sql", "select count(*) as n from {{ ref('customers') }}")
    pg_db.query("create schema raw; create table raw.events as " + EVENTS_SQL.format(rows=ROWS)
                + "; analyze raw.events")
    return p


def _expected() -> list[tuple[Any, ...]]:
    """The model computed by DuckDB alone over the same generated data."""
    con = duckdb.connect()
    con.execute("create table events as " + EVENTS_SQL.format(rows=ROWS)
                .replace("generate_series", "range").replace(f"{ROWS})", f"{ROWS + 1})"))
    con.execute("create table customers as select * from (values "
                + ", ".join(f"({i}, 'c{i:02d}')" for i in range(1, 41)) + ") t(id, name)")
    assert con.execute("select count(*) from events").fetchone() == (ROWS,)
    return con.execute(MODEL_SQL.format(events="events", customers="customers")
                       + " order by 1").fetchall()


def _line(output: str, model: str) -> str:
    return next(ln for ln in output.splitlines() if "OK created" in ln
                and model in ln)


def test_large_postgres_inputs_go_through_jdbc(jp: JdbcProject) -> None:
    expected = _expected()
    run = jp.dvt("build")
    assert run.exit_code == 0, run.output
    assert set(run.statuses.values()) == {"success"}, run.statuses
    assert SECRET not in run.output
    assert jp.duck("select * from main.fed_duck order by 1") == expected
    assert jp.query("select * from analytics.fed_pg order by 1") == expected
    # 40,000 of 50,000 rows pass the pushed-down filter: 4 ranges of 10,000 ids wanted,
    # capped at one per core (local[2])
    jdbc = re.compile(r"pg_src\.events: 4 of 6 columns, 1 predicate pushed down, 40000 rows "
                      r"via JDBC \(2 partitions\)")
    assert jdbc.search(_line(run.output, "main.fed_duck")), run.output
    assert "; customers: 2 of 2 columns, 40 rows via Arrow" in _line(run.output, "main.fed_duck")
    # landing on PostgreSQL: events is on the target itself, read by Spark over JDBC too
    assert "(pg_src.events: 4 of 6 columns, 1 predicate pushed down, 40000 rows via JDBC " \
        "(2 partitions)" in _line(run.output, "analytics.fed_pg")
    assert jdbc.search(jp.message("fed_duck"))
    results = (jp.root / "target" / "run_results.json").read_text()
    assert SECRET not in results
    # the cached JDBC views were dropped with the model's other views
    session: Any = get_spark()
    assert not [t for t in session.catalog.listTables() if t.name.startswith("dvt_")]
    assert session._jsparkSession.sharedState().cacheManager().isEmpty()  # caches freed

    # forcing the Arrow path on the output: ADBC, same rows
    jp.write_profile(extra="      federation_transport: arrow\n")
    run = jp.dvt("run", "-s", "fed_duck", "fed_pg")
    assert run.exit_code == 0, run.output
    assert "40000 rows via ADBC" in _line(run.output, "main.fed_duck"), run.output
    assert "via JDBC" not in run.output
    assert jp.duck("select * from main.fed_duck order by 1") == expected
    assert jp.query("select * from analytics.fed_pg order by 1") == expected

    # auto, above the threshold, but a session whose driver class does not load (as one
    # started before the jar was installed): Arrow, not a crash
    jp.write_profile()
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(fspark.JDBC_DRIVERS, "postgres",
                   ("org.example.NoSuchDriver", fspark.JDBC_DRIVERS["postgres"][1]))
        assert not jdbc_available(get_spark(), "postgres")  # type: ignore[arg-type]
        run = jp.dvt("run", "-s", "fed_duck")
    assert run.exit_code == 0, run.output
    assert "40000 rows via ADBC" in _line(run.output, "main.fed_duck"), run.output

    # a threshold above the estimate keeps it on ADBC
    jp.write_profile(extra="      federation_transport: auto\n", min_rows=1_000_000)
    run = jp.dvt("run", "-s", "fed_duck")
    assert run.exit_code == 0, run.output
    assert "40000 rows via ADBC" in _line(run.output, "main.fed_duck"), run.output


def test_a_failing_jdbc_read_fails_its_node_alone(jp: JdbcProject) -> None:
    assert jp.dvt("seed").exit_code == 0
    # a role that needs its password, given the wrong one; JDBC forced (auto would take
    # Arrow when the estimate query cannot connect)
    jp.write_profile(user=PASSWORD_USER, password=WRONG_PASSWORD,
                     extra="      federation_transport: jdbc\n")
    run = jp.dvt("run", "-s", "fed_duck", "local_only")
    assert run.exit_code == 1, run.output
    assert run.statuses == {"fed_duck": "error", "local_only": "success"}, run.output
    assert "extracting pg_src.events for federation over JDBC from connection 'pg'" \
        in run.output
    assert "password authentication failed" in run.output
    assert "federation_transport: arrow" in run.output  # the hint
    assert WRONG_PASSWORD not in run.output
    results = (jp.root / "target" / "run_results.json").read_text()
    assert "over JDBC from connection 'pg'" in results
    assert WRONG_PASSWORD not in results
    for path in (jp.root / "target").rglob("*"):
        if path.is_file():
            assert WRONG_PASSWORD not in path.read_text(errors="replace"), path
