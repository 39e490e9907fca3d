"""A real Jupyter server (JupyterLab 4 or Notebook 7) and a headless Debian Chromium, for
tests that look at the page.

Tests that use `jupyter_server` run once per front end in FRONT_ENDS (the `front_end`
fixture). Everything runs on a temp copy of examples/ with its own Jupyter config, settings and
runtime dirs, so neither the repository nor the user's Jupyter setup is touched. Both the
server and the browser are stopped by fixture finalizers, whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling Google's hosts, which this
# machine's closed network refuses (see the env notes); --headless is Playwright's.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT = 30.0

# JupyterLab user settings (Notebook 7 reads the same files: it is built from Lab's
# plugins and takes JUPYTERLAB_SETTINGS_DIR too): no news/update fetches (no network here) and every cell kept
# in the DOM (the default windowing may drop off-screen cells, which the test reads).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}




@dataclass(frozen=True)
class FrontEnd:
    """What differs between the front ends: the server module, where a notebook is served,
    how the page says its kernel is ready, and where the screenshot goes."""

    name: str  # the test id
    module: str  # run as `python -m <module>`
    notebook_url: str  # path of a notebook under the server root, {path} filled in
    kernel_ready: str  # CSS selector of an element present once the kernel is ready
    kernel_ready_text: re.Pattern[str] | None  # ...and the text it must have, if any
    screenshot: str  # file name under tmp_path
    shared_screenshot: Path  # a copy outside pytest's tmp dirs, to look at after the run


JUPYTERLAB = FrontEnd(
    name="jupyterlab", module="jupyterlab", notebook_url="/lab/tree/{path}",
    # The status bar says "| Idle" once the kernel is up: the toolbar indicator's
    # data-status turns "idle" while the kernel is still "Initializing", and a Run All
    # issued then is dropped.
    kernel_ready=".jp-StatusBar-TextItem", kernel_ready_text=re.compile(r"\| Idle$"),
    screenshot="jupyterlab.png", shared_screenshot=Path("/tmp/dvt_browser.png"))
NOTEBOOK7 = FrontEnd(
    name="notebook7", module="notebook", notebook_url="/notebooks/{path}",
    # Notebook 7 has no status bar text: its top-bar kernel status widget gets its classes
    # on the first status change, shows "Kernel Initializing"/"Connecting" with -info,
    # then is emptied and keeps only -fade once the kernel is idle or busy. (The toolbar
    # indicator has Lab's early-"idle" problem here too.)
    kernel_ready=(".jp-NotebookKernelStatus.jp-NotebookKernelStatus-fade"
                  ":not(.jp-NotebookKernelStatus-info)"),
    kernel_ready_text=None,
    screenshot="notebook7.png", shared_screenshot=Path("/tmp/dvt_browser_nb7.png"))
FRONT_ENDS = (JUPYTERLAB, NOTEBOOK7)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab / Notebook 7 in headless Chromium "
                   "(scripts/setup_browser.sh)")


def lab_python() -> Path:
    """The venv's python: the server's default kernel is the interpreter that runs it."""
    venv = REPO / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def missing_tools() -> str | None:
    """Why the browser tests can't run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (run scripts/setup_browser.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package playwright not installed (run scripts/setup_browser.sh)"
    probe = subprocess.run(
        [str(lab_python()), "-c",
         "import jupyterlab, notebook, jupyterlab_widgets, ipywidgets; "
         "assert int(notebook.__version__.split('.')[0]) >= 7, notebook.__version__"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"jupyterlab / notebook>=7 / jupyterlab_widgets / ipywidgets missing in "
                f"{lab_python()} (run scripts/setup_browser.sh): {probe.stderr.strip()[-200:]}")
    return None


@pytest.fixture(scope="session")
def browser_tools() -> None:
    reason = missing_tools()
    if reason:
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_examples(dest: Path) -> Path:
    """examples/demo and examples/notebooks, with the notebooks' saved outputs removed.

    The front ends re-render saved widget state on open, so a notebook committed with
    outputs would show a finished run graph before any cell ran: stripping them means
    whatever graph the test sees was drawn live from the kernel.
    """
    skip = shutil.ignore_patterns("target", "logs", "*.duckdb*", ".ipynb_checkpoints")
    for name in ("demo", "notebooks"):
        shutil.copytree(REPO / "examples" / name, dest / name, ignore=skip)
    for nb_path in (dest / "notebooks").glob("*.ipynb"):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        nb.get("metadata", {}).pop("widgets", None)
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        nb_path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return dest


def isolated_env(home: Path) -> dict[str, str]:
    """Jupyter and IPython dirs under `home`: no user config or workspace leaks in or out."""
    env = dict(os.environ)
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython"}
    for var, sub in dirs.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    for rel, value in LAB_SETTINGS.items():
        path = home / "settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PATH"] = f"{lab_python().parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("JUPYTER_PATH", None)
    return env


@dataclass
class JupyterServer:
    front_end: FrontEnd
    url: str
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.front_end.name} server exited with "
                                   f"{self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                self.api("/api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        raise TimeoutError(f"{self.front_end.name} did not answer on {self.url} within {timeout:.0f}s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        """Shut kernels down through the API (they run in sessions of their own), then
        the server; kill its process group if it doesn't go."""
        if self.proc.poll() is None:
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                self.api("/api/shutdown", method="POST", timeout=10)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()


@pytest.fixture(params=FRONT_ENDS, ids=lambda fe: fe.name)
def front_end(request: pytest.FixtureRequest) -> FrontEnd:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def jupyter_server(browser_tools: None, front_end: FrontEnd,
                   tmp_path: Path) -> Iterator[JupyterServer]:
    root = copy_examples(tmp_path / "examples")
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / f"{front_end.name}.log"
    cmd = [
        str(lab_python()), "-m", front_end.module, "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        # no PyPI look-ups from the extension manager: this network is closed (Notebook 7
        # loads the jupyterlab server extension too, so this applies to both)
        "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        # a safety net if this process dies before the finalizer runs
        "--ServerApp.shutdown_no_activity_timeout=600",
    ]
    if os.geteuid() == 0:  # CI containers run as root; Jupyter refuses that by default
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=root,
                                env=isolated_env(tmp_path / "jupyter-home"),
                                start_new_session=True)
    server = JupyterServer(front_end, f"http://127.0.0.1:{port}", token, root, log, proc)
    try:
        server.wait_ready(SERVER_START_TIMEOUT)
        yield server
    finally:
        server.stop()


@dataclass
class BrowserPage:
    page: Any  # playwright.sync_api.Page (imported lazily: the package may be missing)
    console: list[str]


@pytest.fixture
def browser(browser_tools: None, tmp_path: Path) -> Iterator[BrowserPage]:
    """A Playwright page in headless /usr/bin/chromium with a fresh profile.

    Console errors and warnings are kept for failure messages: a widget manager that
    can't load its modules shows up there first.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1600, "height": 1000})
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            messages: list[str] = []
            pg.on("console", lambda m: messages.append(f"{m.type}: {m.text}")
                  if m.type in ("error", "warning") else None)
            pg.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            yield BrowserPage(pg, messages)
        finally:
            context.close()
