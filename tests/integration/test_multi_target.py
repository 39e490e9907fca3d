"""One project, several engines: a real PostgreSQL server (started by the tests) plus DuckDB
files. Targets of models/seeds/tests, connections of sources, `seed --target`, ref/source
rendering per connection, `debug` over every output, pushdown on each target in one build,
a federation node failing alone, and the planner's path for the trial plan's matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.conftest import SECRET, PgDatabase, PgProject

PROFILES = """
proj:
  target: warehouse
  outputs:
    warehouse:
      type: duckdb
      path: warehouse.duckdb
      threads: 4
    crm:
      type: duckdb
      path: crm.duckdb
    pg:
      type: postgres
      host: {host}
      port: {port}
      user: {user}
      password: {password}
      dbname: {dbname}
      schema: analytics
      threads: 2
{extra}"""

PROJECT = """
name: proj
profile: proj
models:
  proj:
    on_pg:
      +target: pg
seeds:
  proj:
    pg_people:
      +target: pg
"""

SOURCES = """
version: 2
sources:
  - name: pg_src
    connection: pg
    schema: raw
    tables:
      - name: events
        columns:
          - name: id
            data_tests: [not_null]
  - name: wh_src
    schema: raw
    tables:
      - name: events
  - name: crm_src
    schema: raw
    config:
      meta: {connection: crm}
    tables:
      - name: accounts
"""

SCHEMA = """
version: 2
seeds:
  - name: pg_orders
    config:
      target: pg
  - name: crm_codes
    config:
      target: crm
models:
  - name: pg_yaml
    config:
      target: pg
    columns:
      - name: id
        data_tests: [unique, not_null]
  - name: wh_model
    columns:
      - name: id
        data_tests: [unique]
"""


class MultiProject(PgProject):
    """PgProject whose profile has a DuckDB default target (`warehouse`), a second DuckDB
    file (`crm`) and the test's PostgreSQL database (`pg`)."""

    def write_profile(self, user: str | None = None, password: str = SECRET,
                      threads: int = 2, extra: str = "") -> None:
        self.write("profiles.yml", PROFILES.format(
            host=self.db.host, port=self.db.port, user=user or self.db.user,
            password=password, dbname=self.db.dbname, extra=extra))

    def duck(self, sql: str, file: str = "warehouse.duckdb") -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.root / file))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def ls_json(self, *args: str) -> dict[str, dict[str, Any]]:
        run = self.dvt("ls", "--output", "json", *args)
        assert run.exit_code == 0, run.output
        return {d["unique_id"]: d for d in run.result.entries}

    def manifest_nodes(self) -> dict[str, Any]:
        data = json.loads((self.root / "target" / "manifest.json").read_text())
        return dict(data["nodes"])


@pytest.fixture
def mt(tmp_path: Path, pg_db: PgDatabase) -> MultiProject:
    p = MultiProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    p.write("dbt_project.yml", PROJECT)
    p.write_profile()
    p.write("models/sources.yml", SOURCES)
    p.write("models/schema.yml", SCHEMA)
    p.write("seeds/wh_people.csv", "id,name\n1,ann\n2,bob\n")
    p.write("seeds/pg_people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    p.write("seeds/pg_orders.csv", "id,person_id\n10,1\n11,3\n")
    p.write("seeds/crm_codes.csv", "code\nA\nB\nC\nD\n")
    pg_db.query("create schema raw; create table raw.events (id int, kind text); "
                "insert into raw.events values (1, 'pg'), (2, 'pg')")
    p.duck("create schema raw; create table raw.events as select 7 as id, 'wh' as kind")
    p.duck("create schema raw; create table raw.accounts as select 1 as id", "crm.duckdb")
    return p


def _ok(run: Any) -> None:
    assert run.exit_code == 0, run.output
    assert SECRET not in run.output


# -- seeds ------------------------------------------------------------------------------


def test_seeds_follow_their_target_and_seed_target_overrides(mt: MultiProject) -> None:
    run = mt.dvt("seed")
    _ok(run)
    # `+target:` in dbt_project.yml, `target:` in YAML config, and no target (the default)
    assert mt.query("select count(*) from analytics.pg_people") == [(3,)]
    assert mt.query("select count(*) from analytics.pg_orders") == [(2,)]
    assert mt.duck("select count(*) from main.wh_people") == [(2,)]
    assert mt.duck("select count(*) from main.crm_codes", "crm.duckdb") == [(4,)]
    assert mt.duck("select count(*) from information_schema.tables "
                   "where table_name in ('pg_people', 'pg_orders', 'crm_codes')") == [(0,)]
    # --target X loads the chosen seeds into X although their config names another target
    run = mt.dvt("seed", "--target", "pg", "-s", "crm_codes", "wh_people")
    _ok(run)
    assert "PASS=2" in run.output
    assert "OK loaded seed file analytics.crm_codes" in run.output
    assert mt.query("select count(*) from analytics.crm_codes") == [(4,)]
    assert mt.query("select count(*) from analytics.wh_people") == [(2,)]
    run = mt.dvt("seed", "--target", "warehouse", "-s", "pg_people")
    _ok(run)
    assert mt.duck("select count(*) from main.pg_people") == [(3,)]
    # without --target again: each seed's own config
    mt.write("seeds/pg_people.csv", "id,name\n1,ann\n")
    _ok(mt.dvt("seed", "-s", "pg_people", "crm_codes"))
    assert mt.query("select count(*) from analytics.pg_people") == [(1,)]
    assert mt.duck("select count(*) from main.pg_people") == [(3,)]


# -- one build over both engines -------------------------------------------------------


MODELS = {
    # pushdown on pg: config(target=...) in the file, a pg seed and a pg source
    "models/pg_model.sql": """
        {{ config(target='pg', materialized='table') }}
        select p.id, p.name, e.kind, '{{ target.type }}' as engine
        from {{ ref('pg_people') }} p left join {{ source('pg_src', 'events') }} e
          on e.id = p.id
    """,
    # `+target: pg` for the folder in dbt_project.yml
    "models/on_pg/pg_folder.sql": "select id from {{ ref('pg_model') }} where id > 1",
    # `target: pg` in the YAML config, reading a pg seed through an ephemeral model
    "models/pg_eph.sql": "{{ config(materialized='ephemeral', target='pg') }}\n"
                         "select * from {{ ref('pg_orders') }}",
    "models/pg_yaml.sql": "select id, person_id from {{ ref('pg_eph') }}",
    # an ephemeral model without a target renders for the target of the model it is
    # inlined into (its SQL runs there)
    "models/eph_plain.sql": "{{ config(materialized='ephemeral') }}\n"
                            "select '{{ target.name }}' as t, '{{ adapter.type() }}' as a",
    "models/pg_uses_eph.sql": "{{ config(target='pg') }}\nselect * from {{ ref('eph_plain') }}",
    # pushdown on the default target (warehouse, DuckDB)
    "models/wh_model.sql": """
        {{ config(materialized='table') }}
        select p.id, e.kind, '{{ target.type }}' as engine
        from {{ ref('wh_people') }} p cross join {{ source('wh_src', 'events') }} e
    """,
    # runs on the warehouse but reads a pg source: federation; the column does not exist
    # on pg, so its extraction fails (before Spark starts) and the node fails alone
    "models/wh_reads_pg.sql": "select e.id, e.no_such_col from {{ source('pg_src', 'events') }} e",
    "models/after_fed.sql": "select * from {{ ref('wh_reads_pg') }}",
    # a snapshot carries a target too
    "snapshots/pg_snap.sql": """
        {% snapshot pg_snap %}
        {{ config(target='pg', unique_key='id', strategy='check', check_cols='all') }}
        select * from {{ source('pg_src', 'events') }}
        {% endsnapshot %}
    """,
}


def test_build_pushes_down_on_each_target_and_federation_fails_alone(mt: MultiProject) -> None:
    for path, text in MODELS.items():
        mt.write(path, text)
    run = mt.dvt("build", "--threads", "4")
    assert run.exit_code == 1, run.output
    st = run.statuses
    assert st.pop("wh_reads_pg") == "error"
    assert st.pop("after_fed") == "skipped"
    assert set(st.values()) <= {"success", "pass"}, run.output
    assert {"pg_model", "pg_folder", "pg_yaml", "wh_model", "pg_snap", "pg_uses_eph",
            "pg_people", "pg_orders", "wh_people", "crm_codes", "unique_pg_yaml_id", "unique_wh_model_id",
            "source_not_null_pg_src_events_id"} <= set(st), st
    assert "extracting pg_src.events for federation" in run.output
    assert "no_such_col" in run.output
    # each model landed on its own engine, built by that engine's SQL
    assert mt.query("select id, kind, engine from analytics.pg_model order by id") == [
        (1, "pg", "postgres"), (2, "pg", "postgres"), (3, None, "postgres")]
    assert mt.query("select id from analytics.pg_folder order by id") == [(2,), (3,)]
    assert mt.query("select id, kind from analytics.pg_snap order by id") == [
        (1, "pg"), (2, "pg")]
    assert mt.query("select t, a from analytics.pg_uses_eph") == [("pg", "postgres")]
    assert mt.query("select id, person_id from analytics.pg_yaml order by id") == [
        (10, 1), (11, 3)]
    assert mt.duck("select id, kind, engine from main.wh_model order by id") == [
        (1, "wh", "duckdb"), (2, "wh", "duckdb")]
    assert mt.duck("select count(*) from information_schema.tables "
                   "where table_name in ('pg_model', 'wh_reads_pg', 'after_fed')") == [(0,)]
    # run_results records the failure for `retry`
    results = json.loads((mt.root / "target" / "run_results.json").read_text())["results"]
    by_id = {r["unique_id"]: r["status"] for r in results}
    assert by_id["model.proj.wh_reads_pg"] == "error"
    assert by_id["model.proj.after_fed"] == "skipped"
    # the tests ran on the target of what they test: a test of a pg model on pg fails
    # when the pg model has a duplicate, while the warehouse is untouched
    mt.query("insert into analytics.pg_orders values (10, 2)")
    run = mt.dvt("test", "-s", "pg_yaml")
    assert run.exit_code == 1 and run.statuses["unique_pg_yaml_id"] == "fail", run.output
    assert run.statuses["not_null_pg_yaml_id"] == "pass"
    # a singular test runs where what it reads lives: on pg, with no target given
    mt.write("tests/pg_orders_dup.sql",
             "select id from {{ ref('pg_orders') }} group by id having count(*) > 1")
    run = mt.dvt("test", "-s", "pg_orders_dup")
    assert run.exit_code == 1 and run.statuses == {"pg_orders_dup": "fail"}, run.output
    listing = mt.dvt("ls", "-s", "pg_orders_dup", "--output", "json")
    assert listing.result.entries[0]["target"] == "pg", listing.output


def test_ref_and_source_render_for_the_connection_they_live_on(mt: MultiProject) -> None:
    mt.write("models/wh_reads_pg.sql", "select * from {{ source('pg_src', 'events') }}")
    mt.write("models/pg_reads_wh.sql",
             "{{ config(target='pg') }}\nselect * from {{ source('wh_src', 'events') }} "
             "join {{ ref('wh_people') }} using (id) join {{ source('crm_src', 'accounts') }}"
             " using (id)")
    run = mt.dvt("compile", "-s", "wh_reads_pg", "pg_reads_wh")
    _ok(run)
    db = mt.db.dbname
    wh = (mt.root / "target/compiled/proj/models/wh_reads_pg.sql").read_text()
    assert f'from "{db}"."raw"."events"' in wh
    pg = (mt.root / "target/compiled/proj/models/pg_reads_wh.sql").read_text()
    assert '"warehouse"."raw"."events"' in pg and '"warehouse"."main"."wh_people"' in pg
    assert '"crm"."raw"."accounts"' in pg
    # the plan, one line per node
    assert ("model wh_reads_pg: federation -> warehouse; foreign inputs: source "
            "pg_src.events (pg)") in run.output
    assert ("model pg_reads_wh: federation -> pg; foreign inputs: seed wh_people "
            "(warehouse), source wh_src.events (warehouse), source crm_src.accounts (crm)"
            ) in run.output.splitlines()
    # --target only moves what has no target of its own: wh_people (no config) and the
    # wh_src source (no connection) are now on pg, crm stays where it is
    nodes = mt.ls_json("--target", "pg", "-s", "pg_reads_wh", "wh_reads_pg", "wh_people",
                       "source:wh_src", "source:pg_src")
    assert nodes["model.proj.pg_reads_wh"]["target"] == "pg"
    assert [f["unique_id"] for f in nodes["model.proj.pg_reads_wh"]["foreign_inputs"]] == [
        "source.proj.crm_src.accounts"]
    assert nodes["model.proj.wh_reads_pg"]["execution"] == "pushdown"
    assert nodes["seed.proj.wh_people"]["target"] == "pg"
    assert nodes["source.proj.wh_src.events"]["connection"] == "pg"
    assert nodes["source.proj.pg_src.events"]["connection"] == "pg"


def test_debug_checks_every_output(mt: MultiProject) -> None:
    _ok(mt.dvt("debug", "--all-targets"))
    mt.write_profile(extra=f"""
    broken:
      type: postgres
      host: 127.0.0.1
      port: 1
      user: nobody
      password: {SECRET}
      dbname: nowhere
      connect_timeout: 3
""")
    run = mt.dvt("debug", "--all-targets")
    assert run.exit_code == 1, run.output
    lines = run.output.splitlines()
    assert "  warehouse (duckdb): OK connection ok" in lines
    assert "  crm (duckdb): OK connection ok" in lines
    assert "  pg (postgres): OK connection ok" in lines
    assert any(ln.startswith("  broken (postgres): ERROR") for ln in lines), run.output
    assert "Connection to output 'broken' (postgres) failed" in run.output
    assert "1 check failed:" in run.output
    assert SECRET not in run.output


# -- the planner on the trial plan's federation matrix --------------------------------

# postgres plays itself; `lake` (DuckDB) plays databricks and `crm` (DuckDB) snowflake
MATRIX_SOURCES = """
version: 2
sources:
  - name: postgres_source
    connection: pg
    tables:
      - name: customers_db_1
      - name: employees
  - name: databricks_source
    meta: {connection: lake}
    tables:
      - name: dim_regions
      - name: dim_categories
        config:
          meta: {connection: lake_b}
  - name: snowflake_exim
    config:
      meta: {connection: crm}
    tables:
      - name: cbs_f_country
  - name: pg_other_schema
    connection: pg_analytics
    tables:
      - name: t
"""

MATRIX = {
    "pushdown_pg_only": ("pg", "select * from {{ source('postgres_source', 'customers_db_1') }}"
                         " cross join {{ source('postgres_source', 'employees') }}"),
    "cross_pg_databricks": ("pg", "select * from {{ source('postgres_source', "
                            "'customers_db_1') }} cross join "
                            "{{ source('databricks_source', 'dim_regions') }}"),
    "snowflake_to_pg": ("pg", "select * from {{ source('snowflake_exim', 'cbs_f_country') }}"),
    "pushdown_databricks_only": ("lake", "select * from {{ source('databricks_source', "
                                 "'dim_regions') }} cross join {{ source('databricks_source', "
                                 "'dim_categories') }}"),
    "pg_to_databricks": ("lake", "select * from {{ source('postgres_source', "
                         "'customers_db_1') }}"),
    "snowflake_to_databricks": ("lake", "select * from {{ source('snowflake_exim', "
                                "'cbs_f_country') }}"),
    "three_way_to_databricks": ("lake", "select * from {{ source('postgres_source', "
                                "'customers_db_1') }} cross join {{ source('databricks_source',"
                                " 'dim_regions') }} cross join {{ source('snowflake_exim', "
                                "'cbs_f_country') }}"),
    # same connection, other schema / other output name: still pushdown
    "pg_other_schema_pushdown": ("pg", "select * from {{ source('pg_other_schema', 't') }}"),
    # through an ephemeral model: what it reads counts, not where it is configured
    "pg_eph": ("lake", "{{ config(materialized='ephemeral') }}\n"
               "select * from {{ source('postgres_source', 'employees') }}"),
    "lake_via_ephemeral": ("lake", "select * from {{ ref('pg_eph') }}"),
}

EXPECTED: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "pushdown_pg_only": ("pushdown", "pg", []),
    "cross_pg_databricks": ("federation", "pg",
                            [("source.proj.databricks_source.dim_regions", "lake")]),
    "snowflake_to_pg": ("federation", "pg", [("source.proj.snowflake_exim.cbs_f_country",
                                              "crm")]),
    "pushdown_databricks_only": ("pushdown", "lake", []),
    "pg_to_databricks": ("federation", "lake",
                         [("source.proj.postgres_source.customers_db_1", "pg")]),
    "snowflake_to_databricks": ("federation", "lake",
                                [("source.proj.snowflake_exim.cbs_f_country", "crm")]),
    "three_way_to_databricks": ("federation", "lake",
                                [("source.proj.postgres_source.customers_db_1", "pg"),
                                 ("source.proj.snowflake_exim.cbs_f_country", "crm")]),
    "pg_other_schema_pushdown": ("pushdown", "pg", []),
    "lake_via_ephemeral": ("federation", "lake",
                           [("source.proj.postgres_source.employees", "pg")]),
}


def test_planner_decides_the_trial_matrix(tmp_path: Path, pg_db: PgDatabase) -> None:
    p = MultiProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    p.write("dbt_project.yml", "name: proj\nprofile: proj\n")
    # outputs that are one connection under two names: pg (another schema), lake (same file)
    p.write_profile(extra=f"""
    lake:
      type: duckdb
      path: lake.duckdb
    lake_b:
      type: duckdb
      path: ./lake.duckdb
      schema: other
    pg_analytics:
      type: postgres
      host: {pg_db.host}
      port: {pg_db.port}
      user: {pg_db.user}
      dbname: {pg_db.dbname}
      schema: other
""")
    p.write("models/sources.yml", MATRIX_SOURCES)
    for name, (target, sql) in MATRIX.items():
        p.write(f"models/{name}.sql", "{{ config(target='" + target + "') }}\n" + sql)
    nodes = p.ls_json("--resource-type", "model")
    _ok(p.dvt("parse"))
    manifest = p.manifest_nodes()
    for name, (path, target, foreign) in EXPECTED.items():
        uid = f"model.proj.{name}"
        listed = nodes[uid]
        assert (listed["execution"], listed["target"]) == (path, target), name
        assert [(f["unique_id"], f["connection"]) for f in listed.get("foreign_inputs", [])
                ] == foreign, name
        assert manifest[uid]["execution"]["path"] == path, name
        assert manifest[uid]["execution"]["target"] == target, name
        assert [(f["unique_id"], f["connection"]) for f in
                manifest[uid]["execution"]["foreign_inputs"]] == foreign, name
        assert ("foreign_inputs" in listed) == (path == "federation"), name
    # the foreign relation is named for the connection it lives on
    three_way = manifest["model.proj.three_way_to_databricks"]["execution"]["foreign_inputs"]
    assert [f["relation_name"] for f in three_way] == [
        f'"{pg_db.dbname}"."postgres_source"."customers_db_1"',
        '"crm"."snowflake_exim"."cbs_f_country"']
    # compile prints the path of each node, one line each
    run = p.dvt("compile", "-s", "pushdown_pg_only", "three_way_to_databricks")
    _ok(run)
    assert "model pushdown_pg_only: pushdown on pg" in run.output.splitlines()
    assert ("model three_way_to_databricks: federation -> lake; foreign inputs: source "
            "postgres_source.customers_db_1 (pg), source snowflake_exim.cbs_f_country (crm)"
            ) in run.output.splitlines()


def test_notebook_session_follows_seed_target_and_default_changes(mt: MultiProject) -> None:
    from dvt_engine.session import Session

    db = mt.db.dbname
    session = Session(mt.root, profiles_dir=str(mt.root))
    try:
        assert session.invoke(["seed", "-s", "wh_people"]).success
        assert session.manifest.nodes["seed.proj.wh_people"].database == "warehouse"
        seeded = session.invoke(["seed", "--target", "pg", "-s", "crm_codes"])
        assert seeded.success
        assert seeded.results[0].relation_name.startswith(f'"{db}"')  # loaded on pg
        # --target lasts one command, as on the CLI: the session's manifest never saw it
        assert session.manifest.nodes["seed.proj.crm_codes"].database == "crm"
        # the next command without --target: the seed's own config, the default target
        assert session.invoke(["seed", "-s", "crm_codes", "wh_people"]).success
        assert session.manifest.nodes["seed.proj.crm_codes"].database == "crm"
        assert session.manifest.nodes["seed.proj.wh_people"].database == "warehouse"
        assert session.default_target is None and session.profile.target_name == "warehouse"
    finally:
        session.close()
    assert mt.query("select count(*) from analytics.crm_codes") == [(4,)]
    assert mt.query("select count(*) from information_schema.tables "
                    "where table_name = 'wh_people'") == [(0,)]
    assert mt.duck("select count(*) from main.crm_codes", "crm.duckdb") == [(4,)]
    assert mt.duck("select count(*) from main.wh_people") == [(2,)]
