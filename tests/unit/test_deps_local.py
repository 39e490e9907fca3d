"""deps with `local:` packages outside the project, as dbt 1.10 installs them (issue 10):
a symlink in the packages folder (a copy where links fail), the project's parent included
(a package's integration_tests project lists `local: ../`), the packages' own
packages.yml read too, and package-lock.yml written as dbt 1.7+ writes it."""

from __future__ import annotations

import json
import os
from hashlib import sha1

import pytest
import yaml


@pytest.fixture
def integration_tests(project):
    """The project is the integration_tests folder of package `my_pkg` (its parent),
    which lists `helpers` in its own packages.yml, relative to itself."""
    pkg = project.root.parent
    (pkg / "macros").mkdir()
    (pkg / "dbt_project.yml").write_text("name: my_pkg\nversion: '1.0'\n")
    (pkg / "macros/double.sql").write_text(
        "{% macro double_it(x) %}({{ x }} * 2){% endmacro %}\n")
    (pkg / "packages.yml").write_text("packages:\n  - local: helpers\n")
    (pkg / "helpers/macros").mkdir(parents=True)
    (pkg / "helpers/dbt_project.yml").write_text("name: helpers\n")
    (pkg / "helpers/macros/plus.sql").write_text(
        "{% macro plus_one(x) %}({{ x }} + 1){% endmacro %}\n")
    project.write("packages.yml", "packages:\n  - local: ../\n")
    project.write("models/m.sql", "{{ config(materialized='table') }}\n"
                                  "select {{ helpers.plus_one(my_pkg.double_it(20)) }} as answer")
    return project


def test_deps_links_the_parent_package_and_its_dependencies(integration_tests):
    project = integration_tests
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    assert "Installing ../" in lines and "Installed from <local @ ../>" in lines
    assert "Installing helpers" in lines
    installed = project.root / "dvt_packages"
    assert (installed / "my_pkg").is_symlink()
    assert (installed / "my_pkg").resolve() == project.root.parent.resolve()
    assert (installed / "helpers").resolve() == (project.root.parent / "helpers").resolve()
    # dbt's lock: each package with its name (paths from the project), and the hash of
    # packages.yml's list as dbt computes it
    lock = yaml.safe_load((project.root / "package-lock.yml").read_text())
    entry = json.dumps({"local": "../", "unrendered": {"local": "../"}}, sort_keys=True)
    assert lock == {"packages": [{"local": "../", "name": "my_pkg"},
                                 {"local": "../helpers", "name": "helpers"}],
                    "sha1_hash": sha1(entry.encode()).hexdigest()}
    assert (project.root / "package-lock.yml").read_text().startswith(
        "packages:\n  - local: ../\n    name: my_pkg\n")
    assert f"Updating lock file in file path: {project.root / 'package-lock.yml'}" in lines

    built = project.dvt("run")
    assert built.exit_code == 0, built.output
    assert project.query("select answer from m") == [(41,)]
    # again: the links are replaced, the unchanged lock is kept
    again = project.dvt("deps")
    assert again.exit_code == 0, again.output
    assert "Updating lock file" not in again.output


def test_deps_copies_where_symlinks_fail(integration_tests, monkeypatch):
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("symbolic links are not supported here")

    monkeypatch.setattr(os, "symlink", refuse)
    project = integration_tests
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    copy = project.root / "dvt_packages/my_pkg"
    assert copy.is_dir() and not copy.is_symlink()
    assert (copy / "macros/double.sql").is_file()
    # the package holds the project: the copy leaves the project out, so it ends
    assert not (copy / project.root.name).exists()
    assert project.dvt("run").exit_code == 0
    assert project.query("select answer from m") == [(41,)]


def test_deps_refuses_the_project_itself_as_dbt_does(project):
    project.write("packages.yml", "packages:\n  - local: .\n")
    run = project.dvt("deps")
    assert run.exit_code == 1, run.output
    assert 'same name as the root project "proj"' in run.output


def test_a_session_sees_edits_in_a_linked_package(integration_tests):
    from dvt_engine.session import Session

    project = integration_tests
    assert project.dvt("deps").exit_code == 0
    session = Session(project.root, profiles_dir=str(project.root))
    try:
        assert session.run().exit_code == 0
        macro = project.root.parent / "macros/double.sql"
        macro.write_text("{% macro double_it(x) %}({{ x }} * 3){% endmacro %}\n")
        later = macro.stat().st_mtime + 10
        os.utime(macro, (later, later))
        assert session.run().exit_code == 0
        assert session.query("select answer from m").table.to_pylist() == [{"answer": 61}]
    finally:
        session.close()
