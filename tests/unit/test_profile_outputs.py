"""profiles.yml with several outputs: each is rendered when something uses it (issue 10).

dbt renders only the selected target; DVT also renders the outputs that nodes name
(`config(target=...)`, a source's `connection:`), and `debug --all-targets` all of them.
"""

from __future__ import annotations

import pytest

SECRET = "Sup3rSecretPassw0rd"
UNSET = "DVT_TEST_UNSET_REDSHIFT_PASSWORD"

PROFILES = f"""
    proj:
      target: dev
      outputs:
        dev: {{type: duckdb, path: dev.duckdb, threads: 1}}
        other: {{type: duckdb, path: other.duckdb}}
        redshift:
          type: redshift
          host: example.com
          user: analyst
          password: "{{{{ env_var('{UNSET}') }}}}"
        garbled:
          type: postgres
          password: "{SECRET}{{{{ nope( }}}}"
"""


@pytest.fixture
def multi(project, monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)
    project.write("profiles.yml", PROFILES)
    return project


def test_unused_output_with_unset_env_var_does_not_stop_commands(multi):
    multi.write("models/m.sql", "select 1 as id")
    multi.write("models/on_other.sql", "{{ config(target='other', materialized='table') }}\n"
                                        "select 2 as id")
    run = multi.dvt("run")
    assert run.exit_code == 0, run.output
    assert run.statuses == {"m": "success", "on_other": "success"}
    import duckdb

    with duckdb.connect(str(multi.root / "other.duckdb")) as con:
        assert con.execute("select id from on_other").fetchall() == [(2,)]


def test_a_used_output_names_itself_the_file_and_the_env_var(multi):
    multi.write("models/m.sql", "{{ config(target='redshift') }}\nselect 1 as id")
    run = multi.dvt("run")
    assert run.exit_code != 0, run.output
    assert "Could not render output 'redshift' of profile 'proj'" in run.output
    assert UNSET in run.output and str(multi.root / "profiles.yml") in run.output
    # a template under a secret key is never quoted: it may hold the secret itself
    multi.write("models/m.sql", "{{ config(target='garbled') }}\nselect 1 as id")
    run = multi.dvt("run")
    assert "Could not render output 'garbled'" in run.output, run.output
    assert "could not render `password`" in run.output
    assert SECRET not in run.output


def test_debug_checks_the_target_and_all_targets_checks_every_output(multi):
    run = multi.dvt("debug")
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    assert "  dev (duckdb): OK connection ok" in lines
    assert any(line.startswith("  not checked: other, redshift, garbled") for line in lines)
    run = multi.dvt("debug", "--all-targets")
    assert run.exit_code == 1, run.output
    lines = run.output.splitlines()
    assert "  other (duckdb): OK connection ok" in lines
    broken = [line for line in lines if line.startswith("  redshift (redshift): ERROR")]
    assert broken and UNSET in broken[0], run.output
    assert any(line.startswith("  garbled (postgres): ERROR") for line in lines)
    assert "2 checks failed:" in lines
    assert SECRET not in run.output
    # the selected target is what plain debug checks
    run = multi.dvt("debug", "--target", "redshift")
    assert run.exit_code == 1 and UNSET in run.output
