"""Renders events as dbt's console lines (text) or JSON lines; used by the CLI and by
notebooks without a widget front end.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from pathlib import Path
from typing import IO, Any

from dvt_engine.events import Event, Log, NodeFinished, NodeStarted, RunFinished, RunStarted

WIDTH = 80

_STATUS_LINE = {
    "success": "OK", "error": "ERROR", "skipped": "SKIP", "pass": "PASS", "fail": "FAIL",
    "warn": "WARN", "cancelled": "CANCEL",
}


def fancy_line(msg: str, status: str, index: int | None, total: int | None,
               execution_time: float | None = None) -> str:
    """dbt's `1 of 5 START sql view model main.x .......... [RUN]`."""
    progress = f"{index} of {total} " if index is not None and total is not None else ""
    justified = f"{progress}{msg} ".ljust(WIDTH, ".")
    status_time = f" in {execution_time:0.2f}s" if execution_time is not None else ""
    return f"{justified} [{status}{status_time}]"


def started_line(e: NodeStarted) -> str:
    return fancy_line(f"START {e.description}", "RUN", e.index, e.total)


def finished_line(e: NodeFinished) -> str:
    desc = e.description
    if e.resource_type == "source":  # source freshness (dbt's print_freshness_result_line)
        label = {"pass": "PASS", "warn": "WARN", "error": "ERROR STALE"}.get(e.status, "ERROR")
        return fancy_line(f"{label} {desc}", label, e.index, e.total, e.execution_time)
    if e.resource_type == "test":
        name = desc.split(" ", 1)[-1]
        if e.status == "pass":
            return fancy_line(f"PASS {name}", "PASS", e.index, e.total, e.execution_time)
        if e.status in ("fail", "warn"):
            label = e.status.upper()
            return fancy_line(f"{label} {e.failures} {name}", f"{label} {e.failures}",
                              e.index, e.total, e.execution_time)
        if e.status == "error":  # dbt's LogTestResult: `ERROR <test name>`, no verb
            return fancy_line(f"ERROR {name}", "ERROR", e.index, e.total, e.execution_time)
    if e.status == "error":
        verb = "loading" if e.resource_type == "seed" else "creating"
        return fancy_line(f"ERROR {verb} {desc}", "ERROR", e.index, e.total, e.execution_time)
    if e.status == "skipped":
        return fancy_line(f"SKIP relation {desc.split(' ')[-1]}", "SKIP", e.index, e.total)
    if e.status == "cancelled":
        return fancy_line(f"CANCEL {desc}", "CANCEL", e.index, e.total)
    if desc.startswith("clone "):  # dbt's clone: "OK created clone model.p.x [No-op]"
        return fancy_line(f"OK created {desc}", e.message or "OK", e.index, e.total,
                          e.execution_time)
    if e.resource_type == "seed":
        return fancy_line(f"OK loaded {desc}", e.message or "OK", e.index, e.total,
                          e.execution_time)
    if e.resource_type == "snapshot":
        return fancy_line(f"OK snapshotted {desc.split(' ')[-1]}", e.message or "OK", e.index,
                          e.total, e.execution_time)
    return fancy_line(f"OK created {desc}", e.message or "OK", e.index, e.total,
                      e.execution_time)


def event_text(event: Event) -> str | None:
    if isinstance(event, Log):
        return event.msg
    if isinstance(event, NodeStarted):
        return started_line(event)
    if isinstance(event, NodeFinished):
        return finished_line(event)
    return None


class ConsolePrinter:
    """Subscribes to an EventBus and prints each event as a line."""

    def __init__(self, stream: IO[str] | None = None, *, fmt: str = "text", debug: bool = False,
                 timestamps: bool = True, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.fmt = fmt
        self.debug = debug
        self.timestamps = timestamps
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        if isinstance(event, Log) and event.level == "debug" and not self.debug:
            return
        if self.quiet and not (isinstance(event, Log) and event.level in ("error", "result")):
            return
        if self.fmt == "json":
            self._write(json.dumps(_as_json(event), default=str))
            return
        text = event_text(event)
        if text is None:
            return
        for line in text.split("\n") if text else [""]:
            if self.timestamps and (not isinstance(event, Log) or event.level != "result"):
                stamp = datetime.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
                self._write(f"{stamp}  {line}")
            else:
                self._write(line)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _as_json(event: Event) -> dict[str, Any]:
    data = {k: v for k, v in event.__dict__.items() if k not in ("ts", "results")}
    level = getattr(event, "level", "info")
    return {
        "info": {"name": type(event).__name__, "level": level,
                 "ts": datetime.datetime.fromtimestamp(event.ts, datetime.timezone.utc)
                 .isoformat(), "msg": event_text(event) or ""},
        "data": data,
    }


__all__ = ["ConsolePrinter", "RunFinished", "RunStarted", "fancy_line"]


class LogFile(ConsolePrinter):
    """logs/dvt.log, as dbt keeps logs/dbt.log: every event of every command, debug lines
    included, with millisecond timestamps; appended to, one header per invocation.

    Buffered (a line per event would cost a write each) and locked (nodes log from
    several threads); `close()` flushes.
    """

    def __init__(self, path: Path, command: str, invocation_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path.open("a", encoding="utf-8"), debug=True, timestamps=False)
        self._lock = threading.Lock()
        now = datetime.datetime.now().isoformat(sep=" ", timespec="microseconds")
        self._write(f"{'=' * 30} {now} | {invocation_id} {'=' * 30}")
        self._write(f"dvt {command}")

    def __call__(self, event: Event) -> None:
        text = event_text(event)
        if text is None:
            return
        level = getattr(event, "level", "info")
        stamp = datetime.datetime.fromtimestamp(event.ts).isoformat(timespec="milliseconds")[11:]
        thread = threading.current_thread().name
        with self._lock:
            for line in text.split("\n") if text else [""]:
                self._write(f"{stamp} [{level:<5}] [{thread}]: {line}")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self.stream.close()
