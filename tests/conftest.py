"""Shared fixtures: small projects written into tmp dirs and run in-process."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dvt_engine.cli import run_command
from dvt_engine.reporting import ConsolePrinter

DEFAULT_PROJECT = """
name: proj
profile: proj
"""

DEFAULT_PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      threads: 1
"""


@dataclass
class Run:
    result: Any
    output: str

    @property
    def exit_code(self) -> int:
        return int(self.result.exit_code)

    @property
    def statuses(self) -> dict[str, str]:
        return {r.node.name: r.status for r in self.result.results if r.node is not None}


class Project:
    """A dbt project on disk with a DuckDB profile; `dvt(...)` runs a command in-process."""

    def __init__(self, root: Path, db_file: str = "dev.duckdb") -> None:
        self.root = root
        self.db_file = db_file

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def dvt(self, *args: str) -> Run:
        out = io.StringIO()
        printer = ConsolePrinter(out, timestamps=False, debug="--debug" in args)
        argv = [*args, "--project-dir", str(self.root)]
        if "--profiles-dir" not in args:
            argv += ["--profiles-dir", str(self.root)]
        result = run_command(argv, subscriber=printer)
        return Run(result, out.getvalue())

    @property
    def db_path(self) -> Path:
        return self.root / self.db_file

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        con = duckdb.connect(str(self.db_path))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "proj")
    p.root.mkdir()
    p.write("dbt_project.yml", DEFAULT_PROJECT)
    p.write("profiles.yml", DEFAULT_PROFILES)
    return p
