"""Ctrl-C during a run: the running statement stops, the rest is cancelled, the session
stays usable and existing tables are left as they were."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from dvt_engine.events import NodeStarted
from dvt_engine.session import Session

SLOW = "select sum(x) as s from range(1000000000000) t(x)"  # minutes of work if not stopped


@pytest.mark.parametrize("threads", [1, 2])
def test_interrupt_cancels_and_session_stays_usable(project, threads):
    project.write("models/first.sql", "{{ config(materialized='table') }}\nselect 1 as id")
    project.write("models/slow.sql", "{{ config(materialized='table') }}\n"
                  "select * from {{ ref('first') }}, (" + SLOW + ")")
    project.write("models/after.sql", "select * from {{ ref('slow') }}")
    session = Session(project.root, profiles_dir=str(project.root))
    try:
        assert session.invoke(["run", "-s", "first"]).success
        timers: list[threading.Timer] = []

        def on_event(event):
            # a real SIGINT, as Jupyter's "interrupt kernel" and Ctrl-C send, once the slow
            # statement is running
            if isinstance(event, NodeStarted) and event.unique_id.endswith(".slow"):
                timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
                timers.append(timer)
                timer.start()

        try:
            result = session.invoke(["run", "--threads", str(threads)], subscriber=on_event)
        finally:
            for timer in timers:
                timer.cancel()
        statuses = {r.node.name: r.status for r in result.results if r.node is not None}
        assert result.exit_code == 130
        assert statuses["first"] == "success"
        assert statuses["slow"] == "cancelled"
        assert statuses["after"] in ("cancelled", "skipped")
        # the session still works, and nothing half-built was kept
        again = session.invoke(["run", "-s", "first"])
        assert again.success
        rel = session.adapter().get_relation(None, "main", "slow__dbt_tmp")
        assert rel is None or rel.type == "table"
    finally:
        session.close()
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name = 'slow'") == [(0,)]
