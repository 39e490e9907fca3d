"""Materializations on DuckDB: view, table, ephemeral, incremental, atomic replace, hooks,
custom schema/alias/enabled/tags — as dbt-core 1.10 + dbt-duckdb behave."""

from __future__ import annotations

import pytest

TABLE = "{{ config(materialized='table') }}\n"


def _rel_type(project, name: str, schema: str = "main") -> str | None:
    rows = project.query(
        "select table_type from information_schema.tables "
        f"where table_schema = '{schema}' and table_name = '{name}'")
    return rows[0][0] if rows else None


def _tables(project) -> set[str]:
    return {r[0] for r in project.query("select table_name from information_schema.tables")}


def _columns(project, name: str) -> list[str]:
    return [r[0] for r in project.query(
        "select column_name from information_schema.columns "
        f"where table_name = '{name}' order by ordinal_position")]


# -- view / table / ephemeral ----------------------------------------------------------

def test_view_and_table(project):
    project.write("models/v.sql", "select 1 as id")
    project.write("models/t.sql", TABLE + "select id + 1 as id from {{ ref('v') }}")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert _rel_type(project, "v") == "VIEW"
    assert _rel_type(project, "t") == "BASE TABLE"
    assert project.query("select id from t") == [(2,)]
    assert "OK created sql view model main.v" in run.output
    assert "OK created sql table model main.t" in run.output
    assert "Finished running 1 table model, 1 view model" in run.output


def test_ephemeral_inlined_as_cte(project):
    project.write("models/e1.sql", "{{ config(materialized='ephemeral') }}\nselect 1 as id")
    project.write("models/e2.sql", "{{ config(materialized='ephemeral') }}\n"
                                   "select id * 10 as id from {{ ref('e1') }}")
    # the model's own WITH clause must merge with the injected CTEs
    project.write("models/m.sql", TABLE + """
        with mine as (select id from {{ ref('e2') }})
        select id from mine
        union all
        select id from {{ ref('e1') }}
    """)
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert sorted(project.query("select id from m")) == [(1,), (10,)]
    # ephemerals never become relations, get no line and are not counted
    assert "e1" not in _tables(project) and "e2" not in _tables(project)
    assert "Done. PASS=1 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=1" in run.output
    compiled = (project.root / "target/compiled/proj/models/m.sql").read_text()
    assert "__dbt__cte__e1 as (" in compiled
    assert compiled.index("__dbt__cte__e1 as") < compiled.index("__dbt__cte__e2 as")


def test_this_renders_the_model_relation(project):
    project.write("models/m.sql", TABLE + "select '{{ this }}' as me, '{{ this.name }}' as n")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select me, n from m") == [('"dev"."main"."m"', "m")]


# -- incremental ------------------------------------------------------------------------

def _incremental(project, config: str, body: str) -> None:
    project.write("models/inc.sql", "{{ config(materialized='incremental', " + config + ") }}\n"
                  + body)


def _source_rows(project, rows: list[tuple[int, str]]) -> None:
    values = ", ".join(f"({i}, '{v}')" for i, v in rows)
    project.write("models/src.sql", TABLE + f"select * from (values {values}) t(id, v)")


def test_incremental_append_and_is_incremental(project):
    # is_incremental() is false on the first run (full query), true afterwards
    _incremental(project, "", """
        select {{ 'true' if is_incremental() else 'false' }} as inc, {{ var('n') }} as n
        {% if is_incremental() %}
        where {{ var('n') }} > (select max(n) from {{ this }})
        {% endif %}
    """)
    assert project.dvt("run", "--vars", "{n: 1}").exit_code == 0
    assert project.query("select inc, n from inc") == [(False, 1)]
    run = project.dvt("run", "--vars", "{n: 2}")
    assert run.exit_code == 0, run.output
    assert project.query("select inc, n from inc order by n") == [(False, 1), (True, 2)]
    assert project.dvt("run", "--vars", "{n: 2}").exit_code == 0
    assert project.query("select count(*) from inc") == [(2,)]
    assert "Finished running 1 incremental model" in run.output


@pytest.mark.parametrize("strategy", ["merge", "delete+insert"])
def test_incremental_unique_key_strategies(project, strategy):
    _source_rows(project, [(1, "a"), (2, "b")])
    _incremental(project, f"incremental_strategy='{strategy}', unique_key='id'",
                 "select id, v from {{ ref('src') }}")
    assert project.dvt("run").exit_code == 0
    _source_rows(project, [(2, "B"), (3, "c")])
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select id, v from inc order by id") == [(1, "a"), (2, "B"), (3, "c")]


def test_incremental_default_strategy_with_unique_key_list(project):
    project.write("models/src.sql", TABLE + "select * from (values (1, 'x', 'a'), (1, 'y', 'b'))"
                                            " t(k1, k2, v)")
    _incremental(project, "unique_key=['k1', 'k2']", "select * from {{ ref('src') }}")
    assert project.dvt("run").exit_code == 0
    project.write("models/src.sql", TABLE + "select * from (values (1, 'y', 'B'), (2, 'y', 'c'))"
                                            " t(k1, k2, v)")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select k1, k2, v from inc order by k1, k2") == [
        (1, "x", "a"), (1, "y", "B"), (2, "y", "c")]


def test_incremental_append_strategy_keeps_duplicates(project):
    _incremental(project, "incremental_strategy='append'", "select 1 as id")
    project.dvt("run")
    project.dvt("run")
    assert project.query("select count(*) from inc") == [(2,)]


def test_incremental_full_refresh_and_config_full_refresh_false(project):
    _incremental(project, "", "select 1 as id")
    project.dvt("run")
    project.dvt("run")
    assert project.query("select count(*) from inc") == [(2,)]
    run = project.dvt("run", "--full-refresh")
    assert run.exit_code == 0, run.output
    assert project.query("select count(*) from inc") == [(1,)]
    # full_refresh: false in config wins over the flag
    _incremental(project, "full_refresh=false", "select 1 as id")
    assert project.dvt("run", "--full-refresh").exit_code == 0
    assert project.query("select count(*) from inc") == [(2,)]


def _schema_change_case(project, mode: str):
    _incremental(project, f"on_schema_change='{mode}'", "select 1 as id, 'a' as old_col")
    assert project.dvt("run").exit_code == 0
    _incremental(project, f"on_schema_change='{mode}'", "select 2 as id, 'n' as new_col")
    return project.dvt("run")


def test_on_schema_change_ignore(project):
    run = _schema_change_case(project, "ignore")
    assert run.exit_code == 0, run.output
    assert _columns(project, "inc") == ["id", "old_col"]
    assert project.query("select id, old_col from inc order by id") == [(1, "a"), (2, None)]


def test_on_schema_change_fail(project):
    run = _schema_change_case(project, "fail")
    assert run.exit_code == 1
    assert "out of sync" in run.output
    assert project.query("select id, old_col from inc") == [(1, "a")]
    assert not any("__dbt_tmp" in t for t in _tables(project))


def test_on_schema_change_append_new_columns(project):
    run = _schema_change_case(project, "append_new_columns")
    assert run.exit_code == 0, run.output
    assert _columns(project, "inc") == ["id", "old_col", "new_col"]
    assert project.query("select id, old_col, new_col from inc order by id") == [
        (1, "a", None), (2, None, "n")]


def test_on_schema_change_sync_all_columns(project):
    run = _schema_change_case(project, "sync_all_columns")
    assert run.exit_code == 0, run.output
    assert _columns(project, "inc") == ["id", "new_col"]
    assert project.query("select id, new_col from inc order by id") == [(1, None), (2, "n")]


def test_on_schema_change_sync_type_change(project):
    _incremental(project, "on_schema_change='sync_all_columns'", "select 1 as id")
    project.dvt("run")
    _incremental(project, "on_schema_change='sync_all_columns'", "select 'x2' as id")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select data_type from information_schema.columns "
                         "where table_name = 'inc'") == [("VARCHAR",)]
    assert sorted(project.query("select id from inc")) == [("1",), ("x2",)]


# -- atomicity --------------------------------------------------------------------------

BROKEN = "select 'x'::integer as id"


def test_failed_table_rebuild_keeps_old_table(project):
    project.write("models/t.sql", TABLE + "select 1 as id union all select 2")
    assert project.dvt("run").exit_code == 0
    project.write("models/t.sql", TABLE + BROKEN)
    run = project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"t": "error"}
    assert "ERROR creating sql table model main.t" in run.output
    assert "Done. PASS=0 WARN=0 ERROR=1 SKIP=0 NO-OP=0 TOTAL=1" in run.output
    assert project.query("select count(*) from t") == [(2,)]
    assert not any("__dbt_tmp" in t for t in _tables(project))


def test_failed_table_missing_column_skips_children(project):
    project.write("models/t.sql", TABLE + "select 1 as id")
    project.write("models/child.sql", "select * from {{ ref('t') }}")
    project.write("models/other.sql", "select 1 as x")
    assert project.dvt("run").exit_code == 0
    project.write("models/t.sql", TABLE + "select no_such_column from (select 1 as id)")
    run = project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"t": "error", "child": "skipped", "other": "success"}
    assert "SKIP relation main.child" in run.output
    assert "no_such_column" in run.output
    assert project.query("select id from t") == [(1,)]


def test_failed_incremental_keeps_rows(project):
    _incremental(project, "unique_key='id'", "select 1 as id")
    assert project.dvt("run").exit_code == 0
    _incremental(project, "unique_key='id'", BROKEN)
    assert project.dvt("run").exit_code == 1
    assert project.query("select id from inc") == [(1,)]
    assert project.dvt("run", "--full-refresh").exit_code == 1
    assert project.query("select id from inc") == [(1,)]
    assert not any("__dbt_tmp" in t for t in _tables(project))


def test_failed_strategy_step_rolls_back(project):
    # the staging build succeeds and the delete runs; the insert then fails on a cast
    # (on_schema_change ignore keeps the integer column): the delete must be rolled back
    _incremental(project, "unique_key='id'", "select 1 as id, 10 as v")
    assert project.dvt("run").exit_code == 0
    _incremental(project, "unique_key='id'", "select 1 as id, 'abc' as v")
    run = project.dvt("run")
    assert run.exit_code == 1, run.output
    assert project.query("select id, v from inc") == [(1, 10)]
    assert not any("__dbt_tmp" in t for t in _tables(project))


def test_view_to_table_and_back(project):
    project.write("models/m.sql", "select 1 as id")
    project.write("models/reader.sql", TABLE + "select 7 as x")
    assert project.dvt("run").exit_code == 0
    assert _rel_type(project, "m") == "VIEW"
    project.write("models/m.sql", TABLE + "select 2 as id")
    assert project.dvt("run").exit_code == 0
    assert _rel_type(project, "m") == "BASE TABLE"
    assert project.query("select id from m") == [(2,)]
    project.write("models/m.sql", "select 3 as id")
    assert project.dvt("run").exit_code == 0
    assert _rel_type(project, "m") == "VIEW"
    assert project.query("select id from m") == [(3,)]
    # and a failing switch leaves the old relation in place
    project.write("models/m.sql", TABLE + BROKEN)
    assert project.dvt("run").exit_code == 1
    assert _rel_type(project, "m") == "VIEW"
    assert project.query("select id from m") == [(3,)]


def test_failed_view_keeps_old_view(project):
    project.write("models/v.sql", "select 1 as id")
    assert project.dvt("run").exit_code == 0
    project.write("models/v.sql", "select no_such_col from (select 1 as id)")
    assert project.dvt("run").exit_code == 1
    assert project.query("select id from v") == [(1,)]


# -- hooks -------------------------------------------------------------------------------

def test_hooks_model_and_project(project):
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        on-run-start:
          - "create table if not exists audit (model varchar, phase varchar)"
        on-run-end:
          - "insert into audit values ('run', 'end')"
        models:
          proj:
            +pre-hook: "insert into audit values ('{{ this.name }}', 'project-pre')"
    """)
    project.write("models/m.sql", """
        {{ config(materialized='table',
                  post_hook="insert into audit select '{{ this.name }}', 'post:' || count(*)::varchar from {{ this }}") }}
        select 1 as id union all select 2
    """)
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select model, phase from audit order by rowid") == [
        ("m", "project-pre"), ("m", "post:2"), ("run", "end")]


def test_failing_post_hook_fails_model(project):
    project.write("models/m.sql", "{{ config(post_hook='select * from no_such_table') }}\n"
                                  "select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"m": "error"}
    assert "no_such_table" in run.output


def test_failing_post_hook_rolls_the_build_back(project):
    """dbt runs post-hooks inside the build's transaction: when one fails, the previous
    relation is left as it was (tables, incremental merges and views alike)."""
    project.write("models/t.sql", "{{ config(materialized='table') }}\nselect 1 as id")
    project.write("models/inc.sql", "{{ config(materialized='incremental') }}\nselect 1 as id")
    project.write("models/v.sql", "select 1 as id")
    assert project.dvt("run").exit_code == 0
    hook = "{{ config(post_hook=\"select * from {{ var('missing_table', 'no_such_table') }}\") }}"
    project.write("models/t.sql", "{{ config(materialized='table') }}\n" + hook
                  + "\nselect 2 as id")
    project.write("models/inc.sql", "{{ config(materialized='incremental') }}\n" + hook
                  + "\nselect 2 as id")
    project.write("models/v.sql", hook + "\nselect 2 as id")
    run = project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"t": "error", "inc": "error", "v": "error"}, run.output
    assert project.query("select id from t") == [(1,)]
    assert project.query("select id from inc") == [(1,)]
    assert project.query("select id from v") == [(1,)]
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name like '%dbt_tmp%'") == [(0,)]
    # with the hook's table there, everything lands; a `transaction: false` hook runs
    # after the commit and sees the new rows
    project.write("models/t.sql", """
        {{ config(materialized='table', post_hook=[
              "create table if not exists audit as select 0 as n",
              {"sql": "insert into audit select count(*) from {{ this }}",
               "transaction": false}]) }}
        select 2 as id union all select 3
    """)
    assert project.dvt("run", "-s", "t").exit_code == 0
    assert project.query("select id from t order by id") == [(2,), (3,)]
    assert project.query("select n from audit order by n") == [(0,), (2,)]


# -- schema / alias / enabled / tags -----------------------------------------------------

def test_custom_schema_alias_enabled_tags(project):
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        models:
          proj:
            marts:
              +schema: marts
              +tags: [finance]
              +materialized: table
            disabled:
              +enabled: false
    """)
    project.write("models/marts/orders.sql", "{{ config(alias='fct_orders') }}\nselect 1 as id")
    project.write("models/marts/other.sql", "select 2 as id")
    project.write("models/disabled/gone.sql", "select 3 as id")
    project.write("models/plain.sql", "select * from {{ ref('orders') }}")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query('select id from "main_marts".fct_orders') == [(1,)]
    assert project.query("select id from plain") == [(1,)]
    assert _rel_type(project, "other", "main_marts") == "BASE TABLE"
    assert "gone" not in _tables(project)
    assert "gone" not in run.statuses
    assert "OK created sql table model main_marts.fct_orders" in run.output
    tagged = project.dvt("run", "-s", "tag:finance")
    assert set(tagged.statuses) == {"orders", "other"}


def test_enabled_false_in_config_block(project):
    project.write("models/off.sql", "{{ config(enabled=false) }}\nselect 1 as id")
    project.write("models/on.sql", "select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 0
    assert run.statuses == {"on": "success"}


def test_database_config_with_attached_duckdb(project):
    project.write("profiles.yml", """
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
              threads: 1
              attach:
                - path: other.duckdb
                  alias: other
    """)
    project.write("models/there.sql", "{{ config(database='other', materialized='table') }}\n"
                                      "select 5 as id")
    project.write("models/here.sql", "select * from {{ ref('there') }}")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    import duckdb

    con = duckdb.connect(str(project.root / "other.duckdb"))
    try:
        assert con.execute("select id from main.there").fetchall() == [(5,)]
    finally:
        con.close()
    assert "there" not in _tables(project)


def test_table_to_failing_view_keeps_table(project):
    project.write("models/m.sql", TABLE + "select 1 as id")
    assert project.dvt("run").exit_code == 0
    project.write("models/m.sql", "select no_such_col from (select 1 as id)")
    assert project.dvt("run").exit_code == 1
    assert _rel_type(project, "m") == "BASE TABLE"
    assert project.query("select id from m") == [(1,)]


def test_parallel_rebuilds_with_threads(project):
    for i in range(12):
        project.write(f"models/t{i}.sql", TABLE + f"select {i} as id")
        project.write(f"models/v{i}.sql", f"select * from {{{{ ref('t{i}') }}}}")
        project.write(f"models/i{i}.sql", "{{ config(materialized='incremental', "
                                          "unique_key='id') }}\n"
                                          f"select * from {{{{ ref('t{i}') }}}}")
    for _ in range(2):
        run = project.dvt("run", "--threads", "6")
        assert run.exit_code == 0, run.output
    assert project.query("select sum(id) from (" + " union all ".join(
        f"select id from i{i}" for i in range(12)) + ")") == [(66,)]
    assert not any("__dbt_tmp" in t for t in _tables(project))


def test_schema_created_after_a_lookup_found_it_empty(project):
    """A lookup in a schema that does not exist yet caches an empty listing; creating the
    schema afterwards must still happen (it was skipped once the listing was cached)."""
    from dvt_engine.session import Session

    session = Session(project.root, profiles_dir=str(project.root))
    try:
        adapter = session.adapter()
        assert adapter.get_relation(adapter.database, "fresh", "t") is None
        adapter.create_schema(adapter.database, "fresh")
        assert adapter.schema_exists(adapter.database, "fresh")
    finally:
        session.close()
