"""Fixtures for tests against a real PostgreSQL server that the test session starts.

One server per test process (under pytest-xdist each worker starts its own, on its own
port and dir: ~1 s each, simpler and sturdier than sharing one across processes); one fresh
database per test, so tests never see each other's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project
from tests.integration.databricks_server import DatabricksServer
from tests.integration.pgserver import (
    PASSWORD,
    PASSWORD_USER,
    PgServer,
    ServerUnavailable,
    start_server,
)
from tests.integration.snowflake_server import SnowflakeServer

# a password in profiles.yml that must never show up in any output (trust auth ignores it)
SECRET = "pw-never-shown-7d1f"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'dvt[postgres]')")
    try:
        server = start_server()
    except ServerUnavailable as exc:
        pytest.skip(f"no PostgreSQL server binaries: {exc}")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PgDatabase:
    server: PgServer
    dbname: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def user(self) -> str:
        return self.server.user

    def dsn(self) -> str:
        return self.server.dsn(self.dbname)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            cur = conn.execute(sql.encode())
            return cur.fetchall() if cur.description else []


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[PgDatabase]:
    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"'.encode())
    try:
        yield PgDatabase(pg_server, name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)'.encode())


PG_PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: postgres
      host: {host}
      port: {port}
      user: {user}
      password: {password}
      dbname: {dbname}
      schema: analytics
      threads: {threads}
"""


class PgProject(Project):
    """A dbt project whose profile targets the test's PostgreSQL database."""

    def __init__(self, root: Path, db: PgDatabase) -> None:
        super().__init__(root)
        self.db = db

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.db.query(sql)

    def write_profile(self, user: str | None = None, password: str = SECRET,
                      threads: int = 2) -> None:
        self.write("profiles.yml", PG_PROFILES.format(
            host=self.db.host, port=self.db.port, user=user or self.db.user,
            password=password, dbname=self.db.dbname, threads=threads))


@pytest.fixture
def pg_project(tmp_path: Path, pg_db: PgDatabase) -> PgProject:
    p = PgProject(tmp_path / "proj", pg_db)
    p.root.mkdir()
    p.write("dbt_project.yml", "name: proj\nprofile: proj\n")
    p.write_profile()
    return p


@pytest.fixture(scope="session")
def snowflake_server() -> Iterator[SnowflakeServer]:
    """fakesnow's HTTP server (the Snowflake stand-in) for the whole session."""
    from tests.integration import snowflake_server as sf

    why = sf.available()
    if why:
        pytest.skip(f"no Snowflake stand-in: {why}")
    try:
        server = sf.start_server()
    except sf.ServerUnavailable as exc:
        pytest.skip(f"the Snowflake stand-in did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def databricks_server() -> Iterator[DatabricksServer]:
    """Spark's Thrift server (the Databricks stand-in) for the whole session."""
    from tests.integration import databricks_server as dbx

    why = dbx.available()
    if why:
        pytest.skip(f"no Databricks stand-in: {why}")
    try:
        server = dbx.start_server()
    except dbx.ServerUnavailable as exc:
        pytest.skip(f"the Databricks stand-in did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


__all__ = ["PASSWORD", "PASSWORD_USER", "SECRET", "PgDatabase", "PgProject"]
