"""Errors (file and line, exit codes) and the CLI's output of parse/list/compile/show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dvt_engine.cli import main


def _cli(project: Any, capsys: Any, *args: str) -> tuple[int, str]:
    """The real `dvt` entry point (its own console printer), output captured."""
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- parse-time errors: exit 2 -------------------------------------------------------------


def test_invalid_yaml_names_file_and_line(project: Any) -> None:
    project.write("models/m.sql", "select 1 as id")
    project.write("models/schema.yml", "version: 2\nmodels:\n  - name: m\n    description: [oops\n")
    run = project.dvt("parse")
    assert run.exit_code == 2
    assert "models/schema.yml:" in run.output
    assert "invalid YAML" in run.output


def test_invalid_dbt_project_yml_is_exit_2(project: Any) -> None:
    project.write("dbt_project.yml", "name: proj\nprofile: [proj\n")
    run = project.dvt("run")
    assert run.exit_code == 2
    assert "dbt_project.yml:" in run.output


def test_jinja_syntax_error_names_file_and_line(project: Any) -> None:
    project.write("models/ok.sql", "select 1 as id")
    project.write("models/bad.sql", "select 1\nfrom x\n{% if true %}\nselect 2\n")
    run = project.dvt("run")
    assert run.exit_code == 2
    assert "models/bad.sql:" in run.output
    assert "Compilation Error" in run.output
    assert "Traceback" not in run.output


def test_jinja_syntax_error_in_macro_names_macro_file(project: Any) -> None:
    project.write("macros/m.sql", "-- helpers\n\n{% macro broken() %}\n{{ 1 + }}\n"
                                  "{% endmacro %}\n")
    project.write("models/ok.sql", "select 1 as id")
    run = project.dvt("parse")
    assert run.exit_code == 2
    assert "macros/m.sql:4" in run.output


def test_unknown_ref_is_exit_2(project: Any) -> None:
    project.write("models/m.sql", "select * from {{ ref('ghost') }}")
    run = project.dvt("run")
    assert run.exit_code == 2
    assert "depends on a node named 'ghost' which was not found" in run.output
    assert "models/m.sql" in run.output


def test_cycle_names_the_nodes(project: Any) -> None:
    project.write("models/a.sql", "select * from {{ ref('c') }}")
    project.write("models/b.sql", "select * from {{ ref('a') }}")
    project.write("models/c.sql", "select * from {{ ref('b') }}")
    project.write("models/free.sql", "select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 2
    assert "Found a cycle" in run.output
    for uid in ("model.proj.a", "model.proj.b", "model.proj.c"):
        assert uid in run.output
    assert "model.proj.free" not in run.output


def test_missing_project_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    code = main(["run", "--project-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert "No dbt_project.yml found" in out


def test_unknown_flag_is_exit_2(project: Any, capsys: Any) -> None:
    code, out = _cli(project, capsys, "run", "--no-such-flag")
    assert code == 2
    assert "--no-such-flag" in out


# -- run-time errors: exit 1, the node fails alone -------------------------------------


def _failing_project(project: Any) -> None:
    project.write("models/good.sql", "select 1 as id")
    project.write("models/broken.sql", "select no_such_column from {{ ref('good') }}")
    project.write("models/child.sql", "select * from {{ ref('broken') }}")
    project.write("models/grandchild.sql", "select * from {{ ref('child') }}")
    project.write("models/independent.sql", "select 2 as id")


def test_sql_error_fails_node_alone(project: Any) -> None:
    _failing_project(project)
    run = project.dvt("run")
    assert run.exit_code == 1
    assert run.statuses == {"good": "success", "broken": "error", "child": "skipped",
                            "grandchild": "skipped", "independent": "success"}
    # dbt-duckdb's words (dbt-postgres says "Database Error")
    assert "Failure in model broken (models/broken.sql)\n  Runtime Error in model broken " \
        "(models/broken.sql)\n" in run.output, run.output
    assert "no_such_column" in run.output
    assert "SKIP relation main.child" in run.output
    assert "Done. PASS=2 WARN=0 ERROR=1 SKIP=2 NO-OP=0 TOTAL=5" in run.output
    assert "Traceback" not in run.output
    results = json.loads((project.root / "target" / "run_results.json").read_text())
    by_id = {r["unique_id"]: r for r in results["results"]}
    assert by_id["model.proj.broken"]["status"] == "error"
    assert "models/broken.sql" in by_id["model.proj.broken"]["message"]
    assert by_id["model.proj.child"]["status"] == "skipped"


def test_fail_fast_stops_after_first_failure(project: Any) -> None:
    project.write("models/a_broken.sql", "select no_such_column from (select 1 as id)")
    for i in range(3):
        project.write(f"models/z_other_{i}.sql", "select 1 as id")
    run = project.dvt("run", "--fail-fast", "--threads", "1")
    assert run.exit_code == 1
    assert run.statuses["a_broken"] == "error"
    others = [s for n, s in run.statuses.items() if n.startswith("z_other")]
    assert "success" not in others
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name like 'z_other%'") == [(0,)]


def test_debug_shows_traceback_default_does_not(project: Any, capsys: Any) -> None:
    project.write("models/m.sql", "select * from {{ ref('ghost') }}")
    code, out = _cli(project, capsys, "run")
    assert code == 2
    assert "which was not found" in out and "Traceback" not in out
    code, out = _cli(project, capsys, "run", "--debug")
    assert code == 2
    assert "Traceback (most recent call last)" in out


def test_log_format_json_one_object_per_line(project: Any, capsys: Any) -> None:
    project.write("models/m.sql", "select 1 as id")
    code, out = _cli(project, capsys, "run", "--log-format", "json")
    assert code == 0
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) > 3
    objs = [json.loads(line) for line in lines]
    assert all(set(o) >= {"info", "data"} for o in objs)
    msgs = [o["info"]["msg"] for o in objs]
    assert any(m.startswith("Done. PASS=1") for m in msgs)
    assert any(o["info"]["name"] == "NodeFinished" for o in objs)


def test_select_nonexistent_is_nothing_to_do_exit_0(project: Any) -> None:
    project.write("models/m.sql", "select 1 as id")
    run = project.dvt("run", "-s", "nonexistent")
    assert run.exit_code == 0
    assert "The selection criterion 'nonexistent' does not match any enabled nodes" in run.output
    assert "Nothing to do" in run.output
    results = json.loads((project.root / "target" / "run_results.json").read_text())
    assert results["results"] == []


# -- commands ----------------------------------------------------------------------------


def _small_project(project: Any) -> None:
    project.write("seeds/raw.csv", "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n7,g\n")
    project.write("models/staging/stg.sql", "select id, name from {{ ref('raw') }}")
    project.write("models/marts/final.sql", "{{ config(materialized='table') }}\n"
                                            "select * from {{ ref('stg') }}")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: final
            columns:
              - name: id
                tests: [unique, not_null]
        sources:
          - name: ext
            tables: [{name: t1}, {name: t2}]
    """)


def test_parse_counts_line(project: Any) -> None:
    _small_project(project)
    run = project.dvt("parse")
    assert run.exit_code == 0, run.output
    assert "Found 2 models, 1 seed, 2 data tests, 2 sources," in run.output
    assert run.output.split("Found ")[1].split("\n")[0].endswith(" macros")
    assert (project.root / "target" / "manifest.json").is_file()


def test_list_outputs_and_resource_types(project: Any) -> None:
    _small_project(project)
    run = project.dvt("ls", "-q")
    assert run.output.splitlines() == [
        "proj.marts.final", "proj.staging.stg", "proj.raw", "source:proj.ext.t1",
        "source:proj.ext.t2", "proj.not_null_final_id", "proj.unique_final_id"]
    run = project.dvt("ls", "-q", "--output", "name", "--resource-type", "model")
    assert run.output.splitlines() == ["final", "stg"]
    run = project.dvt("ls", "-q", "--output", "path", "-s", "stg")
    assert run.output.splitlines() == ["models/staging/stg.sql"]
    for rtype, n in (("model", 2), ("seed", 1), ("source", 2), ("test", 2)):
        run = project.dvt("ls", "-q", "--resource-type", rtype)
        assert len(run.output.splitlines()) == n, (rtype, run.output)
    run = project.dvt("ls", "-q", "--output", "json", "-s", "final")
    rows = [json.loads(line) for line in run.output.splitlines()]
    assert rows[0]["unique_id"] == "model.proj.final"
    assert rows[0]["config"]["materialized"] == "table"
    assert rows[0]["depends_on"]["nodes"] == ["model.proj.stg"]
    assert rows[0]["original_file_path"] == "models/marts/final.sql"
    # dbt's ListTask.ALLOWED_KEYS, in the manifest's order, then DVT's plan (planner.py)
    assert list(rows[0]) == ["name", "resource_type", "package_name", "original_file_path",
                             "unique_id", "alias", "config", "tags", "depends_on",
                             "target", "execution"]
    assert (rows[0]["target"], rows[0]["execution"]) == ("dev", "pushdown")
    assert list(rows[0]["config"])[:8] == ["enabled", "alias", "schema", "database", "tags",
                                           "meta", "group", "materialized"]
    run = project.dvt("ls", "-q", "--output", "json", "--resource-type", "source")
    src = json.loads(run.output.splitlines()[0])
    assert set(src) == {"name", "resource_type", "package_name", "original_file_path",
                        "unique_id", "source_name", "tags", "config", "connection"}
    assert src["connection"] == "dev"  # DVT: the output it is read from (the default here)
    run = project.dvt("ls", "-q", "--output", "json", "--output-keys", "name unique_id",
                      "-s", "stg")
    assert json.loads(run.output) == {"name": "stg", "unique_id": "model.proj.stg"}


def test_list_default_has_log_lines_unless_quiet(project: Any) -> None:
    _small_project(project)
    run = project.dvt("ls", "--resource-type", "seed")
    assert "proj.raw" in run.output.splitlines()


def test_compile_writes_files_and_prints_one_node(project: Any) -> None:
    _small_project(project)
    run = project.dvt("compile", "-s", "final")
    assert run.exit_code == 0, run.output
    assert "Compiled node 'final' is:" in run.output
    assert 'select * from "dev"."main"."stg"' in run.output
    path = project.root / "target" / "compiled" / "proj" / "models" / "marts" / "final.sql"
    assert path.read_text().strip() == 'select * from "dev"."main"."stg"'
    run = project.dvt("compile")
    assert run.exit_code == 0
    assert (project.root / "target" / "compiled" / "proj" / "models" / "staging" /
            "stg.sql").is_file()
    test_sql = (project.root / "target" / "compiled" / "proj" / "models" / "schema.yml" /
                "unique_final_id.sql")
    assert test_sql.is_file()


def test_compile_inline(project: Any) -> None:
    _small_project(project)
    run = project.dvt("compile", "--inline", "select * from {{ ref('stg') }} limit 1")
    assert run.exit_code == 0, run.output
    assert "Compiled inline node is:" in run.output
    assert 'select * from "dev"."main"."stg" limit 1' in run.output


def test_show_default_limit_inline_and_json(project: Any) -> None:
    _small_project(project)
    assert project.dvt("seed").exit_code == 0
    assert project.dvt("run").exit_code == 0
    run = project.dvt("show", "-s", "final")
    assert run.exit_code == 0, run.output
    assert "Previewing node 'final':" in run.output
    table = [line for line in run.output.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 5  # header, separator, 5 rows (default --limit)
    run = project.dvt("show", "--inline", "select id from {{ ref('final') }} order by id",
                      "--limit", "2", "--output", "json", "-q")
    assert json.loads(run.output) == {"show": [{"id": 1}, {"id": 2}]}
    run = project.dvt("show", "-s", "stg", "--output", "json", "-q", "--limit", "1")
    assert json.loads(run.output) == {"node": "stg", "show": [{"id": 1, "name": "a"}]}


def test_show_does_not_run_tests(project: Any) -> None:
    _small_project(project)
    assert project.dvt("seed").exit_code == 0
    assert project.dvt("run").exit_code == 0
    run = project.dvt("show", "-s", "final", "--output", "json", "-q")
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["node"] == "final"
    assert "show previews one node" not in run.output


def test_a_reader_that_leaves_does_not_stop_the_run(project: Any) -> None:
    """`dvt run | head -1`: the pipe breaks after the first line; every model is still
    built and logs/dvt.log has the whole run."""
    from dvt_engine.cli import run_command
    from dvt_engine.reporting import ConsolePrinter

    class Head:
        lines = 0

        def write(self, text: str) -> None:
            self.lines += 1
            if self.lines > 1:
                raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

    for name in ("a", "b", "c"):
        project.write(f"models/{name}.sql", "select 1 as id")
    argv = ["run", "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    result = run_command(argv, subscriber=ConsolePrinter(Head()))  # type: ignore[arg-type]
    assert result.exit_code == 0 and len(result.results) == 3
    log = (project.root / "logs" / "dvt.log").read_text()
    assert "Done. PASS=3" in log


def test_flags_not_supported_yet_are_said_aloud(project: Any) -> None:
    """--defer, --favor-state, --empty and --state (outside clone) are not acted on yet:
    the run says so instead of ignoring them quietly."""
    project.write("models/m.sql", "select 1 as id")
    run = project.dvt("run", "--defer", "--state", "prod", "--empty")
    assert run.exit_code == 0, run.output
    for flag in ("--defer", "--state", "--empty"):
        assert f"{flag} is not supported yet: dvt run runs without it" in run.output
    assert "not supported yet" not in project.dvt("run").output
