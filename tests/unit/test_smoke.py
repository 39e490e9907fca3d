"""A first end-to-end pass: seed -> view -> table -> tests, on DuckDB."""

from __future__ import annotations

import re


def test_build_creates_tables_and_runs_tests(project):
    project.write("seeds/raw.csv", "id,name\n1,a\n2,b\n")
    project.write("models/stg.sql", "select id, name from {{ ref('raw') }}")
    project.write("models/final.sql", "{{ config(materialized='table') }}\n"
                                      "select * from {{ ref('stg') }}")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: final
            columns:
              - name: id
                tests: [unique, not_null]
    """)
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert run.statuses == {"raw": "success", "stg": "success", "final": "success",
                            "unique_final_id": "pass", "not_null_final_id": "pass"}
    assert project.query("select count(*) from final") == [(2,)]
    assert "Done. PASS=5 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=5" in run.output


def test_every_command_appends_to_logs_dvt_log(project, tmp_path, monkeypatch):
    """As dbt keeps logs/dbt.log: a header per invocation, every line, debug included."""
    project.write("models/a.sql", "select 1 as id")
    project.write("models/b.sql", "select * from {{ ref('a') }} where nope")
    first = project.dvt("run", "-s", "a")
    assert first.exit_code == 0
    failed = project.dvt("run", "-s", "b")
    assert failed.exit_code == 1
    log = (project.root / "logs" / "dvt.log").read_text()
    assert log.count(" | ") >= 2 and "dvt run" in log  # two invocation headers
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} \[info \] \[\w+\]: 1 of 1 OK created sql view model main.a", log)
    assert "[error] [MainThread]: Failure in model b (models/b.sql)" in log
    # every statement, where it ran and how long it took (debug: not on the console)
    assert re.search(r"\[debug\] \[\w+\]: SQL on dev in \d+\.\d{3}s:\n[^\n]*: create or replace "
                     r'view "dev"."main"."a" as \(', log), log
    assert "SQL on dev" not in first.output
    # --log-path and DVT_LOG_PATH move it
    assert project.dvt("ls", "--log-path", "elsewhere").exit_code == 0
    assert "dvt ls" in (project.root / "elsewhere" / "dvt.log").read_text()
    monkeypatch.setenv("DVT_LOG_PATH", str(tmp_path / "env_logs"))
    assert project.dvt("parse").exit_code == 0
    assert "dvt parse" in (tmp_path / "env_logs" / "dvt.log").read_text()
