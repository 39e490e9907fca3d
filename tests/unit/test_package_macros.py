"""What running the five pinned dbt packages against dbt 1.10 turned up (issue 10; the
whole comparison is tests/integration/test_dbt_packages.py)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from typing import Any


def test_global_flags_may_come_before_the_command(project: Any) -> None:
    """`dbt --quiet run-operation codegen.generate_source ...`, as codegen's README has
    it: the flag before the command word is dbt's global flag, and print() still shows."""
    project.write("macros/hello.sql",
                  "{% macro hello(who) %}{{ print('hello ' ~ who) }}{% endmacro %}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run = project.dvt("--quiet", "run-operation", "hello", "--args", "{who: dbt}")
    assert run.exit_code == 0, run.output
    assert out.getvalue() == "hello dbt\n"
    assert "Running with" not in run.output


def test_a_failing_test_on_two_nodes_holds_back_only_nodes_reading_both(project: Any) -> None:
    """dbt's add_test_edges: a test waits-edges a node when all the test reads is upstream
    of it. dbt_utils.relationships_where / equal_rowcount on `a` comparing with `b` fail:
    the children of `a` alone and of `b` alone still build; a node reading both skips."""
    project.write("seeds/a.csv", "id\n1\n2\n")
    project.write("seeds/b.csv", "id\n1\n")
    project.write("models/reads_a.sql", "select * from {{ ref('a') }}")
    project.write("models/reads_b.sql", "select * from {{ ref('b') }}")
    project.write("models/reads_both.sql",
                  "select * from {{ ref('a') }} union all select * from {{ ref('b') }}")
    project.write("models/after_both.sql", "select * from {{ ref('reads_both') }}")
    project.write("tests/same_count.sql",
                  "select 1 as x where (select count(*) from {{ ref('a') }})"
                  " <> (select count(*) from {{ ref('b') }})")
    run = project.dvt("build")
    assert run.exit_code == 1
    assert run.statuses == {"a": "success", "b": "success", "same_count": "fail",
                            "reads_a": "success", "reads_b": "success",
                            "reads_both": "skipped", "after_both": "skipped"}, run.output


def test_a_generic_test_changing_its_list_argument_does_not_change_the_node(
        project: Any) -> None:
    """dbt_utils.at_least_one appends column_name to group_by_columns (the caller's list):
    rendered at parse time and again to run, the second render must see the YAML's list."""
    project.write("macros/grouped.sql", """
        {% test grouped_empty(model, column_name, group_by_columns=[]) %}
          {%- set cols = group_by_columns -%}
          {%- set gb = cols | join(', ') -%}
          {%- do cols.append(column_name) -%}
          select {{ gb }} from {{ model }} group by {{ gb }} having count({{ column_name }}) = 0
        {% endtest %}
    """)
    project.write("seeds/s.csv", "g,v\na,1\na,\nb,\n")
    project.write("models/schema.yml", """
        version: 2
        seeds:
          - name: s
            columns:
              - name: v
                data_tests:
                  - grouped_empty:
                      group_by_columns: [g]
    """)
    run = project.dvt("build")
    assert run.exit_code == 1, run.output
    assert "FAIL 1 grouped_empty_s_v__g" in run.output
    manifest = json.loads((project.root / "target/manifest.json").read_text())
    (test,) = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert test["test_metadata"]["kwargs"]["group_by_columns"] == ["g"]


def test_raw_code_is_the_file_stripped_as_dbt_reads_it(project: Any) -> None:
    """codegen.generate_model_import_ctes prints a model's raw_code: dbt reads files
    stripped, so raw_code (and its sha256 checksum) has no leading/trailing blank lines."""
    project.write("models/m.sql", "\n\nselect 1 as x\n\n")
    project.write("tests/t.sql", "select 1 as x where false\n")
    run = project.dvt("parse")
    assert run.exit_code == 0, run.output
    nodes = json.loads((project.root / "target/manifest.json").read_text())["nodes"]
    model, test = nodes["model.proj.m"], nodes["test.proj.t"]
    assert model["raw_code"] == "select 1 as x"
    assert test["raw_code"] == "select 1 as x where false"
    assert model["checksum"] == {"name": "sha256",
                                 "checksum": hashlib.sha256(b"select 1 as x").hexdigest()}


def test_an_ephemeral_models_compiled_sql_is_in_the_manifest(project: Any) -> None:
    """dbt's manifest.json after build has compiled_code for an ephemeral model its
    consumers inlined (as dbt_utils.star's SQL in a CTE)."""
    project.write("models/eph.sql", "{{ config(materialized='ephemeral') }}\nselect 1 as x")
    project.write("models/m.sql", "select * from {{ ref('eph') }}")
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    nodes = json.loads((project.root / "target/manifest.json").read_text())["nodes"]
    assert nodes["model.proj.eph"]["compiled_code"] == "\nselect 1 as x"  # config() renders ""
    assert nodes["model.proj.m"]["compiled_code"].startswith("with __dbt__cte__eph as (")


def test_duckdb_cross_db_macros_render_as_dbt_duckdb(project: Any) -> None:
    """dbt_date and dbt_expectations compile through dbt's cross-database macros; on
    DuckDB they render as dbt-duckdb 1.10's (compiled SQL compared with dbt's, whitespace
    folded), and datediff counts week boundaries as dbt-duckdb does."""
    project.write("models/m.sql", """
        select {{ dbt.dateadd('day', -1, 'd') }} as a, {{ dbt.dateadd('quarter', 1, 'd') }} as b,
          {{ dbt.type_string() }} as c, {{ dbt.current_timestamp() }} as e,
          {{ dbt.safe_cast('x', 'int') }} as f, {{ dbt.split_part('s', "'.'", 2) }} as g,
          {{ dbt.any_value('x') }} as h, {{ dbt.datediff('d1', 'd2', 'day') }} as i,
          {{ dbt.last_day('d', 'quarter') }} as j
    """)
    project.write("models/weeks.sql", "select {{ dbt.datediff(\"date '2024-01-06'\", "
                                      "\"date '2024-01-07'\", 'week') }} as w")
    run = project.dvt("compile", "-s", "m")
    assert run.exit_code == 0, run.output
    def fold(sql: str) -> str:
        return re.sub(r"\s*([(),])\s*", r"\1", " ".join(sql.split()))

    # dbt 1.10 + dbt-duckdb 1.10's target/compiled/.../m.sql
    dbt_sql = (
        "select (d + cast(-1 as bigint) * interval 1 day) as a, (d + (cast(1 as bigint) * 3) "
        "* interval 1 month) as b, TEXT as c, now() as e, cast(x as int) as f, "
        "string_split(s, '.')[ 2 ] as g, arbitrary(x) as h, (date_diff('day', d1::timestamp, "
        "d2::timestamp )) as i, -- duckdb dateadd does not support quarter interval. cast( ( "
        "(date_trunc('quarter', d) + cast(3 as bigint) * interval 1 month) + cast(-1 as bigint)"
        " * interval 1 day) as date) as j")
    compiled = (project.root / "target/compiled/proj/models/m.sql").read_text()
    assert fold(compiled) == fold(dbt_sql)
    run = project.dvt("run", "-s", "weeks")
    assert run.exit_code == 0, run.output
    assert project.query("select w from weeks") == [(1,)]  # Saturday to Sunday: one week
