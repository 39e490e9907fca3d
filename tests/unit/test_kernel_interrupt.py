"""Jupyter's "interrupt kernel" during `%dvt run`, in a real IPython kernel: the running
statement stops at once (SQLite never checks for signals itself), the node is cancelled,
and the next cell uses the same session."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.conftest import Project

jupyter_client = pytest.importorskip("jupyter_client")

PROFILES = """
proj:
  target: dev
  outputs:
    dev:
      type: sqlite
      path: crm.db
      schema: main
      threads: 1
"""

# about a minute of work for SQLite if nothing stops it
LONG = ("{{ config(materialized='table') }}\n"
        "with recursive c(x) as (select 1 union all select x + 1 from c "
        "where x < 300000000) select count(*) as n from c")


def _run_cell(kc: Any, code: str, timeout: float) -> tuple[str, str]:
    """Execute `code`; its (status, text output)."""
    msg_id = kc.execute(code)
    text: list[str] = []
    status = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.monotonic())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            text.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            text.append(str(content["data"].get("text/plain", "")))
        elif kind == "error":
            text.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            reply = kc.get_shell_msg(timeout=10)
            status = reply["content"]["status"]
            return status, "".join(text)
    raise AssertionError(f"cell did not finish within {timeout} s: {''.join(text)}")


def test_interrupting_the_kernel_cancels_the_running_statement(project: Project) -> None:
    from jupyter_client.manager import start_new_kernel

    project.write("profiles.yml", PROFILES)
    project.write("models/long.sql", LONG)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project.root))
    try:
        status, out = _run_cell(kc, "%load_ext dvt_jupyter\n"
                                    "%config Dvt.deterministic = True\n"
                                    f"%dvt project {project.root}", timeout=60)
        assert status == "ok", out

        # the statement is running 2 s after the cell starts (parse and connect take ms)
        timer = threading.Timer(2.0, km.interrupt_kernel)
        started = time.monotonic()
        timer.start()
        status, out = _run_cell(kc, "results = %dvt run -s long", timeout=120)
        elapsed = time.monotonic() - started
        timer.join()
        assert elapsed < 30, f"the statement ran on for {elapsed:.0f} s:\n{out}"
        assert "CANCEL" in out.upper(), out
        status, out = _run_cell(kc, "print([(o.name, o.status) for o in results.outcomes])",
                                timeout=30)
        assert status == "ok" and out.strip() == "[('long', 'cancelled')]", out
        # the same session runs the next command
        status, out = _run_cell(kc, "df = %dvt show --inline \"select 1 as ok\"\n"
                                    "print(int(df['ok'][0]))", timeout=60)
        assert status == "ok" and out.strip().endswith("1"), out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
