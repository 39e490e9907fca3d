"""The Python API: a long-lived Session's typed methods, and no option leaking from one
command to the next."""

from __future__ import annotations

import pyarrow as pa
import pytest
from dvt_engine.options import Options
from dvt_engine.results import CompileResult, ListResult, RunResult, ShowResult
from dvt_engine.session import Session

PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      threads: 2
    other:
      type: duckdb
      path: other.duckdb
      threads: 1
"""

INCREMENTAL = """
{{ config(materialized='incremental') }}
select id,
  '{{ "inc" if is_incremental() else "full" }}' as mode,
  '{{ var("tag", "none") }}' as tag,
  '{{ flags.FULL_REFRESH }}' as full_refresh
from {{ ref('raw') }}
"""


@pytest.fixture
def session(project):
    project.write("profiles.yml", PROFILES)
    project.write("seeds/raw.csv", "id\n1\n2\n3\n")
    project.write("models/inc.sql", INCREMENTAL)
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: inc
            columns:
              - name: id
                tests:
                  - unique
                  - accepted_values:
                      values: [1, 2]
                      quote: false
                      config: {severity: warn}
    """)
    s = Session(project.root, profiles_dir=str(project.root))
    yield s
    s.close()


def _row(table: pa.Table) -> dict[str, object]:
    return table.to_pylist()[0]


def test_no_option_leaks_between_commands(session: Session, project) -> None:
    assert session.seed().success
    first = session.run(full_refresh=True, vars={"tag": "x"})
    assert isinstance(first, RunResult) and first.success
    assert project.query("select distinct mode, tag, full_refresh from inc") == \
        [("full", "x", "True")]

    # the bug this API fixes: --full-refresh of the previous command made show render
    # is_incremental() false; vars and flags of that command must be gone too
    shown = session.show(select=["inc"])
    assert isinstance(shown, ShowResult) and shown.node == "inc"
    assert _row(shown.table) == {"id": 1, "mode": "inc", "tag": "none",
                                 "full_refresh": "False"}

    compiled = session.compile(select=["inc"], vars={"tag": "y"})
    assert isinstance(compiled, CompileResult)
    assert "'inc' as mode" in compiled.sql and "'y' as tag" in compiled.sql
    again = session.compile(select=["inc"])
    assert "'none' as tag" in again.sql

    # --target for one command: the next one runs on the profile's default again
    elsewhere = session.run(select=["raw", "inc"], target="other")
    assert not elsewhere.success  # raw was never seeded on `other`: inc fails there
    assert session.run(select=["inc"]).success
    assert project.query("select count(*) from inc") == [(6,)]  # appended on dev
    assert session.manifest.nodes["model.proj.inc"].database == "dev"

    # --warn-error and --store-failures last one command
    strict = session.test(warn_error=True, store_failures=True)
    assert {r.node.name: r.status for r in strict.results if r.node} == {
        "unique_inc_id": "fail", "accepted_values_inc_id__False__1__2": "fail"}
    assert all(r.relation_name for r in strict.results)  # failures stored
    relaxed = session.test()
    assert {r.node.name: r.status for r in relaxed.results if r.node} == {
        "unique_inc_id": "fail", "accepted_values_inc_id__False__1__2": "warn"}
    assert not any(r.relation_name for r in relaxed.results)


def test_typed_results_of_each_command(session: Session) -> None:
    built = session.build()
    assert built.success and built.exit_code == 0
    assert {r.node.name for r in built.results if r.node} >= {"raw", "inc"}
    listed = session.list(resource_types=["model"], output="json")
    assert isinstance(listed, ListResult)
    assert listed.names == ["inc"] and listed.entries[0]["execution"] == "pushdown"
    assert session.query("select count(*) as n from {{ ref('inc') }}").table.to_pylist() == \
        [{"n": 3}]
    failed = session.query("select * from {{ ref('nope') }}")
    assert not failed.success and "nope" in str(failed.error)
    bad = session.invoke(["run", "--no-such-flag"])
    assert bad.exit_code == 2 and "no-such-flag" in str(bad.error)


def test_options_are_frozen_and_round_trip_through_run_results() -> None:
    options = Options(command="run", select=["a+", "b"], vars={"x": 1}, full_refresh=True)
    assert options.select == ("a+", "b")
    with pytest.raises(AttributeError):
        options.full_refresh = False  # type: ignore[misc]
    recorded = options.to_json()
    assert recorded["which"] == "run" and recorded["select"] == ["a+", "b"]
    assert Options.from_recorded(recorded) == options
