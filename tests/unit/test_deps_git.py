"""deps with `git:` packages, as dbt 1.10 installs them: cloned, checked out at the
revision, the subdirectory copied in, package-lock.yml pinning the commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from dvt_engine.commands.deps import lock_hash


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c",
                           "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose package lives in sub/: tag v1 triples, main triples by 33."""
    repo = tmp_path / "gitpkg"
    (repo / "sub/macros").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "sub/dbt_project.yml").write_text("name: gpkg\nversion: '1.0'\n")
    (repo / "sub/macros/t.sql").write_text("{% macro triple(x) %}({{ x }} * 3){% endmacro %}")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    _git(repo, "tag", "v1")
    (repo / "sub/macros/t.sql").write_text("{% macro triple(x) %}({{ x }} * 33){% endmacro %}")
    _git(repo, "commit", "-qam", "two")
    return repo


def test_git_package_at_a_tag_in_a_subdirectory(project, repo: Path) -> None:
    project.write("packages.yml", f"packages:\n  - git: {repo}\n    revision: v1\n"
                                  "    subdirectory: sub\n")
    project.write("models/m.sql", "select {{ gpkg.triple(2) }} as x")
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    v1 = _git(repo, "rev-parse", "v1")
    assert f"Installing {repo}/sub" in run.output
    assert f"Installed from revision {v1}" in run.output and "and subdirectory sub" in run.output
    lock = yaml.safe_load((project.root / "package-lock.yml").read_text())
    assert lock["packages"] == [{"git": str(repo), "name": "gpkg", "revision": v1,
                                 "subdirectory": "sub"}]
    assert not (project.root / "dvt_packages/gpkg/.git").exists()
    assert project.dvt("run").exit_code == 0
    assert project.query("select x from m") == [(6,)]


def test_unpinned_git_package_warns_and_a_bad_revision_fails(project, repo: Path) -> None:
    project.write("packages.yml", f"packages:\n  - git: {repo}\n    subdirectory: sub\n")
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    assert f'The git package "{repo}" is not pinned' in run.output
    project.write("packages.yml", f"packages:\n  - git: {repo}\n    revision: nope\n"
                                  "    subdirectory: sub\n")
    failed = project.dvt("deps")
    assert failed.exit_code == 1
    assert "git checkout failed" in failed.output and "'nope'" in failed.output


def test_git_lock_hash_is_dbts() -> None:
    """Recorded from dbt 1.10.9's `dbt deps` for this packages.yml entry."""
    spec = {"git": "/tmp/gitpkg", "revision": "v1", "subdirectory": "sub"}
    assert lock_hash([spec], [dict(spec)]) == "27841e371ce6a6957297c3f6193834d86172cc36"
