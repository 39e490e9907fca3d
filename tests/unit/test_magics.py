"""The magics through a real IPython InteractiveShell (terminal mode: CLI lines)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from IPython.testing.globalipapp import start_ipython

from dvt_jupyter.results import RunResults


@pytest.fixture
def ip(project, monkeypatch):
    project.write("seeds/raw.csv", "id,amount\n1,10\n2,20\n3,30\n")
    project.write("models/orders.sql", "select id, amount from {{ ref('raw') }}")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: orders
            columns:
              - name: id
                tests: [unique]
    """)
    monkeypatch.chdir(project.root)  # the project is found from the notebook's folder
    shell = start_ipython() or __import__("IPython").get_ipython()
    shell.run_line_magic("load_ext", "dvt_jupyter")
    yield shell
    shell.run_line_magic("unload_ext", "dvt_jupyter")


def test_build_returns_results(ip, capsys):
    result = ip.run_line_magic("dvt", "build")
    assert isinstance(result, RunResults)
    assert bool(result) is True
    assert repr(result) == "RunResults(PASS=3 WARN=0 ERROR=0 SKIP=0)"
    frame = result.to_pandas()
    assert set(frame["name"]) == {"raw", "orders", "unique_orders_id"}
    assert "Done. PASS=3" in capsys.readouterr().out


def test_show_returns_dataframe(ip, capsys):
    ip.run_line_magic("dvt", "seed")
    ip.run_line_magic("dvt", "run")
    capsys.readouterr()
    df = ip.run_line_magic("dvt", "show -s orders --limit 2")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["id", "amount"]
    assert len(df) == 2
    # the preview says how many rows, that the limit cut them, and the types
    assert "2 rows, limited to 2: id int32, amount int32" in capsys.readouterr().out


def test_failure_is_falsy_and_raise_flag(ip, project):
    ip.run_line_magic("dvt", "seed")
    project.write("models/broken.sql", "select no_such_column from {{ ref('raw') }}")
    result = ip.run_line_magic("dvt", "run -s broken")
    assert not result
    assert result.counts["ERROR"] == 1
    assert "no_such_column" in result["broken"].message
    from dvt_jupyter.magics import CommandFailed

    with pytest.raises(CommandFailed):
        ip.run_line_magic("config", "Dvt.raise_on_failure = True")
        ip.run_line_magic("dvt", "run -s broken")
    ip.run_line_magic("config", "Dvt.raise_on_failure = False")


def test_argument_error_is_short(ip, capsys):
    assert ip.run_line_magic("dvt", "run --bogus") is None
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err
    assert "Traceback" not in err


def test_cell_model_overrides_and_saves(ip, project, capsys):
    ip.run_line_magic("dvt", "seed")
    ip.run_cell_magic("dvt_model", "orders --materialized table",
                      "select id, amount * 2 as amount from {{ ref('raw') }}")
    out = capsys.readouterr().out
    assert "replaces models/orders.sql for this session only" in out
    # the file on disk is untouched until --save
    assert "amount * 2" not in (project.root / "models/orders.sql").read_text()
    ip.run_line_magic("dvt", "run -s orders")
    assert project.query("select sum(amount) from orders") == [(120,)]
    ip.run_cell_magic("dvt_model", "top --save", "select max(amount) as m from {{ ref('orders') }}")
    saved = project.root / "models/top.sql"
    assert saved.read_text().strip() == "select max(amount) as m from {{ ref('orders') }}"
    # the project then runs the same from the CLI
    run = project.dvt("run", "-s", "top")
    assert run.exit_code == 0, run.output


def test_cell_model_error_keeps_session_usable(ip, capsys):
    ip.run_cell_magic("dvt_model", "bad", "select * from {{ ref('missing_model') }}")
    err = capsys.readouterr().err
    assert "missing_model" in err and "which was not found" in err
    result = ip.run_line_magic("dvt", "build")
    assert result, "the broken cell must not stay in the session"


def test_sql_cell_returns_dataframe(ip):
    ip.run_line_magic("dvt", "seed")
    df = ip.run_cell_magic("dvt_sql", "--limit 2", "select * from {{ ref('raw') }} order by id")
    assert df["id"].tolist() == [1, 2]


def test_reparse_after_file_edit(ip, project):
    ip.run_line_magic("dvt", "seed")
    ip.run_line_magic("dvt", "run")
    names = ip.run_line_magic("dvt", "ls --resource-type model --output name")
    assert names == ["orders"]
    project.write("models/extra.sql", "select 1 as x")
    # mtime resolution: make the change visible even within the same second
    os.utime(project.root / "models", None)
    names = ip.run_line_magic("dvt", "ls --resource-type model --output name")
    assert sorted(names) == ["extra", "orders"]


def test_reload_ext_does_not_duplicate_output(ip, capsys):
    ip.run_line_magic("reload_ext", "dvt_jupyter")
    ip.run_line_magic("dvt", "seed")
    out = capsys.readouterr().out
    assert out.count("Done. PASS=1") == 1


def test_project_magic_reports_targets(ip, project, capsys):
    ip.run_line_magic("dvt", f"project {project.root} --profiles-dir {project.root}")
    out = capsys.readouterr().out
    assert "project proj:" in out and "dev (duckdb, default)" in out


def test_load_is_fast_and_lazy():
    import subprocess
    import sys

    code = ("import time,sys; t=time.perf_counter(); import dvt_jupyter; "
            "from dvt_jupyter import magics; "
            "print('duckdb' in sys.modules, 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"], "loading the extension must not import database drivers"


def test_dag_text_form(ip, capsys):
    ip.run_line_magic("dvt", "dag")
    assert "DAG(nodes=2, edges=1)" in capsys.readouterr().out
    assert Path.cwd().name == "proj"


def test_reparse_renders_only_changed_files(project):
    """A long-lived session re-renders only the files that changed since the last parse."""
    from dvt_engine.session import Session

    for name in ("a", "b", "c"):
        project.write(f"models/{name}.sql",
                      "{% if true %}select 1 as id{% endif %}")  # needs Jinja to parse
    session = Session(project.root, profiles_dir=str(project.root))
    session.parse()
    rendered: list[str] = []
    real_render = session.compiler.render

    def counting(source, state, path, extra=None):
        rendered.append(path)
        return real_render(source, state, path, extra)

    import dvt_engine.jinja.context as context

    original = context.Compiler.render
    context.Compiler.render = lambda self, *a, **k: counting(*a, **k)  # type: ignore[method-assign]
    try:
        project.write("models/b.sql", "{% if true %}select 2 as id{% endif %}")
        os.utime(project.root / "models" / "b.sql", (1, 1))  # a different mtime for sure
        manifest = session.parse()
    finally:
        context.Compiler.render = original  # type: ignore[method-assign]
    assert rendered == ["models/b.sql"]
    assert "select 2" in manifest.nodes["model.proj.b"].raw_code


def test_full_refresh_does_not_stick_to_the_next_command(ip, project):
    """`%dvt run --full-refresh`, then `%dvt show` of an incremental model: the show
    renders is_incremental() as true (the flag lasted one command)."""
    project.write("models/inc.sql", """
        {{ config(materialized='incremental') }}
        select id, '{{ "inc" if is_incremental() else "full" }}' as mode from {{ ref('raw') }}
    """)
    ip.run_line_magic("dvt", "seed")
    assert ip.run_line_magic("dvt", "run --full-refresh")
    df = ip.run_line_magic("dvt", "show -s inc --limit 1")
    assert df["mode"].tolist() == ["inc"]


def test_compile_and_ls_return_their_answer_once(ip, capsys):
    from IPython.lib.pretty import pretty

    capsys.readouterr()
    sql = ip.run_line_magic("dvt", "compile -s orders")
    out = capsys.readouterr().out
    assert sql.startswith("select id, amount from")
    # shown as SQL, not as an escaped Python string, and not printed besides
    assert pretty(sql) == sql and repr(sql) == sql
    assert sql not in out
    names = ip.run_line_magic("dvt", "ls --resource-type model")
    assert names == ["orders"]
    assert "proj.orders" not in capsys.readouterr().out
