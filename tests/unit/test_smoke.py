"""A first end-to-end pass: seed -> view -> table -> tests, on DuckDB."""

from __future__ import annotations


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
