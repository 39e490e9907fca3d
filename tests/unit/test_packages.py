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
        {% macro six() %}{{ return(_twice(3)) }}{% endmacro %}
    """})
    project.write("models/m.sql",
                  "select {{ helpers.four() }} as a, {{ helpers.six() }} as b, "
                  "{{ helpers._twice(5) }} as c")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select a, b, c from m") == [(4, 6, 10)]
