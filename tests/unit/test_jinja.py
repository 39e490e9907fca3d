"""The Jinja compile context (ref, source, config, var, target, macros, adapter, ...) as dbt."""

from __future__ import annotations

import json
from typing import Any

from dvt_engine.project.parser import static_extract
from dvt_engine.session import Session


def compiled(project: Any, name: str, *extra: str) -> str:
    """`dvt compile -s name -q`, returning only the SQL."""
    run = project.dvt("compile", "-s", name, "-q", *extra)
    assert run.exit_code == 0, run.output
    return run.output.strip()


def inline(project: Any, sql: str, *extra: str) -> str:
    run = project.dvt("compile", "--inline", sql, "-q", *extra)
    assert run.exit_code == 0, run.output
    return run.output.strip()


def show_json(project: Any, *args: str) -> list[dict[str, Any]]:
    run = project.dvt("show", "--output", "json", "-q", *args)
    assert run.exit_code == 0, run.output
    return json.loads(run.output)["show"]


# -- ref / source / this / target ----------------------------------------------------------


def test_ref_one_and_two_args_source_and_this(project: Any) -> None:
    project.write("models/a.sql", "select 1 as id")
    project.write("models/b.sql", "select * from {{ ref('a') }} union all "
                                  "select * from {{ ref('proj', 'a') }} -- {{ this }}")
    project.write("models/c.sql", "select * from {{ source('raw', 'items') }}")
    project.write("models/src.yml", """
        version: 2
        sources:
          - name: raw
            schema: landing
            tables: [{name: items, identifier: items_v2}]
    """)
    assert compiled(project, "b") == (
        'select * from "dev"."main"."a" union all select * from "dev"."main"."a" '
        '-- "dev"."main"."b"')
    assert compiled(project, "c") == 'select * from "dev"."landing"."items_v2"'
    session = Session(project.root, profiles_dir=str(project.root))
    assert session.manifest.nodes["model.proj.b"].depends_on_nodes == ["model.proj.a"]
    assert session.manifest.nodes["model.proj.c"].depends_on_nodes == ["source.proj.raw.items"]
    session.close()


def test_target_fields_without_password(project: Any) -> None:
    project.write("profiles.yml", """
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
              schema: analytics
              password: hunter2
    """)
    out = inline(project, "{{ target.name }}|{{ target.schema }}|{{ target.type }}|"
                          "{{ target.database }}|{{ target.profile_name }}|"
                          "{{ target.get('password', 'hidden') }}")
    assert out == "dev|analytics|duckdb|dev|proj|hidden"
    assert "hunter2" not in inline(project, "{{ target }}")


def test_var_env_var_execute_and_modules(project: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DVT_JINJA_X", "from-env")
    out = inline(project, "{{ var('v', 'd') }}|{{ env_var('DVT_JINJA_X') }}|"
                          "{{ env_var('DVT_JINJA_MISSING', 'fallback') }}|{{ execute }}|"
                          "{{ modules.datetime.date(2024, 1, 2).isoformat() }}|"
                          "{{ modules.re.sub('a+', 'b', 'caaat') }}",
                 "--vars", "{v: cli}")
    assert out == "cli|from-env|fallback|True|2024-01-02|cbt"


def test_json_and_yaml_helpers(project: Any) -> None:
    out = inline(project, "{% set d = fromjson('{\"a\": [1, 2]}') %}{{ d.a[1] }}|"
                          "{{ tojson({'k': 'v'}) }}|{{ fromyaml('x: 3').x }}|"
                          "{{ toyaml({'y': 4}) | trim }}")
    assert out == '2|{"k": "v"}|3|y: 4'


def test_execute_is_false_at_parse_time(project: Any) -> None:
    # dbt idiom: run_query only when execute; at parse time the branch is skipped
    project.write("models/m.sql", """
        {% if execute %}
          {% set n = run_query('select 41 + 1 as n').columns[0].values()[0] %}
        {% else %}
          {% set n = 'parse' %}
        {% endif %}
        select {{ n }} as n
    """)
    assert compiled(project, "m").endswith("select 42 as n")


# -- config ----------------------------------------------------------------------------


def test_config_get_and_require_in_macros(project: Any) -> None:
    project.write("macros/cfg.sql", """
        {% macro describe_config() %}
          {{- config.get('materialized') }}/{{ config.get('nope', 'dflt') }}/
          {{- config.require('alias') -}}
        {% endmacro %}
        {% macro needs_key() %}{{ config.require('unique_key') }}{% endmacro %}
    """)
    project.write("models/m.sql", "{{ config(materialized='table', alias='mm') }}"
                                  "select '{{ describe_config() }}' as c")
    project.write("models/bad.sql", "select '{{ needs_key() }}' as c")
    assert compiled(project, "m") == "select 'table/dflt/mm' as c"
    run = project.dvt("compile", "-s", "bad")
    assert run.exit_code == 2
    assert "unique_key" in run.output and "bad" in run.output


def test_static_extract_reads_literal_calls() -> None:
    found = static_extract(
        "{{ config(materialized='table', tags=['a', 'b'], meta={'owner': 'x'}, "
        "enabled=true, full_refresh=false, persist_docs=none) }}\n"
        "select * from {{ ref('a') }} join {{ ref('pkg', 'b') }} "
        "join {{ source('s', 't') }}")
    assert found is not None
    refs, sources, config = found
    assert refs == [("a", None), ("b", "pkg")]
    assert sources == [("s", "t")]
    assert config["materialized"] == "table" and config["tags"] == ["a", "b"]
    assert config["meta"] == {"owner": "x"}
    assert config["enabled"] is True and config["full_refresh"] is False
    assert config["persist_docs"] is None
    # anything else needs Jinja: the extractor declines
    assert static_extract("{% if x %}select 1{% endif %}") is None
    assert static_extract("{{ ref(name_var) }}") is None


STATIC_TEMPLATES = [
    "select * from {{ ref('a') }}",
    "{{ config(materialized='view') }}\nselect * from {{ ref('a') }} -- tail\n\n",
    "select 1 as x from {{- ref('a') -}}   \n  where 1 = 1",
    "select * from {{ ref('proj', 'a') }} join {{ source('raw', 'items') }} using (id)",
    "  {{- config(tags=['t']) }}\n  select * from {{ ref(\"a\") -}}\n",
    "select 'a' as s",
]


def test_static_templates_render_as_jinja_does(project: Any) -> None:
    from dvt_engine.jinja import static
    from dvt_engine.jinja.context import RenderState
    from dvt_engine.jinja.static import static_pieces

    project.write("models/a.sql", "select 1 as id")
    project.write("models/sources.yml",
                  "sources:\n  - name: raw\n    schema: main\n    tables: [{name: items}]\n")
    for i, src in enumerate(STATIC_TEMPLATES):
        project.write(f"models/m{i}.sql", src)
    session = Session(project.root, profiles_dir=str(project.root))
    compiler = session.compiler
    try:
        for i, src in enumerate(STATIC_TEMPLATES):
            assert static_pieces(src) is not None, src
            node = session.manifest.nodes[f"model.proj.m{i}"]
            fast = compiler.render(src, RenderState(node=node, execute=True), "x.sql")
            static.PIECE_CACHE[src] = None  # force the Jinja path
            slow = compiler.render(src, RenderState(node=node, execute=True), "x.sql")
            assert fast == slow, src
    finally:
        static.PIECE_CACHE.clear()
        session.close()
    # anything beyond literal ref/source/config needs Jinja
    assert static_pieces("select {{ this }}") is None
    assert static_pieces("{{ ref('a') }}{% if x %}{% endif %}") is None
    assert static_pieces("{{ ref(some_var) }}") is None


def test_control_flow_model_still_gets_refs_and_config(project: Any) -> None:
    project.write("models/a.sql", "select 1 as id")
    project.write("models/b.sql", "select 2 as id")
    project.write("models/u.sql", """
        {{ config(materialized='table', tags=['x'], enabled=true) }}
        {% for name in ['a', 'b'] %}
        select * from {{ ref(name) }}{% if not loop.last %} union all{% endif %}
        {% endfor %}
    """)
    project.write("models/off.sql", "{% set flag = false %}{{ config(enabled=flag) }}select 1")
    session = Session(project.root, profiles_dir=str(project.root))
    node = session.manifest.nodes["model.proj.u"]
    assert sorted(node.depends_on_nodes) == ["model.proj.a", "model.proj.b"]
    assert node.materialized == "table" and node.tags == ["x"]
    assert "model.proj.off" in session.manifest.disabled
    session.close()
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select count(*) from u") == [(2,)]


# -- macros ------------------------------------------------------------------------------


def test_return_across_macros_in_different_files(project: Any) -> None:
    project.write("macros/a.sql", "{% macro inner(x) %}{{ return(x * 2) }}{% endmacro %}")
    project.write("macros/sub/b.sql", """
        {% macro outer(x) %}
          {% set y = inner(x) %}
          {{ return({'doubled': y, 'type': y.__class__.__name__}) }}
        {% endmacro %}
    """)
    assert inline(project, "{% set r = outer(21) %}{{ r.doubled }} {{ r.type }}") == "42 int"


def test_statement_call_block_and_load_result_and_log(project: Any) -> None:
    project.write("macros/q.sql", """
        {% macro count_rows() %}
          {% call statement('cnt', fetch_result=True) %}
            select count(*) as n from (values (1), (2), (3)) t(x)
          {% endcall %}
          {% set res = load_result('cnt') %}
          {{ log('counted ' ~ res['data'][0][0], info=True) }}
          {{ return(res['data'][0][0]) }}
        {% endmacro %}
    """)
    project.write("models/m.sql", "select {{ count_rows() }} as n")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert "counted 3" in run.output
    assert project.query("select n from m") == [(3,)]


def test_run_query_rows_and_columns(project: Any) -> None:
    project.write("models/m.sql", """
        {% set t = run_query("select * from (values (1, 'a'), (2, 'b')) v(id, name)") %}
        {% if execute %}
        select '{{ t.columns[0].values() | join(",") }}' as ids,
               '{{ t.columns["name"].values() | join(",") }}' as names,
               '{{ t.rows[1][1] }}{{ t.rows[0]["name"] }}' as picked,
               {{ t.column_names | length }} as ncols
        {% endif %}
    """)
    assert show_json(project, "-s", "m") == [
        {"ids": "1,2", "names": "a,b", "picked": "ba", "ncols": 2}]


def test_project_overrides_generate_schema_name(project: Any) -> None:
    project.write("macros/naming.sql", """
        {% macro generate_schema_name(custom_schema_name, node) -%}
          {%- if custom_schema_name is none -%}{{ target.schema }}
          {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
        {%- endmacro %}
        {% macro generate_alias_name(custom_alias_name=none, node=none) -%}
          {%- if custom_alias_name -%}{{ custom_alias_name }}
          {%- else -%}{{ node.name }}_tbl{%- endif -%}
        {%- endmacro %}
    """)
    project.write("models/plain.sql", "select 1 as id")
    project.write("models/custom.sql", "{{ config(schema='marts', alias='cust') }}select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert sorted(project.query("select table_schema, table_name from information_schema.tables"
                                " where table_schema in ('main', 'marts')")) == [
        ("main", "plain_tbl"), ("marts", "cust")]


def test_project_overrides_generate_database_name(project: Any) -> None:
    project.write("macros/db.sql", """
        {% macro generate_database_name(custom_database_name=none, node=none) -%}
          {{ target.database }}
        {%- endmacro %}
    """)
    project.write("models/m.sql", "{{ config(database='ignored') }}select 1 as id")
    session = Session(project.root, profiles_dir=str(project.root))
    assert session.manifest.nodes["model.proj.m"].database == "dev"
    session.close()


def test_adapter_dispatch_prefers_adapter_then_default(project: Any) -> None:
    project.write("macros/d.sql", """
        {% macro greet(x) %}{{ return(adapter.dispatch('greet', 'proj')(x)) }}{% endmacro %}
        {% macro default__greet(x) %}default {{ x }}{% endmacro %}
        {% macro duckdb__greet(x) %}duck {{ x }}{% endmacro %}
        {% macro bye() %}{{ return(adapter.dispatch('bye', macro_namespace='proj')()) }}
        {% endmacro %}
        {% macro default__bye() %}default bye{% endmacro %}
    """)
    assert inline(project, "{{ greet('hi') }}|{{ bye() }}") == "duck hi|default bye"


def test_adapter_relation_methods_at_run_time(project: Any) -> None:
    project.write("models/a.sql", "{{ config(materialized='table') }}"
                                  "select 1 as id, 'x' as label")
    project.write("models/b.sql", """
        {% set rel = adapter.get_relation(database=target.database, schema='main',
                                          identifier='a') %}
        {% set missing = adapter.get_relation(database=target.database, schema='main',
                                              identifier='nope') %}
        {% set cols = adapter.get_columns_in_relation(ref('a')) if execute else [] %}
        select '{{ rel.identifier if rel else "none" }}' as found,
               '{{ missing is none }}' as missing,
               '{{ cols | map(attribute="name") | join(",") }}' as cols
        from {{ ref('a') }}
    """)
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select * from b") == [("a", "True", "id,label")]


def test_is_incremental(project: Any) -> None:
    project.write("models/inc.sql", """
        {{ config(materialized='incremental') }}
        select {{ 2 if is_incremental() else 1 }} as run_no
        {% if is_incremental() %} where (select count(*) from {{ this }}) > 0 {% endif %}
    """)
    assert project.dvt("run").exit_code == 0
    assert project.dvt("run").exit_code == 0
    assert sorted(project.query("select run_no from inc")) == [(1,), (2,)]
    assert project.dvt("run", "--full-refresh").exit_code == 0
    assert project.query("select run_no from inc") == [(1,)]


def test_raise_compiler_error_names_the_file(project: Any) -> None:
    project.write("models/boom.sql", "select 1\n{{ exceptions.raise_compiler_error('no way') }}")
    run = project.dvt("compile", "-s", "boom")
    assert run.exit_code == 2
    assert "no way" in run.output
    assert "models/boom.sql" in run.output


def test_selected_resources_and_pytz(project: Any) -> None:
    """dbt's `selected_resources` lists the run's selected nodes (and nothing the next
    command selects); `modules.pytz` is pytz (dbt_date calls pytz.timezone)."""
    project.write("macros/m.sql", """
        {% macro report() %}
          {% do log('selected=' ~ selected_resources | sort | join(','), info=True) %}
          {% do log('tz=' ~ modules.pytz.timezone('UTC').zone, info=True) %}
        {% endmacro %}
    """)
    project.write("dbt_project.yml", "name: proj\nprofile: proj\non-run-end: ['{{ report() }}']\n")
    project.write("models/a.sql", "select 1 as id")
    project.write("models/b.sql", "select 2 as id")
    run = project.dvt("run", "-s", "b")
    assert run.exit_code == 0, run.output
    assert "selected=model.proj.b" in run.output and "tz=UTC" in run.output
