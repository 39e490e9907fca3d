"""DVT on a real PostgreSQL server that the test session starts (see conftest.py):
seeds, view/table/incremental/ephemeral, tests, show, debug, run_query and the Arrow paths,
as dbt-core 1.10 + dbt-postgres behave."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import PASSWORD, PASSWORD_USER, SECRET, PgDatabase, PgProject

TABLE = "{{ config(materialized='table') }}\n"


def _types(project: PgProject, table: str) -> dict[str, str]:
    rows = project.query(
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = 'analytics' and table_name = '{table}' order by ordinal_position")
    return dict(rows)


def _kind(project: PgProject, name: str) -> str | None:
    rows = project.query("select c.relkind from pg_class c join pg_namespace n "
                         "on n.oid = c.relnamespace "
                         f"where n.nspname = 'analytics' and c.relname = '{name}'")
    return {"r": "table", "v": "view"}.get(rows[0][0]) if rows else None


def _assert_ok(run: Any) -> None:
    assert run.exit_code == 0, run.output
    assert SECRET not in run.output


# -- seeds ----------------------------------------------------------------------------

SEED = """\
id,name,score,born,seen_at,active,empty,big
1,Ann,1.5,2020-01-02,2020-01-02 03:04:05,true,,3000000000
2,Zoë ✓,,2021-02-03,2021-02-03T04:05:06,False,,1
3,"Quoted, name",2,2022-03-04,2022-03-04 05:06:07.25,,,""
"""


def test_seed_infers_types_like_dbt_postgres(pg_project: PgProject) -> None:
    pg_project.write("seeds/people.csv", SEED)
    run = pg_project.dvt("seed")
    _assert_ok(run)
    assert "1 of 1 OK loaded seed file analytics.people" in run.output
    assert "[INSERT 3 in" in run.output
    assert _types(pg_project, "people") == {
        "id": "integer", "name": "text", "score": "double precision", "born": "date",
        "seen_at": "timestamp without time zone", "active": "boolean", "empty": "integer",
        "big": "bigint"}
    rows = pg_project.query("select * from analytics.people order by id")
    assert rows[0] == (1, "Ann", 1.5, dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4, 5),
                       True, None, 3000000000)
    # empty cells, quoted or not, are NULL; quoted delimiters and unicode survive
    assert rows[1][1:3] == ("Zoë ✓", None) and rows[1][5] is False
    assert rows[2][1] == "Quoted, name" and rows[2][5] is None and rows[2][7] is None
    assert rows[2][4] == dt.datetime(2022, 3, 4, 5, 6, 7, 250000)


def test_seed_column_types_and_delimiter(pg_project: PgProject) -> None:
    pg_project.write("seeds/prices.csv", "sku;price;label\n001;10.50;a\n002;3;bb\n")
    pg_project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            prices:
              +delimiter: ";"
              +column_types:
                sku: varchar(5)
                price: numeric(10,2)
    """)
    _assert_ok(pg_project.dvt("seed"))
    types = _types(pg_project, "prices")
    assert types == {"sku": "character varying", "price": "numeric", "label": "text"}
    assert pg_project.query("select sku, price from analytics.prices order by sku") == [
        ("001", Decimal("10.50")), ("002", Decimal("3.00"))]
    assert pg_project.query(
        "select character_maximum_length, numeric_precision, numeric_scale "
        "from information_schema.columns where table_name = 'prices' and column_name in "
        "('sku', 'price') order by column_name") == [(None, 10, 2), (5, None, None)]


def test_seed_with_windows_line_endings(pg_project: PgProject) -> None:
    """CRLF files (Excel, Python's csv module): COPY refuses mixed line endings, so the
    last line must end as the others do; with and without a final newline."""
    (pg_project.root / "seeds").mkdir(exist_ok=True)
    (pg_project.root / "seeds" / "crlf.csv").write_bytes(b"id,name\r\n1,ann\r\n2,bob\r\n")
    (pg_project.root / "seeds" / "crlf_open.csv").write_bytes(b"id,name\r\n1,ann\r\n2,bob")
    _assert_ok(pg_project.dvt("seed"))
    for name in ("crlf", "crlf_open"):
        assert pg_project.query(f"select id, name from analytics.{name} order by id") == [
            (1, "ann"), (2, "bob")]


def test_reseed_keeps_dependent_view_and_changed_columns_name_it(pg_project: PgProject) -> None:
    pg_project.write("seeds/s.csv", "id,v\n1,a\n2,b\n")
    pg_project.write("models/over_s.sql", "select id, v from {{ ref('s') }}")
    _assert_ok(pg_project.dvt("build"))
    oid = pg_project.query("select 'analytics.s'::regclass::oid")[0][0]
    # same columns: truncate + COPY in place, the view keeps working without a rebuild
    pg_project.write("seeds/s.csv", "id,v\n7,x\n8,y\n9,z\n")
    run = pg_project.dvt("seed")
    _assert_ok(run)
    assert "[INSERT 3 in" in run.output
    assert pg_project.query("select id, v from analytics.over_s order by id") == [
        (7, "x"), (8, "y"), (9, "z")]
    assert pg_project.query("select 'analytics.s'::regclass::oid")[0][0] == oid
    # changed columns: replacing the table would drop the view, so stop and name it
    pg_project.write("seeds/s.csv", "id,v,extra\n1,a,true\n")
    run = pg_project.dvt("seed")
    assert run.exit_code == 1, run.output
    assert "analytics.over_s" in run.output and "--full-refresh" in run.output
    assert pg_project.query("select count(*) from analytics.over_s") == [(3,)]
    # --full-refresh replaces it (cascade drops the view, as dbt-postgres), run rebuilds
    _assert_ok(pg_project.dvt("seed", "--full-refresh"))
    assert _types(pg_project, "s")["extra"] == "boolean"
    _assert_ok(pg_project.dvt("run"))
    assert pg_project.query("select id, v from analytics.over_s") == [(1, "a")]


def test_seed_without_dependents_changes_columns_by_swap(pg_project: PgProject) -> None:
    pg_project.write("seeds/s.csv", "id\n1\n")
    _assert_ok(pg_project.dvt("seed"))
    pg_project.write("seeds/s.csv", "id,name\n1.5,x\n")
    _assert_ok(pg_project.dvt("seed"))
    assert _types(pg_project, "s") == {"id": "double precision", "name": "text"}
    assert pg_project.query("select * from analytics.s") == [(1.5, "x")]


def test_seed_bad_value_for_column_type_names_file_and_keeps_old(pg_project: PgProject) -> None:
    pg_project.write("seeds/s.csv", "id\n1\n")
    _assert_ok(pg_project.dvt("seed"))
    pg_project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            s: {+column_types: {id: date}}
    """)
    pg_project.write("seeds/s.csv", "id\nnot-a-date\n")
    run = pg_project.dvt("seed")
    assert run.exit_code == 1
    assert "invalid input syntax for type date" in run.output
    assert "while loading seed file s.csv" in run.output
    assert pg_project.query("select id from analytics.s") == [(1,)]


# -- view / table / ephemeral ---------------------------------------------------------


def test_view_table_and_ephemeral(pg_project: PgProject) -> None:
    pg_project.write("models/e.sql", "{{ config(materialized='ephemeral') }}\n"
                                     "select 1 as id union all select 2")
    pg_project.write("models/v.sql", "select id, id * 10 as ten from {{ ref('e') }}")
    pg_project.write("models/t.sql", TABLE + "select id, ten from {{ ref('v') }}")
    run = pg_project.dvt("run")
    _assert_ok(run)
    assert "OK created sql view model analytics.v" in run.output
    assert "[CREATE VIEW in" in run.output
    assert "OK created sql table model analytics.t" in run.output
    assert "[SELECT 2 in" in run.output
    assert _kind(pg_project, "v") == "view" and _kind(pg_project, "t") == "table"
    assert _kind(pg_project, "e") is None
    assert pg_project.query("select id, ten from analytics.t order by id") == [(1, 10), (2, 20)]


def test_view_whose_columns_change_is_replaced(pg_project: PgProject) -> None:
    pg_project.write("models/v.sql", "select 1 as a, 'x' as b")
    _assert_ok(pg_project.dvt("run"))
    # PostgreSQL refuses `create or replace view` here: renamed, retyped, dropped columns
    pg_project.write("models/v.sql", "select 'y' as a")
    run = pg_project.dvt("run")
    _assert_ok(run)
    assert pg_project.query("select * from analytics.v") == [("y",)]
    # a view may replace a table, and a table a view
    pg_project.write("models/v.sql", TABLE + "select 2 as a")
    _assert_ok(pg_project.dvt("run"))
    assert _kind(pg_project, "v") == "table"
    pg_project.write("models/v.sql", "select 3 as a")
    _assert_ok(pg_project.dvt("run"))
    assert _kind(pg_project, "v") == "view"
    assert pg_project.query("select a from analytics.v") == [(3,)]


def test_failing_table_rebuild_keeps_old_rows(pg_project: PgProject) -> None:
    pg_project.write("models/t.sql", TABLE + "select g as id from generate_series(1, 3) g")
    _assert_ok(pg_project.dvt("run"))
    # fails while the rows are computed, after the staging table was started
    pg_project.write("models/t.sql", TABLE + "select 10 / (g - 2) as id from generate_series(1, 3) g")
    run = pg_project.dvt("run")
    assert run.exit_code == 1
    assert "division by zero" in run.output
    assert pg_project.query("select id from analytics.t order by id") == [(1,), (2,), (3,)]
    assert pg_project.query("select count(*) from pg_tables where tablename like '%dbt_tmp%'") \
        == [(0,)]


def test_failing_post_hook_rolls_back_the_rebuild(pg_project: PgProject) -> None:
    pg_project.write("models/t.sql", TABLE + "select 1 as id")
    pg_project.write("models/inc.sql", "{{ config(materialized='incremental') }}\nselect 1 as id")
    _assert_ok(pg_project.dvt("run"))
    hook = "{{ config(post_hook='insert into analytics.no_such_table values (1)') }}\n"
    pg_project.write("models/t.sql", TABLE + hook + "select 2 as id")
    pg_project.write("models/inc.sql",
                     "{{ config(materialized='incremental') }}\n" + hook + "select 2 as id")
    run = pg_project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"t": "error", "inc": "error"}, run.output
    assert "no_such_table" in run.output
    # the swap and the merge were in the hook's transaction: both rolled back
    assert pg_project.query("select id from analytics.t") == [(1,)]
    assert pg_project.query("select id from analytics.inc") == [(1,)]
    assert pg_project.query("select count(*) from pg_tables where tablename like '%dbt_tmp%'") \
        == [(0,)]


def test_seed_post_hooks_run_in_the_load_transaction(pg_project: PgProject) -> None:
    """As dbt: a seed's post-hooks run before the load commits. A failing one leaves the
    old rows, whether the seed reloads in place (same columns) or is swapped (new ones);
    a `transaction: false` hook runs after the commit."""
    pg_project.write("seeds/s.csv", "id\n1\n")
    pg_project.write("seeds/w.csv", "id\n1\n")
    _assert_ok(pg_project.dvt("seed"))
    bad = "insert into analytics.no_such_table values (1)"
    pg_project.write("dbt_project.yml", f"""
        name: proj
        profile: proj
        seeds:
          proj:
            +post-hook: "{bad}"
    """)
    pg_project.write("seeds/s.csv", "id\n2\n")  # same columns: truncate + COPY in place
    pg_project.write("seeds/w.csv", "id,extra\n2,x\n")  # new columns: build aside + swap
    run = pg_project.dvt("seed")
    assert run.statuses == {"s": "error", "w": "error"}, run.output
    assert pg_project.query("select * from analytics.s") == [(1,)]
    assert pg_project.query("select * from analytics.w") == [(1,)]
    # inside the transaction the hook sees the new rows; outside, after the commit
    pg_project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            +post-hook:
              - "create table analytics.seen_inside as select * from {{ this }}"
              - sql: "create table analytics.seen_after as select * from {{ this }}"
                transaction: false
            w: {+post-hook: []}
    """)
    _assert_ok(pg_project.dvt("seed", "-s", "s"))
    assert pg_project.query("select * from analytics.seen_inside") == [(2,)]
    assert pg_project.query("select * from analytics.seen_after") == [(2,)]


def test_table_with_view_on_top_is_rebuilt_and_view_rebuilt_in_same_run(
        pg_project: PgProject) -> None:
    pg_project.write("models/t.sql", TABLE + "select 1 as id")
    pg_project.write("models/v.sql", "select id from {{ ref('t') }}")
    _assert_ok(pg_project.dvt("run"))
    pg_project.write("models/t.sql", TABLE + "select 2 as id")
    _assert_ok(pg_project.dvt("run"))
    assert pg_project.query("select id from analytics.v") == [(2,)]


# -- incremental ----------------------------------------------------------------------


def _source(project: PgProject, rows: list[tuple[int, str]]) -> None:
    values = ", ".join(f"({i}, '{v}')" for i, v in rows)
    project.write("models/src.sql", TABLE + f"select * from (values {values}) t(id, v)")


def test_incremental_append(pg_project: PgProject) -> None:
    pg_project.write("models/inc.sql", """
        {{ config(materialized='incremental') }}
        select {{ var('n') }} as n, {{ 'true' if is_incremental() else 'false' }} as inc
        {% if is_incremental() %} where {{ var('n') }} > (select max(n) from {{ this }}) {% endif %}
    """)
    _assert_ok(pg_project.dvt("run", "--vars", "{n: 1}"))
    run = pg_project.dvt("run", "--vars", "{n: 2}")
    _assert_ok(run)
    assert "[INSERT 0 1 in" in run.output
    assert pg_project.query("select n, inc from analytics.inc order by n") == [
        (1, False), (2, True)]


@pytest.mark.parametrize("strategy", ["merge", "delete+insert"])
def test_incremental_unique_key(pg_project: PgProject, strategy: str) -> None:
    _source(pg_project, [(1, "a"), (2, "b")])
    pg_project.write("models/inc.sql",
                     "{{ config(materialized='incremental', unique_key='id', "
                     f"incremental_strategy='{strategy}') }}}}\n"
                     "select id, v from {{ ref('src') }}")
    _assert_ok(pg_project.dvt("run"))
    _source(pg_project, [(2, "B"), (3, "c")])
    run = pg_project.dvt("run")
    _assert_ok(run)
    assert ("[MERGE 2 in" if strategy == "merge" else "[INSERT 0 2 in") in run.output
    assert pg_project.query("select id, v from analytics.inc order by id") == [
        (1, "a"), (2, "B"), (3, "c")]


def test_incremental_append_new_columns(pg_project: PgProject) -> None:
    _source(pg_project, [(1, "a")])
    body = "{{ config(materialized='incremental', on_schema_change='append_new_columns') }}\n"
    pg_project.write("models/inc.sql", body + "select id from {{ ref('src') }}")
    _assert_ok(pg_project.dvt("run"))
    _source(pg_project, [(2, "b")])
    pg_project.write("models/inc.sql",
                     body + "select id, v, 1.5::numeric(4,1) as amount from {{ ref('src') }}")
    _assert_ok(pg_project.dvt("run"))
    assert _types(pg_project, "inc") == {"id": "integer", "v": "text", "amount": "numeric"}
    assert pg_project.query("select id, v, amount from analytics.inc order by id") == [
        (1, None, None), (2, "b", Decimal("1.5"))]


# -- tests, show, run_query ---------------------------------------------------------


def test_generic_tests_pass_and_fail(pg_project: PgProject) -> None:
    pg_project.write("models/m.sql", "select * from (values (1), (2), (2), (null)) t(id)")
    pg_project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            columns:
              - name: id
                data_tests: [unique, not_null]
    """)
    run = pg_project.dvt("build")
    assert run.exit_code == 1, run.output
    assert run.statuses["unique_m_id"] == "fail"
    assert run.statuses["not_null_m_id"] == "fail"
    assert "Got 1 result, configured to fail if != 0" in run.output
    pg_project.write("models/m.sql", "select * from (values (1), (2)) t(id)")
    run = pg_project.dvt("build")
    _assert_ok(run)
    assert set(run.statuses.values()) == {"success", "pass"}


def test_show_model_and_inline(pg_project: PgProject) -> None:
    pg_project.write("models/m.sql", TABLE + "select g as id, 1.25::numeric(5,2) as amt, "
                                             "'é' as t from generate_series(1, 8) g")
    _assert_ok(pg_project.dvt("run"))
    run = pg_project.dvt("show", "-s", "m")
    _assert_ok(run)
    assert "Previewing node 'm':" in run.output
    assert len([line for line in run.output.splitlines() if line.startswith("|")]) == 2 + 5
    run = pg_project.dvt("show", "--inline", "select id, amt, t from {{ ref('m') }} order by id",
                         "--limit", "2", "--output", "json", "-q")
    _assert_ok(run)
    assert json.loads(run.output) == {"show": [{"id": 1, "amt": 1.25, "t": "é"},
                                               {"id": 2, "amt": 1.25, "t": "é"}]}
    run = pg_project.dvt("show", "--inline", "select * from no_such_table")
    assert run.exit_code != 0
    assert 'relation "no_such_table" does not exist' in run.output


def test_run_query_in_a_macro(pg_project: PgProject) -> None:
    pg_project.write("macros/ops.sql", """
        {% macro make_table(n) %}
          {% do run_query("create table analytics.made as select g from generate_series(1, "
                          ~ n ~ ") g") %}
          {% set rows = run_query("select count(*), sum(g) from analytics.made") %}
          {{ log("made " ~ rows[0][0] ~ " rows summing to " ~ rows[0][1], info=True) }}
        {% endmacro %}
    """)
    pg_project.query("create schema analytics")
    run = pg_project.dvt("run-operation", "make_table", "--args", "{n: 4}")
    _assert_ok(run)
    assert run.output.splitlines() == ["made 4 rows summing to 10"]
    assert pg_project.query("select count(*) from analytics.made") == [(4,)]


# -- debug and credentials ----------------------------------------------------------


def test_debug_ok_and_password_in_no_file(pg_project: PgProject) -> None:
    run = pg_project.dvt("debug")
    _assert_ok(run)
    pg_project.write("models/m.sql", "select 1 as id")
    _assert_ok(pg_project.dvt("build", "--debug"))
    assert "OK created sql view model analytics.m" in \
        (pg_project.root / "logs" / "dvt.log").read_text()
    for path in pg_project.root.rglob("*"):
        if path.is_file() and path.name != "profiles.yml":
            assert SECRET not in path.read_text(errors="replace"), path
    assert "  Connection test: [OK connection ok]" in run.output.splitlines()
    assert "  dev (postgres): OK connection ok" in run.output.splitlines()


def test_debug_password_auth(pg_project: PgProject) -> None:
    pg_project.write_profile(user=PASSWORD_USER, password=PASSWORD)
    _assert_ok(pg_project.dvt("debug"))
    wrong = "wrong-pw-3c9e"
    pg_project.write_profile(user=PASSWORD_USER, password=wrong)
    run = pg_project.dvt("debug")
    assert run.exit_code == 1
    lines = [ln for ln in run.output.splitlines() if ln.startswith("  dev (postgres): ERROR")]
    assert lines and "password authentication failed" in lines[0], run.output
    assert wrong not in run.output and "Traceback" not in run.output


def test_wrong_password_in_run_is_one_clean_error(pg_project: PgProject) -> None:
    wrong = "wrong-pw-51aa"
    pg_project.write_profile(user=PASSWORD_USER, password=wrong)
    pg_project.write("models/m.sql", "select 1 as id")
    run = pg_project.dvt("run")
    assert run.exit_code != 0
    assert "password authentication failed" in run.output
    assert wrong not in run.output and "Traceback" not in run.output
    log = (pg_project.root / "logs" / "dvt.log").read_text()
    assert "password authentication failed" in log and wrong not in log
    log = (pg_project.root / "logs" / "dvt.log").read_text()
    assert "password authentication failed" in log and wrong not in log


def test_engine_repr_hides_password(pg_db: PgDatabase) -> None:
    adapter = _adapter(pg_db)
    try:
        assert SECRET not in repr(adapter.engine) and SECRET not in str(adapter.engine.url)
    finally:
        adapter.close()


# -- Arrow in and out ---------------------------------------------------------------


def _adapter(db: PgDatabase, **extra: Any) -> Any:
    from dvt_engine.adapters.postgres import PostgresAdapter
    from dvt_engine.project.profiles import Output

    settings = {"host": db.host, "port": db.port, "user": db.user, "password": SECRET,
                "dbname": db.dbname, "schema": "analytics", "threads": 2, **extra}
    return PostgresAdapter(Output("dev", "postgres", settings), Path("."))


def _sample() -> Any:
    import pyarrow as pa

    utc = dt.timezone.utc
    return pa.table({
        "i": pa.array([1, None, -3], pa.int32()),
        "b": pa.array([9_000_000_000, 2, None], pa.int64()),
        "n": pa.array([Decimal("12.34"), None, Decimal("-0.01")], pa.decimal128(10, 2)),
        "t": pa.array(["héllo ✓", "", None]),
        "d": pa.array([dt.date(2024, 1, 2), None, dt.date(1999, 12, 31)]),
        "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None,
                        dt.datetime(2000, 1, 1)], pa.timestamp("us")),
        "tz": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc), None,
                        dt.datetime(2000, 1, 1, tzinfo=utc)], pa.timestamp("us", tz="UTC")),
        "f": pa.array([True, False, None]),
        "x": pa.array([1.5, None, float("inf")]),
    })


def _unused(*_: Any) -> None:
    raise AssertionError("the other bulk path was taken")


@pytest.mark.parametrize("bulk", ["adbc", "copy"])
def test_arrow_round_trip(pg_db: PgDatabase, bulk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dvt_engine.adapters import Relation

    adapter = _adapter(pg_db)
    adapter.use_adbc = bulk == "adbc"
    if bulk == "adbc":  # no silent fallback to COPY or the cursor
        pytest.importorskip("adbc_driver_postgresql")
        monkeypatch.setattr(adapter, "_copy_arrow", _unused)
        monkeypatch.setattr(adapter, "_copy_read", _unused)
    try:
        adapter.create_schema(pg_db.dbname, "analytics")
        rel = Relation(pg_db.dbname, "analytics", "rt", "table")
        table = _sample()
        assert adapter.write_arrow(rel, table) == 3
        if bulk == "adbc":
            monkeypatch.setattr(adapter, "execute", _unused)
        types = {c.name: c.native_type for c in adapter.get_columns(rel)}
        assert types == {"i": "integer", "b": "bigint", "n": "numeric(10,2)", "t": "text",
                         "d": "date", "ts": "timestamp without time zone",
                         "tz": "timestamp with time zone", "f": "boolean",
                         "x": "double precision"}
        back = adapter.read_arrow(f"select * from {rel}")
        assert back.schema.names == table.schema.names
        for name in table.column_names:
            assert back.column(name).type == table.column(name).type, name
        assert back.to_pylist() == table.to_pylist()
        # unconstrained numeric and a repeated column name
        out = adapter.read_arrow("select 1.50::numeric as n, 'a' as c, 'b' as c")
        assert out.column_names == ["n", "c", "c"]
        assert out.to_pylist() == [{"n": Decimal("1.50"), "c": "b"}]
    finally:
        monkeypatch.undo()
        adapter.close()


def test_read_arrow_inside_transaction_sees_own_writes(pg_db: PgDatabase) -> None:
    adapter = _adapter(pg_db)
    try:
        with adapter.transaction():
            adapter.execute("create table t as select 1 as id")
            assert adapter.read_arrow("select id from t").to_pylist() == [{"id": 1}]
            with pytest.raises(RuntimeError, match="rolled back"), adapter.transaction():
                adapter.execute("insert into t values (2)")  # a savepoint, rolled back
                raise RuntimeError("rolled back")
        assert adapter.read_arrow("select id from t").to_pylist() == [{"id": 1}]
        resp, _ = adapter.execute("insert into t select g from generate_series(1, 5) g")
        assert (resp.message, resp.code, resp.rows_affected) == ("INSERT 0 5", "INSERT", 5)
    finally:
        adapter.close()


def test_connections_of_finished_threads_return_to_the_pool(pg_db: PgDatabase) -> None:
    import threading

    adapter = _adapter(pg_db, threads=1)
    try:
        for _ in range(5):  # pool of 1 (+1 overflow): leaking would block the third thread
            th = threading.Thread(target=lambda: adapter.execute("select 1"))
            th.start()
            th.join(timeout=20)
            assert not th.is_alive()
        assert adapter.debug() == "OK connection ok"
    finally:
        adapter.close()


def test_big_seed_typed_from_first_block_is_retyped_by_late_rows(pg_project: PgProject) -> None:
    # > 1 MiB: COPY starts with the first block's types while the whole file is typed
    rows = [f"{i},{i},2024-01-02" for i in range(70_000)]
    rows[-1] = "70000,1.5,2024-01-02 03:04:05"  # a number with decimals, a timestamp
    pg_project.write("seeds/big.csv", "id,n,d\n" + "\n".join(rows) + "\n")
    assert (pg_project.root / "seeds/big.csv").stat().st_size > 1 << 20
    run = pg_project.dvt("seed")
    _assert_ok(run)
    assert "[INSERT 70000 in" in run.output
    assert _types(pg_project, "big") == {"id": "integer", "n": "double precision",
                                         "d": "timestamp without time zone"}
    assert pg_project.query("select n, d from analytics.big where id = 70000") == [
        (1.5, dt.datetime(2024, 1, 2, 3, 4, 5))]
    # the same file again: truncate + COPY, same types
    _assert_ok(pg_project.dvt("seed"))
    assert pg_project.query("select count(*) from analytics.big") == [(70_000,)]


def test_profile_role_search_path_and_libpq_options(pg_project: PgProject) -> None:
    pg_project.query("create role dvt_runner; grant create on database "
                     f'"{pg_project.db.dbname}" to dvt_runner')
    pg_project.write_profile()
    with (pg_project.root / "profiles.yml").open("a") as fh:
        fh.write("      role: dvt_runner\n      search_path: 'analytics, public'\n"
                 "      sslmode: disable\n      keepalives_idle: 30\n      connect_timeout: 5\n"
                 "      pass: unused\n")
    pg_project.write("models/who.sql", TABLE + "select current_user::text as u, "
                     "current_setting('search_path') as sp")
    run = pg_project.dvt("run")
    _assert_ok(run)
    assert pg_project.query("select u, sp from analytics.who") == [
        ("dvt_runner", "analytics, public")]
    assert pg_project.query("select tableowner from pg_tables where tablename = 'who'") == [
        ("dvt_runner",)]
    run = pg_project.dvt("show", "--inline", "select current_user::text as u", "--output",
                         "json", "-q")
    assert json.loads(run.output) == {"show": [{"u": "dvt_runner"}]}


def test_no_connection_left_idle_in_transaction(pg_db: PgDatabase) -> None:
    adapter = _adapter(pg_db)
    try:
        adapter.create_schema(pg_db.dbname, "analytics")
        adapter.execute("create table analytics.t as select 1 as id")
        adapter.read_arrow("select * from analytics.t")
        adapter.get_columns(adapter.relation(pg_db.dbname, "analytics", "t"))
        adapter.list_relations_uncached(pg_db.dbname, "analytics")
        states = pg_db.query("select state from pg_stat_activity where datname = "
                             f"'{pg_db.dbname}' and pid <> pg_backend_pid()")
        assert states and all(s == "idle" for (s,) in states), states
    finally:
        adapter.close()


def test_cross_db_macros_emit_postgres_sql(pg_project: PgProject) -> None:
    """dbt.* cross-database macros dispatch to PostgreSQL's own SQL (no DuckDB try_cast or
    date_diff), with dbt-postgres' answers."""
    from tests.unit.test_cross_db_macros import CASES, _model

    cases = [*CASES,
             ("{{ dbt.split_part(\"'a,b,c'\", \"','\", 2) }}", "b"),
             ("cast({{ dbt.date_trunc('month', \"cast('2024-05-17' as date)\") }} as date)",
              "2024-05-01"),
             ("cast({{ dbt.last_day(\"cast('2024-02-10' as date)\", 'month') }} as text)",
              "2024-02-29"),
             ("{{ dbt.datediff(\"'2024-01-01 10:00'\", \"'2024-01-02 09:00'\", 'hour') }}", 23),
             ("(select {{ dbt.listagg('x', \"','\", 'order by x') }} from (values ('b'), ('a'))"
              " v(x))", "a,b"),
             ("{{ dbt.cast_bool_to_text('true') }}", "true"),
             ("{{ dbt.any_value('1') }}", 1)]
    pg_project.write("models/m.sql", "{{ config(materialized='table') }}\n" + _model(cases))
    _assert_ok(pg_project.dvt("run"))
    compiled = (pg_project.root / "target/run/proj/models/m.sql").read_text()
    assert "try_cast" not in compiled and "date_diff" not in compiled
    row = pg_project.query("select * from analytics.m")[0]
    got = [str(v) if isinstance(expected, str) else v
           for v, (_, expected) in zip(row, cases, strict=True)]
    assert got == [expected for _, expected in cases]
