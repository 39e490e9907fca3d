"""Renders typed events as dbt's console lines (text) or JSON lines; used by the CLI and by
notebooks without a widget front end.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from dvt_engine.events import (
    CommandError,
    Concurrency,
    Event,
    HookFinished,
    HookStarted,
    Log,
    NodeFinished,
    NodeProblem,
    NodeStarted,
    Printed,
    ProjectFound,
    RunFinished,
    RunStarted,
    Warned,
)

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


def event_lines(event: Event) -> list[tuple[str, str]]:
    """The (level, text) lines dbt prints for an event; [] for events it does not print."""
    if isinstance(event, Log):
        return [(event.level, event.msg)]
    if isinstance(event, Printed):
        return [("result", event.text)]
    if isinstance(event, Warned):
        return [("warn", event.message)]
    if isinstance(event, CommandError):
        return [("error", "Encountered an error:"), ("error", event.message)]
    if isinstance(event, ProjectFound):
        parts = [f"{n} {label}" for label, n in event.counts]
        return [("info", "Found " + ", ".join(parts))]
    if isinstance(event, RunStarted):
        return [("info", ""), ("info", f"Concurrency: {event.threads} threads "
                                       f"(target='{event.target_name}')"), ("info", "")]
    if isinstance(event, Concurrency):
        return [("info", f"Concurrency: {event.threads} threads "
                         f"(target='{event.target_name}')"), ("info", "")]
    if isinstance(event, NodeStarted):
        return [("info", started_line(event))]
    if isinstance(event, NodeFinished):
        return [(event.level, finished_line(event))]
    if isinstance(event, HookStarted):
        return [("info", fancy_line(f"START hook: {event.name}", "RUN", event.index,
                                    event.total))]
    if isinstance(event, HookFinished):
        label = "OK" if event.status == "success" else "ERROR"
        return [(event.level, fancy_line(f"{label} hook: {event.name}", label, event.index,
                                         event.total, event.execution_time))]
    if isinstance(event, RunFinished):
        return summary_lines(event)
    return []


def event_text(event: Event) -> str | None:
    lines = event_lines(event)
    return "\n".join(text for _, text in lines) if lines else None


def summary_lines(e: RunFinished) -> list[tuple[str, str]]:
    """dbt's end of a run: 'Finished running ...', 'Completed ...', a block per failure
    or warning, 'Done. PASS=...'."""
    if not e.kinds and not e.total:
        return []
    out: list[tuple[str, str]] = []
    hours, rem = divmod(e.elapsed, 3600)
    minutes, seconds = divmod(rem, 60)
    parts = [f"{n} {label}{'s' if n != 1 else ''}" for label, n in e.kinds]
    out += [("info", ""), ("info", f"Finished running {', '.join(parts)} in {int(hours)} "
                                   f"hours {int(minutes)} minutes and {seconds:0.2f} seconds "
                                   f"({e.elapsed:0.2f}s).")]
    if e.command == "freshness":  # dbt's freshness ends with the errors and 'Done.'
        return [*out, *[("error", p.message) for p in e.problems], ("info", "Done.")]
    out.append(("info", ""))
    for relation, table in e.samples:
        header = f"Random sample of table: {relation}"
        out += [("info", header), ("info", "-" * len(header)), ("result", table), ("info", "")]
    if e.samples:
        out.append(("info", ""))
    errors = [p for p in e.problems if p.status in ("error", "fail")]
    warns = [p for p in e.problems if p.status == "warn"]
    if not errors and not warns:
        out.append(("info", "Completed successfully"))
    elif not errors:
        out.append(("warn", f"Completed with {len(warns)} warning"
                            f"{'s' if len(warns) != 1 else ''}:"))
    else:
        out.append(("error", f"Completed with {len(errors)} error"
                             f"{'s' if len(errors) != 1 else ''}, 0 partial successes, and "
                             f"{len(warns)} warning{'s' if len(warns) != 1 else ''}:"))
    for p in errors + warns:
        out += _problem_lines(p)
    out += [("info", ""), ("info", f"Done. PASS={e.passed} WARN={e.warned} ERROR={e.errored} "
                                   f"SKIP={e.skipped} NO-OP={e.no_op} TOTAL={e.total}")]
    if e.interrupted:
        out.append(("error", "Cancelled by ctrl-c: running statements were stopped; nothing "
                             "half-built was kept."))
    return out


def _problem_lines(p: NodeProblem) -> list[tuple[str, str]]:
    """The 'Failure in ...' / 'Warning in ...' block for one node."""
    level = "error" if p.status in ("error", "fail") else "warn"
    out = [(level, "")]
    if p.resource_type == "hook" or p.plain:
        return [*out, (level, p.message)]
    if p.resource_type == "test" and p.status in ("fail", "warn"):
        label = "Failure" if p.status == "fail" else "Warning"
        out.append((level, f"{label} in test {p.name} ({p.path})"))
        out.append((level, f"  {p.message}" if label == "Failure" else p.message))
    else:
        out.append((level, f"Failure in {p.resource_type} {p.name} ({p.path})"))
        out.append((level, "\n".join(f"  {line}" if line else line
                                     for line in p.message.split("\n"))))
    if p.compiled_path:
        out += [(level, ""), (level, f"  compiled code at {p.compiled_path}")]
    return out


class ConsolePrinter:
    """Subscribes to an EventBus and prints each event as a line."""

    def __init__(self, stream: IO[str] | None = None, *, fmt: str = "text", debug: bool = False,
                 timestamps: bool = True, quiet: bool = False) -> None:
        self._second: tuple[int, str] = (-1, "")  # (second, its HH:MM:SS)
        self._closed = False  # the reader of a pipe went away
        self.stream = stream or sys.stdout
        self.fmt = fmt
        self.debug = debug
        self.timestamps = timestamps
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        if not self.debug and isinstance(event, Log) and event.level == "debug":
            return  # every statement logs one: the cheapest way out first
        lines = [(level, text) for level, text in event_lines(event)
                 if (self.debug or level != "debug")
                 and (not self.quiet or level in ("error", "result"))]
        if not lines:
            return
        if self.fmt == "json":
            # a line per object, as dbt's JSON logs have one event per line of text
            for level, text in lines:
                self._write(json.dumps(_as_json(event, level, text), default=_json_default))
            return
        stamp = self._stamp(event.ts) if self.timestamps else ""
        for level, text in lines:
            for line in text.split("\n") if text else [""]:
                self._write(f"{stamp}  {line}" if stamp and level != "result" else line)

    def _stamp(self, ts: float) -> str:
        """Local HH:MM:SS of `ts`; strftime once per second, not once per line."""
        second = int(ts)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%H:%M:%S", time.localtime(second))
            self._second = (second, text)
        return text

    def _write(self, line: str) -> None:
        if self._closed:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            # `dvt run | head`: the reader left; the run goes on (logs/dvt.log has it all)
            self._closed = True


def _as_json(event: Event, level: str, text: str) -> dict[str, Any]:
    """The event as JSON: its name, the line's level and text, and its typed fields."""
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)
            if f.name not in ("ts", "results")}
    return {
        "info": {"name": type(event).__name__, "level": level,
                 "ts": datetime.datetime.fromtimestamp(event.ts, datetime.timezone.utc)
                 .isoformat(), "msg": text},
        "data": data,
    }


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


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
        lines = event_lines(event)
        if not lines:
            return
        stamp = f"{self._stamp(event.ts)}.{int(event.ts % 1 * 1000):03d}"
        thread = threading.current_thread().name
        with self._lock:
            for level, text in lines:
                for line in text.split("\n") if text else [""]:
                    self._write(f"{stamp} [{level:<5}] [{thread}]: {line}")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self.stream.close()
