"""deps with hub packages (`package:` + `version:`), against a hub stand-in on 127.0.0.1
that serves the hub's JSON API and tarballs (DBT_PACKAGE_HUB_URL points dvt at it)."""

from __future__ import annotations

import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml
from dvt_engine.commands.deps import lock_hash


def _tarball(root: Path, folder: str, project: str, macro: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in ((f"{folder}/dbt_project.yml", f"name: {project}\n"),
                           (f"{folder}/macros/m.sql", macro)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (root / "tarballs").mkdir(exist_ok=True)
    (root / "tarballs" / f"{folder}.tar.gz").write_bytes(buf.getvalue())


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """helpers 0.9.0, 1.0.0, 1.2.0 (needs base >= 0.1), 1.3.0b1 and 2.0.0; base 0.1.0."""
    root = tmp_path / "hub"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    api = root / "api/v1/dvt-test"
    api.mkdir(parents=True)
    helpers = {}
    for v in ("0.9.0", "1.0.0", "1.2.0", "1.3.0b1", "2.0.0"):
        _tarball(root, f"helpers-{v}", "helpers",
                 f"{{% macro version() %}}'{v}'{{% endmacro %}}")
        helpers[v] = {"name": "helpers", "version": v,
                      "downloads": {"tarball": f"{url}tarballs/helpers-{v}.tar.gz"},
                      "packages": [{"package": "dvt-test/base", "version": [">=0.1.0"]}]
                      if v == "1.2.0" else []}
    _tarball(root, "base-0.1.0", "base", "{% macro one() %}1{% endmacro %}")
    base = {"0.1.0": {"name": "base", "version": "0.1.0", "packages": [],
                      "downloads": {"tarball": f"{url}tarballs/base-0.1.0.tar.gz"}}}
    (api / "helpers.json").write_text(json.dumps({"name": "helpers", "versions": helpers}))
    (api / "base.json").write_text(json.dumps({"name": "base", "versions": base}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DBT_PACKAGE_HUB_URL", url)
    yield url
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_hub_package_resolves_the_newest_allowed_version_and_its_dependencies(
        project, hub: str) -> None:
    project.write("packages.yml", "packages:\n  - package: dvt-test/helpers\n"
                                  "    version: ['>=1.0.0', '<2.0.0']\n")
    project.write("models/m.sql", "select {{ helpers.version() }} as v, {{ base.one() }} as o")
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    assert "Installing dvt-test/helpers" in run.output
    assert "Installed from version 1.2.0" in run.output  # not 1.3.0b1, not 2.0.0
    assert "Installed from version 0.1.0" in run.output  # base, which 1.2.0 needs
    lock = yaml.safe_load((project.root / "package-lock.yml").read_text())
    assert lock["packages"] == [
        {"package": "dvt-test/helpers", "version": "1.2.0", "name": "helpers"},
        {"package": "dvt-test/base", "version": "0.1.0", "name": "base"}]
    # dbt 1.10.9's sha1_hash for this packages.yml entry
    assert lock["sha1_hash"] == "315cd61572fc49b1828f8c960eb23e319172abd9"
    assert project.dvt("run").exit_code == 0
    assert project.query("select v, o from m") == [("1.2.0", 1)]


def test_hub_prerelease_only_when_asked_and_no_match_names_the_package(
        project, hub: str) -> None:
    project.write("packages.yml", "packages:\n  - package: dvt-test/helpers\n"
                                  "    version: '>=1.2.1'\n    install-prerelease: true\n")
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    assert "Installed from version 2.0.0" in run.output
    project.write("packages.yml", "packages:\n  - package: dvt-test/helpers\n"
                                  "    version: ['>=3.0.0']\n")
    failed = project.dvt("deps")
    assert failed.exit_code == 1
    assert "Could not find a matching compatible version for package dvt-test/helpers" in \
        failed.output


def test_hub_lock_hash_recipe() -> None:
    spec = {"package": "dvt-test/helpers", "version": [">=1.0.0", "<2.0.0"]}
    assert lock_hash([spec], [dict(spec)]) == "315cd61572fc49b1828f8c960eb23e319172abd9"


def test_an_up_to_date_lock_is_what_gets_installed(project, hub: str, tmp_path: Path) -> None:
    """package-lock.yml pins 1.0.0 for packages.yml's range: deps installs 1.0.0 (not the
    newer 1.2.0) until packages.yml changes, as dbt does."""
    spec = "packages:\n  - package: dvt-test/helpers\n    version: ['>=1.0.0', '<2.0.0']\n"
    project.write("packages.yml", spec)
    project.write("package-lock.yml", yaml.safe_dump({
        "packages": [{"package": "dvt-test/helpers", "version": "1.0.0", "name": "helpers"}],
        "sha1_hash": "315cd61572fc49b1828f8c960eb23e319172abd9"}))
    run = project.dvt("deps")
    assert run.exit_code == 0, run.output
    assert "Installed from version 1.0.0" in run.output and "base" not in run.output
    assert "Updating lock file" not in run.output
    project.write("packages.yml", spec + "  - package: dvt-test/base\n    version: 0.1.0\n")
    again = project.dvt("deps")
    assert "Updating lock file" in again.output and "Installed from version 1.2.0" in again.output
