"""The quickstart notebook in a real JupyterLab 4 and Notebook 7: the run graph widgets
render and go live.

nbval checks the notebook's text; this checks what a user sees. The test runs once per
front end (conftest.FRONT_ENDS); only opening the notebook differs, the checks are shared. The notebook is opened
with its saved outputs stripped (see conftest.copy_examples), so every SVG node and the
progress bar on the page were drawn by the front end's widget manager from the kernel.
Run it alone with `.venv/bin/python -m pytest -m browser tests/browser -s`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:  # a missing package is the browser_tools fixture's skip, not an import error here
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]

if TYPE_CHECKING:  # fixtures' types only: conftest modules are not importable packages
    from tests.browser.conftest import BrowserPage, JupyterServer

NOTEBOOK = "notebooks/quickstart.ipynb"
BUILD_SOURCE = "%dvt build"
QUEUED, RUNNING, SUCCESS = "#d0d7de", "#58a6ff", "#2da44e"
FINAL_COLOURS = {SUCCESS, "#d4a72c", "#cf222e", "#8c959f"}  # success/pass, warn, error, skipped
MIN_BUILD_NODES = 20

KERNEL_TIMEOUT_MS = 30_000
MENU_TIMEOUT_MS = 10_000
START_TIMEOUT_MS = 5_000
RUN_ALL_ATTEMPTS = 2
RUN_TIMEOUT_MS = 45_000
SETTLE_TIMEOUT_MS = 5_000

# What the build cell shows, read from the DOM in one go (used for waits and for messages).
SNAPSHOT_JS = r"""
(cell) => {
  const out = cell.querySelector('.jp-OutputArea');
  const groups = [...cell.querySelectorAll('.jp-OutputArea svg g[data-node]')];
  const fills = {};
  for (const g of groups) {
    const f = (g.querySelector('rect') || {getAttribute: () => 'no rect'}).getAttribute('fill');
    fills[f] = (fills[f] || 0) + 1;
  }
  // ipywidgets 8 ProgressView: div.widget-hprogress > label.widget-label + .progress > .progress-bar
  const progress = cell.querySelector('.widget-hprogress, .widget-vprogress');
  const bar = progress && progress.querySelector('.progress-bar');
  const label = progress && progress.querySelector('.widget-label');
  return {
    svg: cell.querySelectorAll('.jp-OutputArea svg[id^="dvt"]').length,
    ids: groups.map(g => g.getAttribute('data-node')),
    fills: fills,
    bar_width: bar ? bar.style.width : null,
    bar_class: bar ? bar.className : null,
    label: label ? label.textContent : null,
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    busy_cells: [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
      .filter(p => p.textContent.includes('*')).length,
    text: out ? out.innerText.slice(0, 1500) : '',
  };
}
"""

# True once the build cell's widgets show a finished run (no queued/running node, full bar).
SETTLED_JS = ("(cell) => { const s = (" + SNAPSHOT_JS + ")(cell);"
              f" const left = (s.fills[{QUEUED!r}] || 0) + (s.fills[{RUNNING!r}] || 0);"
              " return s.ids.length > 0 && left === 0 && s.bar_width === '100%'; }")

# True once no cell is running or queued ([*]) and the build cell has its execution count.
FINISHED_JS = ("(cell) => { const s = (" + SNAPSHOT_JS + ")(cell);"
               r" return s.busy_cells === 0 && /\[\d+\]/.test(s.prompt); }")


def describe(snap: dict[str, Any], console: list[str], server: JupyterServer) -> str:
    """Everything needed to tell 'widget not rendered' from 'run went wrong'."""
    shown = {k: v for k, v in snap.items() if k != "ids"}
    shown["nodes"] = len(snap["ids"])
    return (f"build cell: {json.dumps(shown, indent=1)}\n"
            f"browser console (last 20):\n  " + "\n  ".join(console[-20:]) +
            f"\nserver log (tail):\n{server.log_tail(20)}")


def open_notebook(bp: BrowserPage, server: JupyterServer) -> None:
    """Open the notebook and wait for its kernel (accepting a kernel dialog if one shows).

    What "ready" looks like depends on the front end (FrontEnd.kernel_ready, see
    conftest). Waited for as attached, not visible: Notebook 7's element is empty.
    """
    page, fe = bp.page, server.front_end
    url = server.url + fe.notebook_url.format(path=NOTEBOOK)
    page.goto(f"{url}?token={server.token}", wait_until="domcontentloaded")
    ready = page.locator(fe.kernel_ready, has_text=fe.kernel_ready_text)
    dialog = page.locator(".jp-Dialog")
    ready.or_(dialog).first.wait_for(state="attached", timeout=KERNEL_TIMEOUT_MS)
    if dialog.count():
        # "Select Kernel": the default choice is the notebook's python3 (the venv's python)
        page.locator(".jp-Dialog .jp-mod-accept").click()
        ready.wait_for(state="attached", timeout=KERNEL_TIMEOUT_MS)


def run_all_cells(bp: BrowserPage, first_cell: Any) -> None:
    """Run > Run All Cells, as a user would; retried if no cell started.

    Both front ends have Lab's Lumino menu bar with this item. The menu item is disabled until the notebook is the current widget, and a click that
    lands while Lab is still settling can be lost, so: focus a cell, wait for the item to
    be enabled, and check that some cell got a prompt ([*] or [n]) before going on (a
    retry is printed: with the status bar wait above none was seen).
    """
    page = bp.page
    started = ("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    item = page.locator(".lm-Menu-item:not(.lm-mod-disabled)").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")))
    for attempt in range(RUN_ALL_ATTEMPTS):
        if attempt:
            print(f"Run All Cells: no cell started, try {attempt + 1}")
        first_cell.locator(".jp-InputArea-prompt").click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        item.click(timeout=MENU_TIMEOUT_MS)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(started, timeout=START_TIMEOUT_MS)
            return
        page.keyboard.press("Escape")  # close the menu if it is still open
    raise AssertionError(f"Run > Run All Cells started no cell in {RUN_ALL_ATTEMPTS} tries")


def save_screenshot(bp: BrowserPage, cell: Any, server: JupyterServer, tmp_path: Path) -> Path:
    fe = server.front_end
    cell.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    path = tmp_path / fe.screenshot
    bp.page.screenshot(path=str(path))
    shutil.copyfile(path, fe.shared_screenshot)
    print(f"\n{fe.name} screenshot: {path} (copied to {fe.shared_screenshot})")
    return path


@pytest.mark.browser
def test_quickstart_run_graph_renders_live(jupyter_server: JupyterServer, browser: BrowserPage,
                                            tmp_path: Path) -> None:
    page = browser.page
    open_notebook(browser, jupyter_server)
    cell = page.locator(".jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=BUILD_SOURCE))
    # the kernel can be idle before the notebook's cells are drawn
    with contextlib.suppress(PlaywrightTimeout):
        cell.first.wait_for(state="attached", timeout=KERNEL_TIMEOUT_MS)
    assert cell.count() == 1, f"no single code cell with {BUILD_SOURCE!r} in {NOTEBOOK}"
    handle = cell.element_handle()
    before = handle.evaluate(SNAPSHOT_JS)
    assert not before["ids"], "a run graph is on the page before any cell ran (saved state?)"

    run_all_cells(browser, page.locator(".jp-CodeCell").first)
    try:
        page.wait_for_function(FINISHED_JS, arg=handle, timeout=RUN_TIMEOUT_MS)
        # widget updates are comm messages; give the front end a moment to apply the last
        page.wait_for_function(SETTLED_JS, arg=handle, timeout=SETTLE_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # the assertions below say what is missing
    snap = handle.evaluate(SNAPSHOT_JS)
    save_screenshot(browser, cell, jupyter_server, tmp_path)
    why = describe(snap, browser.console, jupyter_server)

    assert snap["busy_cells"] == 0 and re.search(r"\[\d+\]", snap["prompt"]), \
        f"the notebook did not finish running within {RUN_TIMEOUT_MS // 1000}s\n{why}"
    assert snap["svg"] == 1 and snap["ids"], f"no SVG run graph rendered in the build cell\n{why}"
    ids = snap["ids"]
    assert len(ids) == len(set(ids)), f"duplicate data-node ids in the run graph\n{why}"
    assert len(ids) >= MIN_BUILD_NODES, f"{len(ids)} nodes, expected >= {MIN_BUILD_NODES}\n{why}"

    fills = snap["fills"]
    assert not fills.get(QUEUED) and not fills.get(RUNNING), \
        f"nodes left queued/running after the run\n{why}"
    assert set(fills) <= FINAL_COLOURS, f"unexpected node colours {set(fills) - FINAL_COLOURS}\n{why}"
    assert fills.get(SUCCESS), f"no node succeeded\n{why}"

    n = len(ids)
    assert snap["label"] == f"{n}/{n}", f"progress label is not {n}/{n}\n{why}"
    assert snap["bar_width"] == "100%", f"progress bar did not reach its max\n{why}"
