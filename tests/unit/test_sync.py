"""`dvt sync` and the PostgreSQL JDBC driver: planned for a postgres output that Spark reads
(federation), never for a profile without Spark. The jar's path is moved with
DVT_POSTGRES_JDBC_JAR so the test controls whether it is "installed"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Project

FEDERATED_PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
    pg:
      type: postgres
      host: 127.0.0.1
      port: 1
      user: nobody
      password: pw-sync-never-shown
      dbname: nowhere
      schema: public
"""


def test_sync_dry_run_plans_the_jdbc_driver_when_the_jar_is_missing(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("profiles.yml", FEDERATED_PROFILES)
    missing = tmp_path / "nowhere" / "postgresql.jar"
    monkeypatch.setenv("DVT_POSTGRES_JDBC_JAR", str(missing))
    run = project.dvt("sync", "--dry-run")
    assert re.search(rf"^\s+libpostgresql-jdbc-java \(apt\)\s+missing \({re.escape(str(missing))}\)"
                     r"\s+\[postgres JDBC driver for federation\]", run.output, re.M), run.output
    assert re.search(r"Dry run: would run .*apt-get install -y libpostgresql-jdbc-java",
                     run.output), run.output
    assert "Still missing (optional; federation reads through Arrow without it): " \
           "libpostgresql-jdbc-java" in run.output
    assert run.result.details["system_missing"] == ["libpostgresql-jdbc-java"]
    assert "pw-sync-never-shown" not in run.output
    assert not missing.exists()  # a dry run installs nothing

    # the jar in place: reported present, nothing planned
    missing.parent.mkdir()
    missing.write_bytes(b"PK")
    run = project.dvt("sync", "--dry-run")
    assert re.search(r"^\s+libpostgresql-jdbc-java \(apt\)\s+present", run.output, re.M)
    assert "apt-get" not in run.output
    assert run.result.details["system_missing"] == []


def test_sync_without_spark_does_not_plan_jdbc(project: Project, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # one postgres output alone: everything is pushed down, no Spark, no JDBC driver
    project.write("profiles.yml", FEDERATED_PROFILES.replace("target: dev", "target: pg")
                  .split("    dev:")[0] + "    pg:" + FEDERATED_PROFILES.split("    pg:")[1])
    monkeypatch.setenv("DVT_POSTGRES_JDBC_JAR", str(tmp_path / "missing.jar"))
    run = project.dvt("sync", "--dry-run")
    assert "(postgres)" in run.output, run.output
    assert "libpostgresql-jdbc-java" not in run.output
    assert run.result.details["system_missing"] == []
