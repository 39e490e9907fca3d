"""dbt's cross-database macros, dispatched per adapter: each runs on DuckDB and SQLite
(PostgreSQL: tests/integration/test_postgres.py) and gives dbt's answer."""

from __future__ import annotations

from typing import Any

import pytest

# (expression, expected value); every expression runs in one select
CASES: list[tuple[str, Any]] = [
    ("{{ dbt.string_literal('it') }}", "it"),
    ("'{{ dbt.escape_single_quotes(\"o'brien\") }}'", "o'brien"),
    ("{{ dbt.replace(\"'a-b-c'\", \"'-'\", \"'+'\") }}", "a+b+c"),
    ("{{ dbt.right(\"'abcdef'\", 2) }}", "ef"),
    ("{{ dbt.length(\"'abcd'\") }}", 4),
    ("{{ dbt.position(\"'c'\", \"'abcd'\") }}", 3),
    ("{{ dbt.concat([\"'a'\", \"'b'\"]) }}", "ab"),
    ("{{ dbt.cast('12', dbt.type_int()) }}", 12),
    ("{{ dbt.safe_cast(\"'7'\", dbt.type_int()) }}", 7),
    ("case when {{ dbt.equals('null', 'null') }} then 1 else 0 end", 1),
    ("{{ dbt.datediff(\"'2024-01-31'\", \"'2024-03-01'\", 'day') }}", 30),
    ("{{ dbt.datediff(\"'2024-01-31'\", \"'2024-03-01'\", 'month') }}", 2),
    ("{{ dbt.datediff(\"'2023-12-31'\", \"'2024-01-01'\", 'year') }}", 1),
]
DUCKDB_ONLY: list[tuple[str, Any]] = [
    ("{{ dbt.split_part(\"'a,b,c'\", \"','\", 2) }}", "b"),
    ("cast({{ dbt.date_trunc('month', \"cast('2024-05-17' as date)\") }} as date)",
     "2024-05-01"),
    ("cast({{ dbt.last_day(\"cast('2024-02-10' as date)\", 'month') }} as varchar)",
     "2024-02-29"),
    ("cast({{ dbt.dateadd('day', 3, \"cast('2024-02-27' as date)\") }} as date)",
     "2024-03-01"),
    ("{{ dbt.cast_bool_to_text('true') }}", "true"),
]


def _model(cases: list[tuple[str, Any]]) -> str:
    return "select " + ",\n  ".join(f"{expr} as c{i}" for i, (expr, _) in enumerate(cases))


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_cross_db_macros(project: Any, engine: str) -> None:
    cases = CASES + (DUCKDB_ONLY if engine == "duckdb" else [])
    if engine == "sqlite":
        project.write("profiles.yml", """
            proj:
              target: dev
              outputs:
                dev: {type: sqlite, path: dev.db, schema: main, threads: 1}
        """)
    project.write("models/m.sql", "{{ config(materialized='table') }}\n" + _model(cases))
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    if engine == "duckdb":
        row = project.query("select * from m")[0]
    else:
        import sqlite3

        con = sqlite3.connect(project.root / "dev.db")
        row = con.execute("select * from m").fetchone()
        con.close()
    got = [str(v) if isinstance(expected, str) else v
           for v, (_, expected) in zip(row, cases, strict=True)]
    assert got == [expected for _, expected in cases]


def test_a_project_overrides_a_cross_db_macro_through_dispatch(project: Any) -> None:
    """dbt's dispatch searches the root project before dbt's own macros."""
    project.write("macros/mine.sql",
                  "{% macro default__string_literal(value) %}'mine: {{ value }}'{% endmacro %}")
    project.write("models/m.sql", "select {{ dbt.string_literal('x') }} as v")
    assert project.dvt("run").exit_code == 0
    assert project.query("select v from m") == [("mine: x",)]
