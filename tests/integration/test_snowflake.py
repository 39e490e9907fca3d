"""The Snowflake adapter against fakesnow's server with the real snowflake connector.

Each test gets its own database on the session's server. fakesnow accepts any password,
so a wrong password cannot be tested here; an unreachable server stands in for a failed
login (one clean error, the password nowhere).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.integration.snowflake_server import ACCOUNT, PASSWORD, USER, SnowflakeServer

SF_OUTPUT = """
    sf:
      type: snowflake
      account: {account}
      user: {user}
      password: {password}
      role: SYSADMIN
      database: {database}
      warehouse: COMPUTE_WH
      schema: analytics
      threads: 2
      query_tag: dvt-tests
      host: {host}
      port: {port}
      protocol: http
      connect_timeout: {timeout}
"""

PROFILES = """
proj:
  target: {target}
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      threads: 1
""" + SF_OUTPUT


class SfProject(Project):
    def __init__(self, root: Path, server: SnowflakeServer, database: str) -> None:
        super().__init__(root)
        self.server = server
        self.database = database

    def write_profile(self, target: str = "sf", port: int | None = None,
                      timeout: int = 30) -> None:
        self.write("profiles.yml", PROFILES.format(
            target=target, account=ACCOUNT, user=USER, password=PASSWORD,
            database=self.database, host=self.server.host, port=port or self.server.port,
            timeout=timeout))

    def sf(self, sql: str) -> list[tuple[object, ...]]:
        return self.server.query(sql, self.database)


@pytest.fixture
def sfp(tmp_path: Path, snowflake_server: SnowflakeServer) -> SfProject:
    p = SfProject(tmp_path / "proj", snowflake_server, f"DVT_{uuid.uuid4().hex[:8].upper()}")
    p.root.mkdir()
    p.write("dbt_project.yml", "name: proj\nprofile: proj\n")
    p.write_profile()
    p.sf(f"create database if not exists {p.database}")
    return p


def test_debug_ok_and_unreachable_server_is_one_clean_error(sfp: SfProject) -> None:
    run = sfp.dvt("debug")
    assert run.exit_code == 0, run.output
    assert "OK connection ok" in run.output
    assert PASSWORD not in run.output

    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    sfp.write_profile(port=closed, timeout=3)
    bad = sfp.dvt("debug")
    assert bad.exit_code != 0
    assert PASSWORD not in bad.output
    assert "Traceback" not in bad.output


SEED_ROWS = 3000


def _write_seed(sfp: SfProject, rows: int = SEED_ROWS) -> None:
    lines = ["id,name,amount,day,active"]
    lines += [f"{i},name {i},{i * 1.5},2024-01-{i % 28 + 1:02d},{'true' if i % 2 else 'false'}"
              for i in range(1, rows + 1)]
    sfp.write("seeds/orders.csv", "\n".join(lines) + "\n")


MODELS = {
    "models/orders_view.sql": "select id, name, amount from {{ ref('orders') }} where id <= 10",
    "models/orders_table.sql": "{{ config(materialized='table') }}\n"
                               "select id, amount * 2 as double_amount from {{ ref('orders_view') }}",
    "models/inc_merge.sql": """
        {{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}
        select id, name from {{ ref('orders_view') }}
        {% if is_incremental() %} where id > 8 {% endif %}
        """,
    "models/inc_di.sql": """
        {{ config(materialized='incremental', unique_key='id',
                  incremental_strategy='delete+insert') }}
        select id, name from {{ ref('orders_view') }}
        {% if is_incremental() %} where id > 8 {% endif %}
        """,
    "models/inc_append.sql": """
        {{ config(materialized='incremental', incremental_strategy='append') }}
        select id from {{ ref('orders_view') }}
        {% if is_incremental() %} where id > 8 {% endif %}
        """,
    "models/schema.yml": """
        version: 2
        models:
          - name: orders_table
            columns:
              - name: id
                data_tests: [unique, not_null]
          - name: inc_append
            columns:
              - name: id
                data_tests: [unique]
        """,
}


def test_seed_models_incremental_tests_show(sfp: SfProject) -> None:
    _write_seed(sfp)
    for path, text in MODELS.items():
        sfp.write(path, text)
    start = time.perf_counter()
    seed = sfp.dvt("seed")
    seconds = time.perf_counter() - start
    assert seed.exit_code == 0, seed.output
    assert f"INSERT {SEED_ROWS}" in seed.output
    print(f"seed of {SEED_ROWS} rows x 5 columns: {seconds:.2f}s")  # the report's figure
    db = sfp.database
    # unquoted relation names fold to upper case; seed columns are quoted (dbt's default)
    columns = sfp.sf(f"select column_name, data_type from {db}.information_schema.columns "
                     "where table_schema = 'ANALYTICS' and table_name = 'ORDERS' "
                     "order by ordinal_position")
    # agate's types (integer, float, date, boolean, text), as the stand-in spells them
    assert [c[0] for c in columns] == ["id", "name", "amount", "day", "active"]
    assert [c[1] for c in columns] == ["NUMBER", "TEXT", "FLOAT", "DATE", "BOOLEAN"], columns
    assert sfp.sf(f'select count(*), sum("amount"), min("day"), count_if("active") '
                  f"from {db}.analytics.orders")[0][:2] == (SEED_ROWS, 1.5 * SEED_ROWS *
                                                            (SEED_ROWS + 1) / 2)

    run = sfp.dvt("run")
    assert run.exit_code == 0, run.output
    assert PASSWORD not in run.output
    assert "SUCCESS" in run.output
    assert sfp.sf(f"select count(*), sum(double_amount) from {db}.analytics.orders_table") == [
        (10, 165.0)]
    kinds = dict(sfp.sf(f"select table_name, table_type from {db}.information_schema.tables "
                        "where table_schema = 'ANALYTICS'"))
    assert kinds.get("ORDERS_TABLE") == "BASE TABLE", kinds
    assert [r[0] for r in sfp.sf(f"select table_name from {db}.information_schema.views "
                                 "where table_schema = 'ANALYTICS'")] == ["ORDERS_VIEW"]

    # incremental: change rows 9 and 10 at the source, run again
    sfp.sf(f"update {db}.analytics.orders set \"name\" = 'changed' where \"id\" >= 9")
    again = sfp.dvt("run", "-s", "inc_merge", "inc_di", "inc_append")
    assert again.exit_code == 0, again.output
    for model in ("inc_merge", "inc_di"):
        assert sfp.sf(f"select count(*), count_if(name = 'changed') "
                      f"from {db}.analytics.{model}") == [(10, 2)], model
    assert sfp.sf(f"select count(*) from {db}.analytics.inc_append") == [(12,)]
    # no staging tables left
    assert not [r for r in sfp.sf(f"select table_name from {db}.information_schema.tables")
                if "DBT_TMP" in str(r[0]).upper()]

    # generic tests: two pass on orders_table, the append model now has duplicate ids
    test = sfp.dvt("test")
    assert test.exit_code == 1, test.output
    assert test.statuses["unique_orders_table_id"] == "pass"
    assert test.statuses["not_null_orders_table_id"] == "pass"
    assert test.statuses["unique_inc_append_id"] == "fail"

    show = sfp.dvt("show", "-s", "orders_table", "--limit", "3")
    assert show.exit_code == 0, show.output
    assert "double_amount" in show.output.lower() and "| 3 " in show.output.replace("  ", " ")

    # full refresh rebuilds the table in place of the old one
    fr = sfp.dvt("run", "-s", "inc_append", "--full-refresh")
    assert fr.exit_code == 0, fr.output
    assert sfp.sf(f"select count(*) from {db}.analytics.inc_append") == [(10,)]


def test_quoting_config_keeps_case(sfp: SfProject) -> None:
    sfp.write("dbt_project.yml", "name: proj\nprofile: proj\nquoting:\n  identifier: true\n")
    sfp.write("models/MixedCase.sql", "select 1 as id")
    run = sfp.dvt("run")
    assert run.exit_code == 0, run.output
    names = [r[0] for r in sfp.sf(f"select table_name from {sfp.database}.information_schema"
                                  ".views where table_schema = 'ANALYTICS'")]
    assert names == ["MixedCase"]
    assert sfp.dvt("run").exit_code == 0  # found again as a view: replaced, not recreated


SOURCES = """
version: 2
sources:
  - name: exim
    connection: sf
    database: {database}
    schema: ods
    tables: [{{name: cbs_f_country}}]
"""

FEDERATED = """
{{{{ config(federation_route='{route}') }}}}
select c.country_code, c.country_name
from {{{{ source('exim', 'cbs_f_country') }}}} c
where c.region = 'EU'
"""


def _federation_project(sfp: SfProject) -> None:
    sfp.write_profile(target="dev")
    db = sfp.database
    sfp.sf(f"create schema if not exists {db}.ods")
    sfp.sf(f"create table {db}.ods.cbs_f_country (country_code varchar, country_name varchar, "
           "region varchar, population integer)")
    sfp.sf(f"insert into {db}.ods.cbs_f_country values ('FR', 'France', 'EU', 68), "
           "('DE', 'Germany', 'EU', 84), ('US', 'United States', 'NA', 333)")
    sfp.write("models/sources.yml", SOURCES.format(database=db))
    sfp.write("models/snowflake_to_duck.sql", FEDERATED.format(route="stage"))


def test_snowflake_source_federated_into_duckdb(sfp: SfProject) -> None:
    _federation_project(sfp)
    compiled = sfp.dvt("compile", "-s", "snowflake_to_duck")
    assert compiled.exit_code == 0, compiled.output
    # the extraction runs on Snowflake, in its dialect: only the columns used, the
    # predicate pushed down
    text = compiled.output.upper()
    assert "CBS_F_COUNTRY" in text and "POPULATION" not in text, compiled.output
    assert "'EU'" in compiled.output

    run = sfp.dvt("run", "-s", "snowflake_to_duck")
    assert run.exit_code == 0, run.output
    assert PASSWORD not in run.output
    assert sorted(sfp.query("select * from main.snowflake_to_duck")) == [
        ("DE", "Germany"), ("FR", "France")]


def test_extraction_sql_in_the_snowflake_dialect() -> None:
    """A DuckDB model reading a Snowflake relation: the extraction is written for Snowflake
    (its functions and quoting), not DuckDB's."""
    import sqlglot
    from dvt_engine.federation.extract import ForeignRelation, plan_extractions

    sql = ("select c.country_code, c.country_name from sf_db.ods.cbs_f_country c "
           "where c.region = 'EU' and c.updated_at > epoch_ms(1700000000000) "
           "and c.population::bigint > 10")
    foreign = ForeignRelation("exim.cbs_f_country", "snowflake", "SF_DB.ODS.CBS_F_COUNTRY", "sf")
    plan = plan_extractions(sql, "duckdb", {"sf_db.ods.cbs_f_country": foreign})
    (extraction,) = plan.extractions
    assert extraction.dialect == "snowflake"
    assert "SF_DB.ODS.CBS_F_COUNTRY" in extraction.sql
    # parses as Snowflake, and DuckDB's spellings were translated
    parsed = sqlglot.parse_one(extraction.sql, read="snowflake")
    assert parsed.find(sqlglot.exp.Table) is not None
    assert "TO_TIMESTAMP(1700000000000, 3)" in extraction.sql.upper()  # DuckDB's epoch_ms
    assert "CAST(POPULATION AS BIGINT) > 10" in extraction.sql.upper()
    assert len(extraction.pushed_predicates) == 3, extraction.pushed_predicates


def test_snowflake_source_federated_through_spark(sfp: SfProject) -> None:
    """One Spark-route model: the Snowflake rows arrive as Arrow, Spark computes."""
    from dvt_engine.federation.spark import get_spark, spark_available, stop_spark

    missing = spark_available()
    if missing is not None:
        pytest.skip(f"no local Spark: {missing}")
    _federation_project(sfp)
    sfp.write("models/snowflake_to_duck.sql", FEDERATED.format(route="spark"))
    get_spark({"spark.master": "local[2]"})
    try:
        run = sfp.dvt("run", "-s", "snowflake_to_duck")
    finally:
        stop_spark()
    assert run.exit_code == 0, run.output
    assert "federated" in run.output and PASSWORD not in run.output
    assert sorted(sfp.query("select * from main.snowflake_to_duck")) == [
        ("DE", "Germany"), ("FR", "France")]
