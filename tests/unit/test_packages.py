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
