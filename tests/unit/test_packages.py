"""Packages as dbt runs them: macro lookup, `_`-prefixed helpers, package tests."""

from __future__ import annotations

from typing import Any


def _package(project: Any, name: str, files: dict[str, str]) -> None:
    project.write(f"dbt_packages/{name}/dbt_project.yml", f"name: {name}\n")
    for rel, text in files.items():
        project.write(f"dbt_packages/{name}/{rel}", text)


def test_underscore_macros_are_callable_in_and_from_their_package(project: Any) -> None:
    """dbt_utils.star calls dbt_utils._is_relation: a Jinja module exports no `_` names."""
    _package(project, "helpers", {"macros/m.sql": """
        {% macro _twice(x) %}{{ return(x * 2) }}{% endmacro %}
        {% macro four() %}{{ return(helpers._twice(2)) }}{% endmacro %}
    """})
    project.write("models/m.sql",
                  "select {{ helpers.four() }} as a, {{ helpers._twice(5) }} as c")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select a, c from m") == [(4, 10)]


def test_macro_names_resolve_as_in_dbt(project: Any) -> None:
    """A node sees its own package's macros, then the root project's, then dbt's; other
    packages' macros only through their package name, so a package never shadows a
    built-in or another package."""
    _package(project, "pkg_a", {"macros/m.sql": """
        {% macro greeting() %}'from a'{% endmacro %}
        {% macro current_timestamp() %}'shadowed!'{% endmacro %}
        {% macro who() %}{{ greeting() }}{% endmacro %}
    """})
    _package(project, "pkg_b", {"macros/m.sql": "{% macro greeting() %}'from b'{% endmacro %}"})
    project.write("macros/root.sql", "{% macro greeting() %}'from root'{% endmacro %}")
    project.write("models/m.sql",
                  "select {{ greeting() }} as g, {{ pkg_a.greeting() }} as a, "
                  "{{ pkg_b.greeting() }} as b, {{ pkg_a.who() }} as w, "
                  "cast({{ current_timestamp() }} as varchar) <> 'shadowed!' as ts")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    # pkg_a.who() rendered for a root node: its bare greeting() is the root project's
    assert project.query("select g, a, b, w, ts from m") == [
        ("from root", "from a", "from b", "from root", True)]


def test_a_bare_call_to_a_package_macro_says_how_to_call_it(project: Any) -> None:
    _package(project, "helpers", {"macros/m.sql": "{% macro double_it(x) %}{{ x * 2 }}"
                                                  "{% endmacro %}"})
    project.write("models/m.sql", "select {{ double_it(2) }} as x")
    run = project.dvt("run")
    assert run.exit_code == 1
    assert "'double_it' is undefined" in run.output
    assert "call it as helpers.double_it(...)" in run.output


PACKAGE_TESTS = {"macros/tests.sql": """
    {% test rowcount_is(model, expected) %}
      {{ return(adapter.dispatch('test_rowcount_is', 'checks')(model, expected)) }}
    {% endtest %}
    {% macro default__test_rowcount_is(model, expected) %}
      {#- set at parse time, as dbt_utils.equal_rowcount sets fail_calc -#}
      {{ config(fail_calc='sum(diff)', warn_if='> 100') }}
      {%- if not execute -%}{{ return('') }}{%- endif -%}
      select abs(count(*) - {{ expected }}) as diff from {{ model }}
    {% endmacro %}
    {% test same_name(model) %} select 1 as from_package where false {% endtest %}
"""}


def test_a_generic_tests_body_config_and_package_tests(project: Any) -> None:
    """config() in a package test's (dispatched) body sets fail_calc at parse time; YAML
    config overrides it; a namespaced package test is not shadowed by a root test of the
    same name; a package test is found without its namespace."""
    _package(project, "checks", PACKAGE_TESTS)
    project.write("macros/same_name.sql",
                  "{% test same_name(model) %} select 1 as from_root {% endtest %}")
    project.write("seeds/raw.csv", "id\n1\n2\n3\n")
    project.write("seeds/schema.yml", """
        version: 2
        seeds:
          - name: raw
            data_tests:
              - checks.rowcount_is: {expected: 5}
              - rowcount_is:
                  name: lenient_rowcount
                  expected: 5
                  config: {warn_if: '> 5', error_if: '> 5'}
              - checks.same_name
    """)
    assert project.dvt("seed").exit_code == 0
    run = project.dvt("test")
    # |3 - 5| = 2 with fail_calc sum(diff): fails (error_if != 0), warns only if > 100
    assert run.statuses == {"checks_rowcount_is_raw_5": "fail", "lenient_rowcount": "pass",
                            "checks_same_name_raw_": "pass"}, run.output
    assert "Got 2 results, configured to fail if != 0" in run.output
    import json

    manifest = json.loads((project.root / "target/manifest.json").read_text())
    test = manifest["nodes"]["test.proj.checks_rowcount_is_raw_5." +
                             next(k.rsplit(".", 1)[1] for k in manifest["nodes"]
                                  if ".checks_rowcount_is_raw_5." in k)]
    assert test["config"]["fail_calc"] == "sum(diff)"
    assert test["depends_on"]["macros"][0] == "macro.checks.test_rowcount_is"


def test_generic_test_unique_ids_are_dbts(project: Any) -> None:
    """dbt hashes the test's name and its sorted metadata (bench/DBT_FACTS.md records
    `test.demo.unique_orders_order_id.fed79b3a6e` from dbt 1.10 on examples/demo)."""
    from dvt_engine.project.parser import test_hash

    assert test_hash("unique_orders_order_id", {
        "namespace": None, "name": "unique",
        "kwargs": {"column_name": "order_id",
                   "model": "{{ get_where_subquery(ref('orders')) }}"}}) == "fed79b3a6e"
    project.write("models/orders.sql", "select 1 as order_id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: orders
            columns:
              - name: order_id
                data_tests: [unique]
    """)
    listed = project.dvt("ls", "--resource-type", "test", "--output", "json")
    assert listed.result.entries[0]["unique_id"] == "test.proj.unique_orders_order_id.fed79b3a6e"
    built = project.dvt("build")
    assert built.statuses == {"orders": "success", "unique_orders_order_id": "pass"}


def test_a_custom_materialization_fails_loudly_naming_its_file(project: Any) -> None:
    project.write("macros/mat.sql", """
        {% materialization my_mat, adapter='duckdb' %}
          {{ return({'relations': []}) }}
        {% endmaterialization %}
    """)
    project.write("models/m.sql", "{{ config(materialized='my_mat') }} select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 1
    assert "custom materialization 'my_mat' defined in macros/mat.sql" in run.output
    assert "not supported yet" in run.output


def test_run_operation_finds_a_package_macro_and_duckdb_dispatch_skips_postgres(
        project: Any) -> None:
    """`dvt run-operation generate_source` runs codegen's macro by its bare name, as dbt
    does; dbt-duckdb has no parent adapter, so dispatch takes default__, not postgres__."""
    _package(project, "gen", {"macros/m.sql": """
        {% macro shout(word) %}
          {% do log(gen.flavour() ~ ': ' ~ word | upper, info=True) %}
        {% endmacro %}
        {% macro flavour() %}{{ return(adapter.dispatch('flavour', 'gen')()) }}{% endmacro %}
        {% macro default__flavour() %}{{ return('default') }}{% endmacro %}
        {% macro postgres__flavour() %}{{ return('postgres') }}{% endmacro %}
    """})
    run = project.dvt("run-operation", "shout", "--args", "{word: hi}")
    assert run.exit_code == 0, run.output
    assert "default: HI" in run.output
