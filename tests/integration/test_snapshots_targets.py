"""Snapshots on each target type: DuckDB, PostgreSQL (a real server) and SQLite run the same
project and must give the same versions, with dbt's meta columns typed as timestamps.

Covered on each engine: the first run creates the table with dbt_scd_id, dbt_updated_at,
dbt_valid_from, dbt_valid_to (NULL for current rows); the timestamp strategy closes a
changed row's old version at the new updated_at; the check strategy (check_cols list, set
in YAML, and 'all'); hard deletes invalidated (legacy flag and `hard_deletes`), ignored,
and as new records; a column new in the source is added; a run without changes adds
nothing; a downstream model reads the snapshot by ref.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEFAULT_PROFILES, Project

ENGINES = ["duckdb", "postgres", "sqlite"]

SQLITE_PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: sqlite
      path: x.db
      schema: main
      threads: 1
"""

SOURCES = """
version: 2
sources:
  - name: raw
    schema: {schema}
    tables:
      - name: orders
      - name: customers
"""

ORDERS_SNAP = """
{% snapshot orders_snap %}
{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at',
          invalidate_hard_deletes=True) }}
select * from {{ source('raw', 'orders') }}
{% endsnapshot %}
"""

# the check strategy's config comes from YAML only (snapshots: properties)
CUST_CHECK = """
{% snapshot cust_check %}
select * from {{ source('raw', 'customers') }}
{% endsnapshot %}
"""

CUST_CHECK_YML = """
version: 2
snapshots:
  - name: cust_check
    config:
      unique_key: id
      strategy: check
      check_cols: [status]
      hard_deletes: invalidate
"""

CUST_ALL = """
{% snapshot cust_all %}
{{ config(unique_key='id', strategy='check', check_cols='all', hard_deletes='new_record') }}
select * from {{ source('raw', 'customers') }}
{% endsnapshot %}
"""

CUST_IGNORE = """
{% snapshot cust_ignore %}
{{ config(unique_key='id', strategy='check', check_cols=['status'], hard_deletes='ignore') }}
select * from {{ source('raw', 'customers') }}
{% endsnapshot %}
"""

CURRENT_ORDERS = """
{{ config(materialized='table') }}
select id, status from {{ ref('orders_snap') }} where dbt_valid_to is null
"""

META = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")


class SQLiteProject(Project):
    """A project whose default output is the SQLite file x.db."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.root / "x.db")
        try:
            rows = con.execute(sql).fetchall()
            con.commit()
            return rows
        finally:
            con.close()


@dataclass
class Target:
    engine: str
    project: Project
    schema: str  # the profile's schema: sources and snapshots live there

    def run(self, *args: str) -> Any:
        result = self.project.dvt(*args)
        assert result.exit_code == 0, result.output
        return result

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.project.query(sql)

    def execute(self, *statements: str) -> None:
        for stmt in statements:
            self.project.query(stmt)

    def column_types(self, table: str) -> dict[str, str]:
        if self.engine == "sqlite":
            sql = f"select name, type from pragma_table_info('{table}')"
        else:
            sql = ("select column_name, data_type from information_schema.columns "
                   f"where table_schema = '{self.schema}' and table_name = '{table}'")
        return {str(n): str(t).lower() for n, t in self.rows(sql)}


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    engine = request.param
    if engine == "postgres":
        project = request.getfixturevalue("pg_project")  # starts the server only here
        project.query("create schema if not exists analytics")
        schema = "analytics"
    else:
        project = (SQLiteProject if engine == "sqlite" else Project)(tmp_path / "proj")
        project.root.mkdir()
        project.write("dbt_project.yml", "name: proj\nprofile: proj\n")
        project.write("profiles.yml", SQLITE_PROFILES if engine == "sqlite" else DEFAULT_PROFILES)
        schema = "main"
    project.write("models/sources.yml", SOURCES.format(schema=schema))
    t = Target(engine, project, schema)
    s = schema
    # the same DDL and literals on all three: varchar is text on SQLite, strings cast
    t.execute(
        f"create table {s}.orders (id integer, status varchar(20), updated_at timestamp)",
        f"insert into {s}.orders values (1, 'placed', '2024-01-01 00:00:00'), "
        "(2, 'placed', '2024-01-01 00:00:00'), (3, 'placed', '2024-01-01 00:00:00')",
        f"create table {s}.customers (id integer, status varchar(20), note varchar(20))",
        f"insert into {s}.customers values (1, 'gold', 'a'), (2, 'silver', 'b'), "
        "(3, 'bronze', 'c')",
    )
    return t


def _ts(value: Any) -> str | None:
    """A timestamp as text, whichever way the engine returns it (SQLite: ISO text)."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat(" ")
    return str(value)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - dbt's scd id


def _assert_meta_types(t: Target, table: str, timestamp_cols: tuple[str, ...]) -> None:
    types = t.column_types(table)
    assert set(META) <= set(types), types
    for col in timestamp_cols:
        if t.engine == "postgres":
            assert types[col] == "timestamp without time zone", (col, types)
        else:
            assert "timestamp" in types[col], (col, types)
    assert any(k in types["dbt_scd_id"] for k in ("text", "varchar", "char")), types


def test_timestamp_strategy_hard_deletes_and_downstream_ref(target: Target) -> None:
    t, s = target, target.schema
    t.project.write("snapshots/orders_snap.sql", ORDERS_SNAP)
    t.project.write("models/current_orders.sql", CURRENT_ORDERS)

    first = t.run("snapshot")
    assert first.statuses == {"orders_snap": "success"}
    assert f"OK snapshotted {s}.orders_snap" in first.output
    _assert_meta_types(t, "orders_snap", ("dbt_updated_at", "dbt_valid_from", "dbt_valid_to"))
    rows = t.rows(f"select id, status, dbt_scd_id, dbt_updated_at, dbt_valid_from, "
                  f"dbt_valid_to from {s}.orders_snap order by id")
    assert [(r[0], r[1], _ts(r[3]), _ts(r[4]), r[5]) for r in rows] == [
        (i, "placed", "2024-01-01 00:00:00", "2024-01-01 00:00:00", None) for i in (1, 2, 3)]
    # dbt's id: md5 of unique_key | updated_at, the same text on every engine
    assert [r[2] for r in rows] == [_md5(f"{i}|2024-01-01 00:00:00") for i in (1, 2, 3)]

    t.execute(f"update {s}.orders set status = 'shipped', updated_at = '2024-02-01 00:00:00' "
              "where id = 1",
              f"delete from {s}.orders where id = 3",
              f"insert into {s}.orders values (4, 'placed', '2024-02-01 00:00:00')",
              f"alter table {s}.orders add column channel varchar(10)")
    t.run("snapshot")
    assert "channel" in t.column_types("orders_snap")  # dbt adds a new source column
    sql = (f"select id, status, dbt_valid_from, dbt_valid_to from {s}.orders_snap "
           "order by id, dbt_valid_from")
    versions = [(r[0], r[1], _ts(r[2]), _ts(r[3])) for r in t.rows(sql)]
    closed_3 = versions[3][3]
    assert versions == [
        (1, "placed", "2024-01-01 00:00:00", "2024-02-01 00:00:00"),  # closed at the change
        (1, "shipped", "2024-02-01 00:00:00", None),
        (2, "placed", "2024-01-01 00:00:00", None),  # unchanged: one version
        (3, "placed", "2024-01-01 00:00:00", closed_3),  # deleted: invalidated
        (4, "placed", "2024-02-01 00:00:00", None),  # new key
    ]
    assert closed_3 is not None and closed_3 > "2024-02-01"  # the snapshot's own time

    third = t.run("snapshot")  # nothing changed: nothing added, nothing closed
    assert third.statuses == {"orders_snap": "success"}
    assert [(r[0], r[1], _ts(r[2]), _ts(r[3])) for r in t.rows(sql)] == versions

    build = t.run("run", "-s", "current_orders")
    assert build.statuses == {"current_orders": "success"}
    assert sorted(t.rows(f"select id, status from {s}.current_orders")) == [
        (1, "shipped"), (2, "placed"), (4, "placed")]


def test_check_strategy_cols_list_and_all(target: Target) -> None:
    t, s = target, target.schema
    t.project.write("snapshots/cust_check.sql", CUST_CHECK)
    t.project.write("snapshots/cust_check.yml", CUST_CHECK_YML)
    t.project.write("snapshots/cust_all.sql", CUST_ALL)
    t.project.write("snapshots/cust_ignore.sql", CUST_IGNORE)

    first = t.run("snapshot")
    assert first.statuses == {"cust_check": "success", "cust_all": "success",
                              "cust_ignore": "success"}
    for table in ("cust_check", "cust_all"):
        _assert_meta_types(t, table, ("dbt_updated_at", "dbt_valid_from", "dbt_valid_to"))
        rows = t.rows(f"select dbt_updated_at, dbt_valid_from, dbt_valid_to from {s}.{table}")
        assert len(rows) == 3
        # the check strategy's updated_at is the snapshot time, and valid_from with it
        assert all(r[0] is not None and _ts(r[0]) == _ts(r[1]) and r[2] is None for r in rows)
    assert "dbt_is_deleted" in t.column_types("cust_all")

    t.execute(f"update {s}.customers set status = 'platinum' where id = 1",
              f"update {s}.customers set note = 'changed' where id = 2",
              f"delete from {s}.customers where id = 3")
    t.run("snapshot")

    def check_rows(table: str = "cust_check") -> list[tuple[Any, ...]]:
        return [(r[0], r[1], r[2] is None) for r in t.rows(
            f"select id, status, dbt_valid_to from {s}.{table} order by id, dbt_valid_from")]

    def all_rows() -> list[tuple[Any, ...]]:
        return [(r[0], r[1], r[2], r[3], r[4] is None) for r in t.rows(
            f"select id, status, note, dbt_is_deleted, dbt_valid_to from {s}.cust_all "
            "order by id, dbt_valid_from")]

    expect_check = [
        (1, "gold", False), (1, "platinum", True),  # checked column changed
        (2, "silver", True),  # only an unchecked column changed: no new version
        (3, "bronze", False),  # deleted in the source: invalidated
    ]
    expect_all = [
        (1, "gold", "a", "False", False), (1, "platinum", "a", "False", True),
        (2, "silver", "b", "False", False), (2, "silver", "changed", "False", True),
        (3, "bronze", "c", "False", False), (3, "bronze", "c", "True", True),  # new_record
    ]
    # hard_deletes='ignore': the deleted key keeps its current version
    expect_ignore = [*expect_check[:3], (3, "bronze", True)]
    assert check_rows() == expect_check
    assert all_rows() == expect_all
    assert check_rows("cust_ignore") == expect_ignore

    t.run("snapshot")  # no changes (3 still deleted): nothing added
    assert check_rows() == expect_check
    assert all_rows() == expect_all
    assert check_rows("cust_ignore") == expect_ignore
