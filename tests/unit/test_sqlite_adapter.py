"""The SQLite adapter end to end: a project whose default output is a SQLite file (seeds,
views, tables, incremental strategies, ephemeral models, generic tests, show, run_query),
the Arrow paths, SQLite's own DDL limits (no view rename, no MERGE, attached schemas), and
a DuckDB project with a SQLite second output that a seed and a model target."""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dvt_engine.adapters.sqlite import SQLiteAdapter, split_statements
from dvt_engine.errors import DatabaseError
from dvt_engine.session import Session

SQLITE_PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: sqlite
      path: crm.db
      schema: main
      threads: 4
"""

PEOPLE = """
id,name,amount,signup,seen_at,active,notes
1,ann,1.5,2024-01-01,2024-01-01 10:00:00,true,
2,bob,2,2024-02-01,2024-02-01T11:30:00,false,null
3,cy,,2024-03-01,,TRUE,hi
"""


def _db(project: Any) -> sqlite3.Connection:
    return sqlite3.connect(project.root / "crm.db")


def rows(project: Any, sql: str) -> list[tuple[Any, ...]]:
    con = _db(project)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def declared(project: Any, table: str) -> dict[str, str]:
    # SQLite reports the types it knows (INTEGER, TEXT) in capitals
    return {name: dtype.lower() for name, dtype in
            rows(project, f"select name, type from pragma_table_info('{table}')")}


@pytest.fixture
def sq(project: Any) -> Any:
    project.write("profiles.yml", SQLITE_PROFILES)
    return project


# -- a project on SQLite ---------------------------------------------------------------


def test_seed_types_follow_dbt_sqlite(sq):
    sq.write("seeds/people.csv", PEOPLE)
    run = sq.dvt("seed")
    assert run.exit_code == 0, run.output
    assert "OK loaded seed file main.people" in run.output
    assert declared(sq, "people") == {
        "id": "integer", "name": "text", "amount": "float8", "signup": "date",
        "seen_at": "timestamp without time zone", "active": "boolean", "notes": "text"}
    assert rows(sq, "select * from people order by id") == [
        (1, "ann", 1.5, "2024-01-01", "2024-01-01 10:00:00", 1, None),
        (2, "bob", 2.0, "2024-02-01", "2024-02-01 11:30:00", 0, None),  # text 'null' is NULL
        (3, "cy", None, "2024-03-01", None, 1, "hi")]
    # a reload (build aside + swap) leaves one table and no staging table
    sq.write("seeds/people.csv", "id,name\n7,zed\n")
    assert sq.dvt("seed").exit_code == 0
    assert rows(sq, "select * from people") == [(7, "zed")]
    assert rows(sq, "select name from sqlite_master where name like '%dbt_tmp%'") == []


def test_seed_column_types_override_keeps_text(sq):
    sq.write("seeds/zips.csv", "zip,n\n01234,5\n")
    sq.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            zips:
              +column_types: {zip: varchar(5)}
    """)
    assert sq.dvt("seed").exit_code == 0
    assert rows(sq, "select zip, typeof(zip), n from zips") == [("01234", "text", 5)]


def test_models_tests_and_show_on_sqlite(sq):
    sq.write("seeds/people.csv", PEOPLE)
    sq.write("models/active.sql", "select id, name, signup from {{ ref('people') }} "
                                  "where active")
    sq.write("models/named.sql", "{{ config(materialized='ephemeral') }}\n"
                                 "select id, upper(name) as shout from {{ ref('active') }}")
    sq.write("models/report.sql", "{{ config(materialized='table') }}\n"
             "select a.id, n.shout, a.signup from {{ ref('active') }} a "
             "join {{ ref('named') }} n on n.id = a.id")
    sq.write("models/schema.yml", """
        version: 2
        models:
          - name: report
            columns:
              - name: id
                tests: [unique, not_null]
              - name: shout
                tests:
                  - accepted_values: {values: [ANN, CY]}
          - name: active
            columns:
              - name: id
                tests:
                  - relationships: {to: ref('people'), field: id}
    """)
    run = sq.dvt("build")
    assert run.exit_code == 0, run.output
    assert run.statuses["report"] == "success"
    assert rows(sq, "select type from sqlite_master where name = 'active'") == [("view",)]
    assert rows(sq, "select * from report order by id") == [(1, "ANN", "2024-01-01"),
                                                           (3, "CY", "2024-03-01")]
    # the table keeps the declared types of what it selects (not SQLite's NUM for a date)
    assert declared(sq, "report")["signup"] == "date"
    # relations are "schema"."table": SQLite SQL cannot name the database
    compiled = (sq.root / "target/run/proj/models/report.sql").read_text()
    assert '"main"."active"' in compiled and '"crm"' not in compiled

    show = sq.dvt("show", "-s", "report", "--limit", "1")
    assert show.exit_code == 0, show.output
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in show.output.splitlines() if line.startswith("|")]
    assert cells == [["id", "shout", "signup"], ["--", "-----", "----------"],
                     ["1", "ANN", "2024-01-01"]]

    sq.write("models/report.sql", "{{ config(materialized='table') }}\n"
             "select 1 as id, 'X' as shout union all select 1, 'ANN'")
    assert sq.dvt("run", "-s", "report").exit_code == 0
    failing = sq.dvt("test", "-s", "report")
    assert failing.exit_code == 1
    assert failing.statuses["unique_report_id"] == "fail"
    assert failing.statuses["accepted_values_report_shout__ANN__CY"] == "fail"
    assert failing.statuses["not_null_report_id"] == "pass"


def test_table_rebuild_that_fails_keeps_the_old_rows(sq):
    sq.write("models/t.sql", "{{ config(materialized='table') }}\nselect 1 as id, 'a' as v")
    sq.write("models/v.sql", "select * from {{ ref('t') }}")
    assert sq.dvt("run").exit_code == 0
    sq.write("models/t.sql", "{{ config(materialized='table') }}\nselect no_such_column")
    run = sq.dvt("run", "-s", "t")
    assert run.exit_code == 1
    assert "no such column: no_such_column" in run.output
    assert rows(sq, "select * from t") == [(1, "a")]
    # a good rebuild swaps in place; the view on it (bound by name) reads the new rows
    sq.write("models/t.sql", "{{ config(materialized='table') }}\nselect 2 as id, 'b' as v")
    assert sq.dvt("run", "-s", "t").exit_code == 0
    assert rows(sq, "select * from v") == [(2, "b")]
    assert rows(sq, "select count(*) from sqlite_master where name like '%dbt_tmp%'") == [(0,)]


def test_many_threads_share_the_file(sq):
    for i in range(6):
        sq.write(f"models/t{i}.sql", "{{ config(materialized='table') }}\n"
                 f"select {i} as i, x from (select 1 as x union all select 2)")
        sq.write(f"models/v{i}.sql", f"select sum(x) as s, max(i) as i from {{{{ ref('t{i}') }}}}")
    for _ in range(2):  # the second time every table is swapped while others build
        run = sq.dvt("run", "--threads", "4")
        assert run.exit_code == 0, run.output
    assert rows(sq, "select * from v5") == [(3, 5)]
    assert rows(sq, "select count(*) from sqlite_master where type = 'table'") == [(6,)]


def test_view_replaced_and_table_turned_view(sq):
    sq.write("models/m.sql", "{{ config(materialized='table') }}\nselect 1 as a")
    assert sq.dvt("run").exit_code == 0
    sq.write("models/m.sql", "select 2 as a, 3 as b")
    assert sq.dvt("run").exit_code == 0
    assert rows(sq, "select type from sqlite_master where name = 'm'") == [("view",)]
    sq.write("models/m.sql", "select 4 as c")  # columns change: drop + create
    assert sq.dvt("run").exit_code == 0
    assert rows(sq, "select * from m") == [(4,)]


INCREMENTAL = """
{{{{ config(materialized='incremental', {config}) }}}}
{{% if var('step', 1) == 1 %}}
select 1 as id, 'old' as v, 'keep' as w
{{% else %}}
select 1 as id, 'new' as v, 'changed' as w union all select 2, 'two', 'w2'
{{% endif %}}
"""


@pytest.mark.parametrize(("config", "expected"), [
    ("incremental_strategy='append'", [(1, "new", "changed"), (1, "old", "keep"),
                                       (2, "two", "w2")]),
    ("unique_key='id', incremental_strategy='delete+insert'",
     [(1, "new", "changed"), (2, "two", "w2")]),
    ("unique_key='id', incremental_strategy='merge'", [(1, "new", "changed"), (2, "two", "w2")]),
    # SQLite has no MERGE: matched rows update only merge_update_columns, others insert
    ("unique_key='id', incremental_strategy='merge', merge_update_columns=['v']",
     [(1, "new", "keep"), (2, "two", "w2")]),
])
def test_incremental_strategies(sq, config, expected):
    sq.write("models/inc.sql", INCREMENTAL.format(config=config))
    assert sq.dvt("run").exit_code == 0
    run = sq.dvt("run", "--vars", "{step: 2}")
    assert run.exit_code == 0, run.output
    assert sorted(rows(sq, "select id, v, w from inc")) == expected


def test_incremental_on_schema_change_sync(sq):
    sq.write("models/inc.sql", "{{ config(materialized='incremental', unique_key='id', "
             "on_schema_change='sync_all_columns') }}\n"
             "select 1 as id, {{ '9 as extra' if var('step', 1) == 2 else \"'a' as gone\" }}")
    assert sq.dvt("run").exit_code == 0
    run = sq.dvt("run", "--vars", "{step: 2}")
    assert run.exit_code == 0, run.output
    assert [r[1] for r in rows(sq, "pragma table_info(inc)")] == ["id", "extra"]
    assert rows(sq, "select * from inc") == [(1, 9)]


def test_run_query_and_statements_in_macros(sq):
    sq.write("seeds/people.csv", PEOPLE)
    sq.write("macros/m.sql", """
        {% macro people_count() %}
          {% set r = run_query("select count(*) as n from " ~ ref('people')) %}
          {{ return(r.columns[0].values()[0] if execute else 0) }}
        {% endmacro %}
        {% macro two_statements() %}
          {% do run_query("create table made (a integer); insert into made values (5);") %}
          {{ log("schema main exists: " ~ adapter.check_schema_exists(target.database, 'main'),
                 info=True) }}
        {% endmacro %}
    """)
    sq.write("models/counted.sql", "select {{ people_count() }} as n")
    run = sq.dvt("build")
    assert run.exit_code == 0, run.output
    assert rows(sq, "select n from counted") == [(3,)]
    op = sq.dvt("run-operation", "two_statements")
    assert op.exit_code == 0, op.output
    assert "schema main exists: True" in op.output
    assert rows(sq, "select a from made") == [(5,)]


def test_custom_schema_needs_an_attachment(sq):
    sq.write("models/s.sql", "{{ config(schema='staging') }}\nselect 1 as a")
    run = sq.dvt("run")
    assert run.exit_code == 1
    assert "Schema 'main_staging' does not exist" in run.output
    assert "schemas_and_paths" in run.output
    # with schema_directory, a new schema is a new file, attached (dbt-sqlite's way)
    sq.write("profiles.yml", SQLITE_PROFILES + "      schema_directory: schemas\n")
    run = sq.dvt("run")
    assert run.exit_code == 0, run.output
    con = sqlite3.connect(sq.root / "schemas" / "main_staging.db")
    assert con.execute("select * from s").fetchall() == [(1,)]
    con.close()


# -- the adapter itself ----------------------------------------------------------------


@pytest.fixture
def adapter(sq: Any) -> Any:
    session = Session(sq.root, profiles_dir=str(sq.root))
    adapter = session.adapter()
    assert isinstance(adapter, SQLiteAdapter)
    yield adapter
    session.close()


def test_arrow_round_trip(adapter):
    rel = adapter.relation(adapter.database, "main", "arrow_in")
    utc = datetime.timezone.utc
    table = pa.table({
        "i": pa.array([1, None, 2**40], pa.int64()),
        "f": pa.array([1.5, 2.0, None], pa.float64()),
        "s": pa.array(["a", None, "c"]),
        "b": pa.array([True, False, None]),
        "d": pa.array([datetime.date(2024, 1, 2), None, datetime.date(1999, 12, 31)]),
        "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, 6000), None,
                        datetime.datetime(2024, 1, 2)], pa.timestamp("us")),
        "tz": pa.array([datetime.datetime(2024, 1, 2, 3, tzinfo=utc), None, None],
                       pa.timestamp("us", tz="UTC")),
        "dec": pa.array([Decimal("1.25"), Decimal("-3.10"), None], pa.decimal128(10, 2)),
        "bin": pa.array([b"\x00\x01", None, b""]),
    })
    assert adapter.write_arrow(rel, table) == 3
    assert adapter.get_relation(None, "main", "arrow_in").type == "table"
    back = adapter.read_arrow(f"select * from {rel}")
    assert back.schema == table.schema
    assert back.to_pylist() == table.to_pylist()
    # expressions have no declared type: the values decide; mixed classes become text
    mixed = adapter.read_arrow("select 1 as n, 2.5 as x, 'a' as t union all "
                               "select 'b', 3, null")
    assert mixed.schema.types == [pa.string(), pa.float64(), pa.string()]
    assert mixed.column("n").to_pylist() == ["1", "b"]
    empty = adapter.read_arrow(f"select i, d from {rel} where 0")
    assert empty.num_rows == 0 and empty.schema.types == [pa.int64(), pa.date32()]


def test_write_arrow_is_one_transaction(adapter):
    rel = adapter.relation(None, "main", "overflow")
    table = pa.table({"u": pa.array([1, 2**64 - 1], pa.uint64())})  # past SQLite's int64
    with pytest.raises(DatabaseError):
        adapter.write_arrow(rel, table)
    adapter.forget_cache()
    assert adapter.get_relation(None, "main", "overflow") is None  # no half-made table


def test_rename_view_drop_and_retype_columns(adapter):
    adapter.execute("create table main.base (a integer, b text, c text)")
    adapter.execute("insert into main.base values (1, 'x', '7')")
    view = adapter.relation(None, "main", "v_old", "view")
    adapter.create_view_as(view, "select a, b from main.base -- trailing comment")
    renamed = adapter.rename_relation(view, "v_new")
    assert str(renamed) == '"main"."v_new"'
    assert adapter.fetch_dicts("select * from main.v_new") == [{"a": 1, "b": "x"}]
    adapter.forget_cache()
    assert adapter.get_relation(None, "main", "v_old") is None
    base = adapter.relation(None, "main", "base", "table")
    adapter.drop_column(base, "b")
    adapter.alter_column_type(base, "c", "integer")
    assert [(c.name, c.dtype.lower()) for c in adapter.get_columns(base)] == [
        ("a", "integer"), ("c", "integer")]
    assert adapter.fetch_dicts("select c, typeof(c) as t from main.base") == [
        {"c": 7, "t": "integer"}]


def test_transaction_rolls_back_ddl_and_nests(adapter):
    adapter.execute("create table main.keep (a integer)")
    with pytest.raises(DatabaseError), adapter.transaction():
        adapter.execute("drop table main.keep")
        with adapter.transaction():  # a savepoint
            adapter.execute("create table main.inner_t (a integer)")
        adapter.execute("select * from no_such_table")
    names = {r["name"] for r in adapter.fetch_dicts("select name from sqlite_master")}
    assert "keep" in names and "inner_t" not in names


def test_attached_schemas_and_engine(sq):
    sq.write("profiles.yml", SQLITE_PROFILES + "      schemas_and_paths:\n"
                                               "        other: other.db\n")
    session = Session(sq.root, profiles_dir=str(sq.root))
    try:
        adapter = session.adapter()
        assert adapter.schema_exists(None, "other") and adapter.schema_exists(None, "main")
        assert not adapter.schema_exists(None, "nope")
        adapter.create_schema(None, "other")  # exists: nothing to do
        rel = adapter.relation(adapter.database, "other", "t")
        adapter.write_arrow(rel, pa.table({"a": [1, 2]}))
        assert [r.identifier for r in adapter.list_relations_uncached("crm", "other")] == ["t"]
        assert adapter.database == "crm" and str(rel) == '"other"."t"'
        import sqlalchemy

        with adapter.engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select sum(a) from other.t")).scalar() == 3
    finally:
        session.close()
    assert (sq.root / "other.db").exists()


def test_ddl_and_catalog_calls_wait_for_other_threads_reads(adapter):
    """One connection serves every thread: a DROP, RENAME or catalog read that overlapped
    another thread's unfinished SELECT failed "database table is locked" (seen in CI)."""
    adapter.write_arrow(adapter.relation(None, "main", "big"), pa.table({"x": range(20_000)}))
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                _, table = adapter.execute("select x from big order by x desc", fetch=True)
                assert table is not None and table.num_rows == 20_000
                time.sleep(0)  # the lock is not fair: let the DDL thread have a turn
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(15):
            rel = adapter.relation(None, "main", f"t{i}")
            adapter.write_arrow(rel, pa.table({"a": [i]}))
            assert [c.name for c in adapter.get_columns(rel)] == ["a"]
            moved = adapter.rename_relation(rel, f"u{i}")
            assert "main" in adapter.schemas()
            adapter.drop_relation(moved)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    names = {r.identifier for r in adapter.list_relations_uncached("crm", "main")}
    assert names == {"big"}


def test_ctrl_c_stops_a_statement_running_in_the_main_thread(sq):
    """sqlite3 never checks for signals while a statement runs: with --threads 1 the
    KeyboardInterrupt would wait for the statement's end (about a minute here). The
    runner's SIGINT watcher cancels it through the driver at once."""
    import os
    import signal

    from dvt_engine.events import NodeStarted

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread; this runner runs tests elsewhere")
    sq.write("models/long.sql", "{{ config(materialized='table') }}\n"
             "with recursive c(x) as (select 1 union all select x + 1 from c "
             "where x < 300000000) select count(*) as n from c")
    session = Session(sq.root, profiles_dir=str(sq.root))
    timers: list[threading.Timer] = []

    def on_event(event: Any) -> None:
        if isinstance(event, NodeStarted):
            timers.append(threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)))
            timers[-1].start()

    try:
        started = time.perf_counter()
        result = session.invoke(["run", "--threads", "1"], subscriber=on_event)
        elapsed = time.perf_counter() - started
        assert result.exit_code == 130
        assert [r.status for r in result.results] == ["cancelled"]
        assert elapsed < 30, f"the statement ran on for {elapsed:.0f} s"
        assert session.invoke(["show", "--inline", "select 1 as ok"]).success
    finally:
        for timer in timers:
            timer.cancel()
        session.close()


def test_cancel_interrupts_a_running_query(adapter):
    forever = ("with recursive c(x) as (select 1 union all select x + 1 from c) "
               "select count(*) from c")
    timer = threading.Timer(0.3, adapter.cancel)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        adapter.execute(forever, fetch=True)
    timer.join()
    assert adapter.fetch_dicts("select 1 as ok") == [{"ok": 1}]


def test_split_statements():
    assert split_statements("select 1") == ["select 1"]
    assert split_statements("select ';' as a; -- c;\nselect 2;\n") == [
        "select ';' as a;", " -- c;\nselect 2;"]
    assert split_statements("  ;  -- only a comment") == []
    trigger = ("create trigger t after insert on x begin insert into y values (1); end; "
               "select 3")
    assert [s.strip() for s in split_statements(trigger)] == [
        "create trigger t after insert on x begin insert into y values (1); end;", "select 3"]


def test_parquet_and_json_seeds(sq):
    import pyarrow.parquet as pq

    (sq.root / "seeds").mkdir()
    pq.write_table(pa.table({"k": [1, 2], "d": [datetime.date(2024, 5, 6), None]}),
                   sq.root / "seeds" / "pq.parquet")
    Path(sq.root / "seeds" / "js.json").write_text('[{"a": 1, "b": "x"}, {"a": 2, "b": null}]')
    run = sq.dvt("seed")
    assert run.exit_code == 0, run.output
    assert rows(sq, "select * from pq") == [(1, "2024-05-06"), (2, None)]
    assert declared(sq, "pq") == {"k": "integer", "d": "date"}
    assert rows(sq, "select * from js order by a") == [(1, "x"), (2, None)]


# -- SQLite as a second output ------------------------------------------------------------


def test_sqlite_output_next_to_duckdb(project):
    project.write("profiles.yml", """
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
            crm:
              type: sqlite
              path: crm.db
    """)
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            customers:
              +target: crm
        models:
          proj:
            crm:
              +target: crm
    """)
    project.write("seeds/customers.csv", "id,name\n1,ann\n2,bob\n")
    project.write("models/crm/crm_names.sql", "{{ config(materialized='table') }}\n"
                  "select id, upper(name) as name from {{ ref('customers') }}")
    project.write("models/local.sql", "select 1 as x")
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert rows(project, "select * from crm_names order by id") == [(1, "ANN"), (2, "BOB")]
    assert project.query("select * from local") == [(1,)]
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name in ('customers', 'crm_names')") == [(0,)]
    # as the federation will read it: through the crm output, SQL in SQLite's dialect
    session = Session(project.root, profiles_dir=str(project.root))
    try:
        crm = session.adapter("crm")
        node = session.manifest.nodes["seed.proj.customers"]
        rel = session.compiler.relation_of(node)
        assert str(rel) == '"main"."customers"' and node.database == "crm"
        assert crm.read_arrow(f"select * from {rel} order by id").to_pylist() == [
            {"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
    finally:
        session.close()
