"""The trial plan's federation matrix on its own three target types: PostgreSQL (the
default target), Snowflake (fakesnow) and Databricks (Spark's Thrift server).

Seeds land on their own targets, the seven matrix models run in one `dvt run`, and every
landed table equals the same SQL computed by DuckDB alone over copies of the data. The
federated models take each route in turn: inputs staged on the target (what `auto` picks
for inputs this small), and computed in the local SparkSession, then landed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import Project
from tests.integration.conftest import SECRET, PgDatabase
from tests.integration.databricks_server import TOKEN, DatabricksServer
from tests.integration.snowflake_server import ACCOUNT, PASSWORD, USER, SnowflakeServer

PROFILES = """
coke:
  target: postgres
  outputs:
    postgres:
      type: postgres
      host: {pg_host}
      port: {pg_port}
      user: {pg_user}
      password: {pg_password}
      dbname: {pg_db}
      schema: public
      threads: 4
    snowflake:
      type: snowflake
      account: {sf_account}
      user: {sf_user}
      password: {sf_password}
      database: {sf_db}
      warehouse: COMPUTE_WH
      schema: ods
      host: {sf_host}
      port: {sf_port}
      protocol: http
    databricks:
      type: databricks
      host: 127.0.0.1
      http_path: cliservice
      token: {dbx_token}
      schema: {dbx_schema}
      connection_uri: {dbx_uri}
"""

SOURCES = """
version: 2
sources:
  - name: postgres_source
    schema: raw
    tables: [{name: customers_db_1}, {name: employees}]
  - name: snowflake_exim
    connection: snowflake
    schema: ods
    tables: [{name: cbs_f_country}]
  - name: databricks_source
    connection: databricks
    schema: "{dbx_schema}"
    tables: [{name: dim_regions}, {name: dim_categories}]
"""

PROJECT = """
name: coke
profile: coke
models:
  coke:
    +federation_route: {route}
seeds:
  coke:
    dim_regions: {{+target: databricks}}
    dim_categories: {{+target: databricks}}
"""

CUSTOMERS = [(1, "Ann", "NL", 1), (2, "Bob", "DE", 2), (3, "Cy", "NL", 3), (4, "Dee", "FR", 1)]
EMPLOYEES = [(1, "Eve", 1), (2, "Finn", 3)]
COUNTRIES = [("NL", "Netherlands"), ("DE", "Germany"), ("BE", "Belgium")]
REGIONS = [(1, "North"), (2, "South"), (3, "East")]
CATEGORIES = [(10, "Soda"), (20, "Water")]

# the matrix: name -> (target or None for the default, SQL with {c} {e} {k} {r} {g})
MATRIX = {
    "pushdown_pg_only": (None, "select c.customer_id, c.name, e.employee_name from {c} c "
                               "join {e} e on e.employee_id = c.customer_id"),
    "cross_pg_databricks": (None, "select c.customer_id, r.region_name from {c} c "
                                  "join {r} r on r.region_id = c.region_id"),
    "snowflake_to_pg": (None, "select k.country_code, k.country_name from {k} k "
                              "where k.country_code <> 'BE'"),
    "pushdown_databricks_only": ("databricks", "select r.region_id, g.category_id from {r} r "
                                               "cross join {g} g"),
    "pg_to_databricks": ("databricks", "select c.customer_id, c.country_code from {c} c "
                                       "where c.customer_id > 1"),
    "snowflake_to_databricks": ("databricks", "select k.country_code from {k} k"),
    "three_way_to_databricks": ("databricks",
                                "select c.name, k.country_name, r.region_name from {c} c "
                                "join {k} k on k.country_code = c.country_code "
                                "join {r} r on r.region_id = c.region_id"),
}
DBT = {"c": "{{ source('postgres_source', 'customers_db_1') }}",
       "e": "{{ source('postgres_source', 'employees') }}",
       "k": "{{ source('snowflake_exim', 'cbs_f_country') }}",
       "r": "{{ ref('dim_regions') }}", "g": "{{ ref('dim_categories') }}"}


def _expected(sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("create table c (customer_id int, name text, country_code text, region_id int)")
    con.executemany("insert into c values (?, ?, ?, ?)", CUSTOMERS)
    con.execute("create table e (employee_id int, employee_name text, region_id int)")
    con.executemany("insert into e values (?, ?, ?)", EMPLOYEES)
    con.execute("create table k (country_code text, country_name text)")
    con.executemany("insert into k values (?, ?)", COUNTRIES)
    con.execute("create table r (region_id int, region_name text)")
    con.executemany("insert into r values (?, ?)", REGIONS)
    con.execute("create table g (category_id int, category_name text)")
    con.executemany("insert into g values (?, ?)", CATEGORIES)
    return sorted(con.execute(sql.format(c="c", e="e", k="k", r="r", g="g")).fetchall())


@pytest.fixture(params=["stage", "spark"])
def trial(request: pytest.FixtureRequest, tmp_path: Path, pg_db: PgDatabase,
          snowflake_server: SnowflakeServer, databricks_server: DatabricksServer) -> Project:
    p = Project(tmp_path / "coke")
    p.route = request.param  # type: ignore[attr-defined]
    p.root.mkdir()
    sf_db = f"EXIM_{uuid.uuid4().hex[:8].upper()}"
    dbx_schema = f"dvt_trial_{uuid.uuid4().hex[:8]}"
    p.write("dbt_project.yml", PROJECT.format(route=request.param))
    p.write("profiles.yml", PROFILES.format(
        pg_host=pg_db.host, pg_port=pg_db.port, pg_user=pg_db.user, pg_password=SECRET,
        pg_db=pg_db.dbname, sf_account=ACCOUNT, sf_user=USER, sf_password=PASSWORD,
        sf_db=sf_db, sf_host=snowflake_server.host, sf_port=snowflake_server.port,
        dbx_token=TOKEN, dbx_schema=dbx_schema, dbx_uri=databricks_server.connection_uri))
    p.write("models/sources.yml", SOURCES.replace("{dbx_schema}", dbx_schema))
    p.write("seeds/dim_regions.csv",
            "region_id,region_name\n" + "".join(f"{i},{n}\n" for i, n in REGIONS))
    p.write("seeds/dim_categories.csv",
            "category_id,category_name\n" + "".join(f"{i},{n}\n" for i, n in CATEGORIES))
    for name, (target, sql) in MATRIX.items():
        cfg = "materialized='table'" + (f", target='{target}'" if target else "")
        p.write(f"models/{name}.sql", f"{{{{ config({cfg}) }}}}\n" + sql.format(**DBT))
    rows = ", ".join(str(r) for r in CUSTOMERS)
    pg_db.query("create schema raw; create table raw.customers_db_1 (customer_id int, "
                f"name text, country_code text, region_id int); insert into "
                f"raw.customers_db_1 values {rows}; create table raw.employees "
                "(employee_id int, employee_name text, region_id int); insert into "
                f"raw.employees values {', '.join(str(r) for r in EMPLOYEES)}")
    # created unquoted, as in Snowflake: the columns are COUNTRY_CODE, COUNTRY_NAME
    snowflake_server.query(f"create database if not exists {sf_db}")
    snowflake_server.query(f"create schema if not exists {sf_db}.ods", sf_db)
    snowflake_server.query(f"create table {sf_db}.ods.cbs_f_country (country_code varchar, "
                           "country_name varchar)", sf_db)
    values = ", ".join(f"('{c}', '{n}')" for c, n in COUNTRIES)
    snowflake_server.query(f"insert into {sf_db}.ods.cbs_f_country values {values}", sf_db)
    p.pg = pg_db  # type: ignore[attr-defined]
    p.dbx = databricks_server  # type: ignore[attr-defined]
    p.dbx_schema = dbx_schema  # type: ignore[attr-defined]
    return p


def test_the_trial_matrix_on_postgres_snowflake_and_databricks(trial: Project) -> None:
    seeded = trial.dvt("seed", "--full-refresh")
    assert seeded.exit_code == 0, seeded.output
    assert "OK loaded seed file" in seeded.output
    listing = trial.dvt("ls", "--resource-type", "model", "--output", "json")
    paths = {m["name"]: m["execution"] for m in listing.result.entries}
    assert {n for n, path in paths.items() if path == "pushdown"} == \
        {"pushdown_pg_only", "pushdown_databricks_only"}, paths

    run = trial.dvt("run", "--full-refresh")
    assert run.exit_code == 0, run.output
    assert run.statuses == dict.fromkeys(MATRIX, "success"), run.output
    for secret in (SECRET, TOKEN):
        assert secret not in run.output
    pg, dbx, schema = trial.pg, trial.dbx, trial.dbx_schema  # type: ignore[attr-defined]
    for name, (target, sql) in MATRIX.items():
        if target == "databricks":
            got = dbx.query(f"select * from {schema}.{name}")
        else:
            got = pg.query(f"select * from public.{name}")
        assert sorted(tuple(r) for r in got) == _expected(sql), name
    # the Snowflake input's COUNTRY_CODE reached PostgreSQL as country_code
    assert [r[0] for r in pg.query(
        "select column_name from information_schema.columns where table_schema = 'public' "
        "and table_name = 'snowflake_to_pg' order by ordinal_position")] == \
        ["country_code", "country_name"]
    three = next(ln for ln in run.output.splitlines()
                 if "three_way_to_databricks " in ln and " OK " in ln)
    if trial.route == "stage":  # type: ignore[attr-defined]
        assert "federated with inputs staged on target databricks: 2 inputs (" in three, three
    else:  # computed in the local SparkSession, landed through Databricks' bulk path
        assert "federated in Spark: 3 inputs (" in three, three
