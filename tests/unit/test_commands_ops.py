"""debug, clean, retry, init, deps and run-operation, end to end on DuckDB."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from dvt_engine.cli import run_command
from dvt_engine.reporting import ConsolePrinter

SECRET = "Sup3rSecretPassw0rd"


def _run(argv: list[str]) -> tuple[int, str]:
    """run_command with a plain-text printer; (exit code, output)."""
    out = io.StringIO()
    result = run_command(argv, subscriber=ConsolePrinter(out, timestamps=False))
    return int(result.exit_code), out.getvalue()


# -- debug ------------------------------------------------------------------------------


def test_debug_checks_every_output_and_never_prints_secrets(project):
    project.write("profiles.yml", f"""
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
              password: {SECRET}
              threads: 1
              plugins:
                - module: unused
                  config: {{api_token: {SECRET}}}
            second:
              type: duckdb
              path: second.duckdb
              token: {SECRET}
    """)
    run = project.dvt("debug", "--all-targets")
    assert run.exit_code == 0, run.output
    for line in ("Configuration:", "  profiles.yml file [OK found and valid]",
                 "  dbt_project.yml file [OK found and valid]", "Required dependencies:",
                 "Connection:", "  Connection test: [OK connection ok]",
                 "  dev (duckdb): OK connection ok", "  second (duckdb): OK connection ok",
                 "All checks passed!"):
        assert line in run.output.splitlines(), (line, run.output)
    assert f"Using profiles.yml file at {project.root / 'profiles.yml'}" in run.output
    assert f"Using dbt_project.yml file at {project.root / 'dbt_project.yml'}" in run.output
    assert "password: ****" in run.output
    assert "'api_token': '****'" in run.output
    assert SECRET not in run.output


def test_debug_reports_a_broken_output_as_a_failed_check(project):
    project.write("profiles.yml", f"""
        proj:
          target: dev
          outputs:
            dev: {{type: duckdb, path: dev.duckdb}}
            warehouse: {{type: nosuchdb, host: h, password: {SECRET}}}
            locked: {{type: duckdb, path: dev.duckdb, settings: {{no_such_option: 1}}}}
    """)
    run = project.dvt("debug", "--all-targets")
    assert run.exit_code == 1, run.output
    lines = run.output.splitlines()
    assert "  dev (duckdb): OK connection ok" in lines
    assert any(line.startswith("  warehouse (nosuchdb): ERROR No adapter for type 'nosuchdb'")
               for line in lines), run.output
    assert any(line.startswith("  locked (duckdb): ERROR ") for line in lines), run.output
    assert "2 checks failed:" in lines
    assert "All checks passed!" not in run.output
    assert SECRET not in run.output


def test_debug_without_project_or_profile_fails_cleanly(tmp_path: Path):
    code, output = _run(["debug", "--project-dir", str(tmp_path / "missing"),
                         "--profiles-dir", str(tmp_path)])
    assert code == 1, output
    assert "  dbt_project.yml file [ERROR not found]" in output.splitlines()
    assert "  profiles.yml file [ERROR not found]" in output.splitlines()
    assert "2 checks failed:" in output
    assert "Traceback" not in output


def test_debug_with_missing_profile_in_file(project):
    project.write("profiles.yml", "other:\n  outputs:\n    dev: {type: duckdb}\n")
    run = project.dvt("debug")
    assert run.exit_code == 1
    assert "  profiles.yml file [ERROR invalid]" in run.output.splitlines()
    assert "Could not find profile named 'proj'" in run.output
    assert "1 check failed:" in run.output


# -- clean ------------------------------------------------------------------------------


def test_clean_removes_targets_without_a_profile(project):
    (project.root / "profiles.yml").unlink()
    project.write("target/run_results.json", "{}")
    project.write("dvt_packages/pkg/dbt_project.yml", "name: pkg\n")
    project.write("models/keep.sql", "select 1")
    run = project.dvt("clean")
    assert run.exit_code == 0, run.output
    assert not (project.root / "target").exists()
    assert not (project.root / "dvt_packages").exists()
    assert (project.root / "models/keep.sql").exists()
    assert run.output.splitlines() == [
        "Checking target/*", "Cleaned target/*", "Checking dvt_packages/*",
        "Cleaned dvt_packages/*", "Finished cleaning all paths."]


def test_clean_refuses_paths_outside_the_project(project, tmp_path: Path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.txt").write_text("keep me")
    project.write("target/x.txt", "x")
    project.write("dbt_project.yml", "name: proj\nprofile: proj\n"
                  "clean-targets: [target, ../precious]\n")
    run = project.dvt("clean")
    assert run.exit_code == 2
    assert "will not clean the following directories outside the project" in run.output
    assert "../precious" in run.output
    assert (outside / "data.txt").exists()
    assert (project.root / "target/x.txt").exists(), "nothing is deleted on refusal"


def test_clean_refuses_source_paths(project):
    project.write("models/m.sql", "select 1")
    project.write("dbt_project.yml", "name: proj\nprofile: proj\nclean-targets: [models]\n")
    run = project.dvt("clean")
    assert run.exit_code == 2
    assert "source paths" in run.output
    assert (project.root / "models/m.sql").exists()


# -- retry ------------------------------------------------------------------------------


def test_retry_without_previous_run(project):
    run = project.dvt("retry")
    assert run.exit_code == 2
    assert "Could not find previous run in 'target' target directory" in run.output


def test_retry_reruns_only_failed_and_skipped_nodes(project):
    project.write("models/a.sql", "select 1 as id")
    project.write("models/b.sql", "select id from {{ ref('a') }} where nonsense_column = 1")
    project.write("models/c.sql", "select id from {{ ref('b') }}")
    first = project.dvt("run", "--vars", "{greeting: hi}")
    assert first.exit_code == 1, first.output
    assert first.statuses == {"a": "success", "b": "error", "c": "skipped"}
    project.write("models/b.sql", "select id from {{ ref('a') }}")
    # a changes too: had retry re-run a, the view would now return 2
    project.write("models/a.sql", "select 2 as id")
    retry = project.dvt("retry")
    assert retry.exit_code == 0, retry.output
    assert retry.statuses == {"b": "success", "c": "success"}
    assert project.query("select id from c") == [(1,)]
    recorded = json.loads((project.root / "target/run_results.json").read_text())
    assert recorded["args"]["which"] == "run"
    assert recorded["args"]["vars"] == {"greeting": "hi"}, "recorded flags are reused"
    again = project.dvt("retry")
    assert again.exit_code == 0
    assert again.statuses == {}
    assert "Nothing to do" in again.output


def test_retry_keeps_the_recorded_command_and_full_refresh(project):
    project.write("seeds/s.csv", "id\n1\n")
    project.write("models/t.sql", "{{ config(materialized='table') }}\n"
                                  "select {{ 'broken' if not flags.FULL_REFRESH else 1 }} as x")
    first = project.dvt("build", "--full-refresh")
    assert first.exit_code == 0, first.output
    project.write("models/t.sql", "select * from nowhere_table")
    second = project.dvt("build", "--full-refresh")
    assert second.exit_code == 1
    project.write("models/t.sql", "{{ config(materialized='table') }}\n"
                                  "select {{ 1 if flags.FULL_REFRESH else 'broken' }} as x")
    retry = project.dvt("retry")
    assert retry.exit_code == 0, retry.output
    assert retry.statuses == {"t": "success"}


# -- init -------------------------------------------------------------------------------


def test_init_creates_a_project_that_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    code, output = _run(["init", "my_proj"])
    assert code == 0, output
    assert 'Your new DVT project "my_proj" was created!' in output
    root = tmp_path / "my_proj"
    for rel in ("dbt_project.yml", "profiles.yml", "models/example/my_first_model.sql",
                "models/example/my_second_model.sql", "models/example/schema.yml",
                "seeds/.gitkeep", "macros/.gitkeep", "tests/.gitkeep", "snapshots/.gitkeep",
                "analyses/.gitkeep", ".gitignore"):
        assert (root / rel).is_file(), rel
    assert "path: my_proj.duckdb" in (root / "profiles.yml").read_text()
    code, output = _run(["build", "--project-dir", str(root), "--profiles-dir", str(root)])
    assert code == 0, output
    assert "Done. PASS=4 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=4" in output
    assert (root / "my_proj.duckdb").is_file()


def test_init_refuses_existing_dir_and_missing_name(tmp_path: Path):
    (tmp_path / "taken").mkdir()
    code, output = _run(["init", "taken", "--project-dir", str(tmp_path)])
    assert code == 2
    assert "already exists" in output
    assert list((tmp_path / "taken").iterdir()) == []
    code, output = _run(["init", "--project-dir", str(tmp_path)])
    assert code == 2
    assert "No project name given" in output and "dvt init my_project" in output
    code, output = _run(["init", "bad-name", "--project-dir", str(tmp_path)])
    assert code == 2
    assert not (tmp_path / "bad-name").exists()


def test_init_skip_profile_setup(tmp_path: Path):
    code, output = _run(["init", "np", "--skip-profile-setup", "--project-dir", str(tmp_path)])
    assert code == 0, output
    assert (tmp_path / "np/dbt_project.yml").is_file()
    assert not (tmp_path / "np/profiles.yml").exists()


# -- deps -------------------------------------------------------------------------------


def test_deps_without_packages_file(project):
    run = project.dvt("deps")
    assert run.exit_code == 0
    assert "Warning: No packages were found in packages.yml" in run.output


def test_deps_installs_local_package_whose_macro_a_model_calls(project, tmp_path: Path):
    pkg = tmp_path / "helpers"
    (pkg / "macros").mkdir(parents=True)
    (pkg / "dbt_project.yml").write_text("name: helpers_pkg\nversion: '1.0'\n")
    (pkg / "macros/double.sql").write_text(
        "{% macro double_it(x) %}({{ x }} * 2){% endmacro %}\n")
    project.write("packages.yml", "packages:\n  - local: ../helpers\n")
    project.write("models/m.sql", "{{ config(materialized='table') }}\n"
                                  "select {{ helpers_pkg.double_it(21) }} as answer")
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    assert "Installing ../helpers" in run.output
    assert (project.root / "dvt_packages/helpers_pkg/macros/double.sql").is_file()
    build = project.dvt("run")
    assert build.exit_code == 0, build.output
    assert project.query("select answer from m") == [(42,)]
    # deps again replaces the link (a changed package is picked up)
    (pkg / "macros/double.sql").write_text(
        "{% macro double_it(x) %}({{ x }} * 3){% endmacro %}\n")
    assert project.dvt("deps").exit_code == 0
    assert project.dvt("run").exit_code == 0
    assert project.query("select answer from m") == [(63,)]


def test_deps_reports_unreachable_packages_as_errors(project, tmp_path: Path, monkeypatch):
    """A hub or git package that cannot be had is an error naming it; the others are
    installed (nothing here leaves 127.0.0.1)."""
    monkeypatch.setenv("DBT_PACKAGE_HUB_URL", "http://127.0.0.1:9/")  # nothing listens
    pkg = tmp_path / "loc"
    pkg.mkdir()
    (pkg / "dbt_project.yml").write_text("name: loc\n")
    project.write("dependencies.yml", f"""
        packages:
          - package: dbt-labs/dbt_utils
            version: 1.1.1
          - git: {tmp_path / "no_such_repo"}
            revision: main
          - local: ../loc
    """)
    run = project.dvt("deps")
    assert run.exit_code == 1, run.output
    lines = sorted(line for line in run.output.splitlines()
                   if line.startswith("Error installing"))
    assert len(lines) == 2, run.output
    assert lines[0].startswith(f"Error installing {tmp_path / 'no_such_repo'}: git clone failed")
    assert lines[1].startswith("Error installing dbt-labs/dbt_utils: could not read "
                               "http://127.0.0.1:9/api/v1/dbt-labs/dbt_utils.json")
    assert (project.root / "dvt_packages/loc/dbt_project.yml").is_file()


def test_deps_local_package_without_project_file(project):
    project.write("packages.yml", "packages:\n  - local: ../nowhere\n")
    run = project.dvt("deps")
    assert run.exit_code == 1
    assert "Error installing ../nowhere: no dbt_project.yml" in run.output


# -- run-operation -----------------------------------------------------------------------


def test_run_operation_creates_a_table_and_logs(project):
    project.write("macros/ops.sql", """
        {% macro make_table(name, n=3) %}
          {% do run_query("create table " ~ name ~ " as select range as i from range(" ~ n ~ ")") %}
          {% set rows = run_query("select count(*) from " ~ name) %}
          {{ log("created " ~ name ~ " with " ~ rows[0][0] ~ " rows", info=True) }}
          {{ log("a debug-only line") }}
        {% endmacro %}
    """)
    run = project.dvt("run-operation", "make_table", "--args", "{name: made, n: 4}")
    assert run.exit_code == 0, run.output
    assert run.output.splitlines() == ["created made with 4 rows"]
    assert project.query("select count(*) from made") == [(4,)]
    recorded = json.loads((project.root / "target/run_results.json").read_text())
    assert recorded["results"][0]["unique_id"] == "macro.proj.make_table"
    assert recorded["results"][0]["status"] == "success"


def test_run_operation_statement_and_adapter(project):
    project.write("macros/ops.sql", """
        {% macro stmt() %}
          {% call statement('s', fetch_result=True) %}select 40 + 2 as v{% endcall %}
          {% do adapter.execute("create table from_stmt as select "
                                ~ load_result('s')['data'][0][0] ~ " as v") %}
        {% endmacro %}
    """)
    run = project.dvt("run-operation", "stmt")
    assert run.exit_code == 0, run.output
    assert project.query("select v from from_stmt") == [(42,)]


def test_run_operation_builtin_generate_schema_name_is_silent(project):
    run = project.dvt("run-operation", "generate_schema_name", "--args",
                      "{custom_schema_name: x}")
    assert run.exit_code == 0, run.output
    assert run.output.strip() == ""


def test_run_operation_missing_macro(project):
    run = project.dvt("run-operation", "no_such_macro")
    assert run.exit_code == 2
    assert "No macro named 'no_such_macro' found" in run.output


def test_run_operation_error_in_macro_then_retry(project):
    project.write("macros/ops.sql", """
        {% macro boom() %}
          {% do run_query("select * from missing_table_xyz") %}
        {% endmacro %}
    """)
    run = project.dvt("run-operation", "boom")
    assert run.exit_code == 1
    assert "Encountered an error while running operation" in run.output
    assert "missing_table_xyz" in run.output
    project.write("macros/ops.sql", """
        {% macro boom() %}
          {% do run_query("create table fixed_now as select 1 as x") %}
        {% endmacro %}
    """)
    retry = project.dvt("retry")
    assert retry.exit_code == 0, retry.output
    assert project.query("select x from fixed_now") == [(1,)]


def test_run_operation_python_error_in_macro(project):
    project.write("macros/ops.sql",
                  "{% macro needs_arg(x) %}{{ exceptions.raise_compiler_error('bad ' ~ x) }}"
                  "{% endmacro %}\n")
    run = project.dvt("run-operation", "needs_arg", "--args", "{x: value}")
    assert run.exit_code == 1
    assert "bad value" in run.output
    assert "Traceback" not in run.output


# -- in a long-lived session (the notebook path) ----------------------------------------


def test_session_invoke_debug_clean_deps(project):
    from dvt_engine.session import Session

    project.write("target/old.txt", "x")
    session = Session(project.root, profiles_dir=str(project.root))
    try:
        out = io.StringIO()
        printer = ConsolePrinter(out, timestamps=False)
        assert session.invoke(["debug"], subscriber=printer).exit_code == 0
        assert session.invoke(["clean"], subscriber=printer).exit_code == 0
        assert session.invoke(["deps"], subscriber=printer).exit_code == 0
        text = out.getvalue()
        assert "  dev (duckdb): OK connection ok" in text
        assert "Cleaned target/*" in text
        assert "No packages were found" in text
        assert not (project.root / "target").exists()
        # the printer was unsubscribed after each command
        session.events.log("after")
        assert "after" not in out.getvalue()
    finally:
        session.close()


def test_compile_writes_ephemeral_models_too(project):
    """dbt compile writes a compiled file for every model, ephemeral ones included."""
    project.write("models/eph.sql", "{{ config(materialized='ephemeral') }} select 1 as id")
    project.write("models/final.sql", "select * from {{ ref('eph') }}")
    assert project.dvt("compile").exit_code == 0
    compiled = project.root / "target/compiled/proj/models"
    assert (compiled / "eph.sql").read_text().strip() == "select 1 as id"
    assert "__dbt__cte__eph" in (compiled / "final.sql").read_text()
