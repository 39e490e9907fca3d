"""Ctrl-C during a run: the running statement stops, the rest is cancelled, the session
stays usable and existing tables are left as they were."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from dvt_engine.events import NodeStarted
from dvt_engine.session import Session

# ~10 s of work if nothing stops it: long enough to be interrupted, short enough that a
# broken cancel fails the test instead of hanging it
SLOW = "select sum(x) as s from range(20000000000) t(x)"


def _project(project):
    project.write("models/first.sql", "{{ config(materialized='table') }}\nselect 1 as id")
    project.write("models/slow.sql", "{{ config(materialized='table') }}\n"
                  "select * from {{ ref('first') }}, (" + SLOW + ")")
    project.write("models/after.sql", "select * from {{ ref('slow') }}")
    return Session(project.root, profiles_dir=str(project.root))


def _run_and_interrupt(session, threads, interrupt):
    timers: list[threading.Timer] = []

    def on_event(event):
        if isinstance(event, NodeStarted) and event.unique_id.endswith(".slow"):
            timer = threading.Timer(0.5, interrupt)
            timers.append(timer)
            timer.start()

    try:
        return session.invoke(["run", "--threads", str(threads)], subscriber=on_event)
    finally:
        for timer in timers:
            timer.cancel()


def _check(project, session, result):
    statuses = {r.node.name: r.status for r in result.results if r.node is not None}
    assert result.exit_code == 130
    assert statuses["first"] == "success"
    assert statuses["slow"] == "cancelled"
    assert statuses["after"] in ("cancelled", "skipped")
    assert session.invoke(["run", "-s", "first"]).success  # the session still works
    session.close()
    # nothing half-built was kept
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name = 'slow'") == [(0,)]


@pytest.mark.parametrize("threads", [1, 2])
def test_sigint_cancels_and_session_stays_usable(project, threads):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread; this runner runs tests elsewhere")
    session = _project(project)
    assert session.invoke(["run", "-s", "first"]).success
    # a real SIGINT, as Ctrl-C and Jupyter's "interrupt kernel" send
    result = _run_and_interrupt(session, threads, lambda: os.kill(os.getpid(), signal.SIGINT))
    _check(project, session, result)


def test_front_end_cancel(project):
    """What a front end does from another thread: Runner.interrupt()."""
    session = _project(project)
    assert session.invoke(["run", "-s", "first"]).success
    result = _run_and_interrupt(session, 2, lambda: session.cancel())
    _check(project, session, result)


def test_cancel_before_the_statement_starts(project):
    """An interrupt that lands between a node's start and its first statement (the CI
    flake under load): the statement that starts afterwards is cancelled too."""
    session = _project(project)
    assert session.invoke(["run", "-s", "first"]).success

    def on_event(event):
        if isinstance(event, NodeStarted) and event.unique_id.endswith(".slow"):
            session.cancel()  # in the worker thread, before `slow` executes

    result = session.invoke(["run", "--threads", "2"], subscriber=on_event)
    _check(project, session, result)


def test_front_end_cancel_with_one_thread_before_the_statement_starts(project):
    """The same with --threads 1: the node runs in the caller's thread, so the cancel is
    repeated from a watcher thread until the node ends."""
    session = _project(project)
    assert session.invoke(["run", "-s", "first"]).success

    def on_event(event):
        if isinstance(event, NodeStarted) and event.unique_id.endswith(".slow"):
            session.cancel()

    result = session.invoke(["run", "--threads", "1"], subscriber=on_event)
    _check(project, session, result)
