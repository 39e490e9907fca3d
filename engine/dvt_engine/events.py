"""Typed events the engine emits; front ends (CLI, notebook widgets) render them.

Events are not changed once emitted. They are plain dataclasses, not frozen ones: a
frozen one costs three times as much to create, and a run makes three per node; and they
share one __repr__ (each generated method costs import time, which every CLI run pays).

Nothing in the engine prints. A command emits events into an EventBus; every subscriber
gets every event in order, on the thread that emitted it. `reporting.py` renders them as
dbt's console lines or as JSON; the notebook's widgets read their fields.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dvt_engine.reprs import fields_repr


@dataclass(eq=False, repr=False)
class Event:
    """Something that happened; `ts` is when."""

    ts: float = field(default_factory=time.time, kw_only=True)

    def __repr__(self) -> str:
        # one repr for all events: a generated one per class costs import time
        return fields_repr(self)

    @property
    def level(self) -> str:
        return "info"


@dataclass(eq=False, repr=False)
class Log(Event):
    """A free-form line: debug output, what a macro logs, a command's own notes."""

    msg: str
    level: str = "info"  # type: ignore[assignment]  # debug | info | warn | error | result


@dataclass(eq=False, repr=False)
class Printed(Event):
    """What a command prints as its answer (ls names, show's table, compiled SQL): shown
    under --quiet, without a timestamp."""

    text: str
    what: str = ""  # list | show | compile

    @property
    def level(self) -> str:
        return "result"


@dataclass(eq=False, repr=False)
class Warned(Event):
    """A warning about the project or the command, with where it comes from."""

    message: str
    path: str | None = None
    node: str | None = None

    @property
    def level(self) -> str:
        return "warn"


@dataclass(eq=False, repr=False)
class CommandError(Event):
    """An error that stopped the command (exit code 2): dbt's 'Encountered an error:'."""

    message: str  # the full text: kind, file:line or node, message, hint
    kind: str = "Error"
    path: str | None = None
    line: int | None = None
    node: str | None = None
    hint: str | None = None

    @property
    def level(self) -> str:
        return "error"


@dataclass(eq=False, repr=False)
class ProjectFound(Event):
    """dbt's 'Found 8 models, 27 data tests, ... 490 macros'."""

    counts: tuple[tuple[str, int], ...]  # (label, count) in dbt's order, macros last


@dataclass(eq=False, repr=False)
class Concurrency(Event):
    """dbt's 'Concurrency: N threads (target=...)' before compile's and show's output."""

    threads: int
    target_name: str


@dataclass(eq=False, repr=False)
class RunStarted(Event):
    """A command starts running nodes (the notebook opens its run graph)."""

    command: str
    unique_ids: list[str]
    target_name: str
    threads: int


@dataclass(eq=False, repr=False)
class InputMoved:
    """How one input of a federated node reached where the node ran."""

    __repr__ = fields_repr

    relation: str  # its name in logs: orders, crm.customers
    connection: str
    rows: int
    via: str  # arrow | jdbc | local


@dataclass(eq=False, repr=False)
class NodeStarted(Event):
    """A node starts: dbt's `1 of 5 START ...`."""

    unique_id: str
    index: int
    total: int
    description: str  # e.g. "sql view model main.stg_orders"
    resource_type: str = "model"
    target: str | None = None
    route: str | None = None  # pushdown | staged | spark (as planned; auto decides later)


@dataclass(eq=False, repr=False)
class NodeFinished(Event):
    """A node ended: its status, timing, rows, and where and how it ran."""

    unique_id: str
    index: int
    total: int
    status: str  # success | error | skipped | pass | fail | warn | cancelled
    description: str
    message: str | None
    execution_time: float
    rows_affected: int | None = None
    failures: int | None = None
    resource_type: str = "model"
    error: str | None = None
    target: str | None = None
    route: str | None = None  # pushdown | staged | spark
    inputs: tuple[InputMoved, ...] = ()

    @property
    def level(self) -> str:
        return "error" if self.status in ("error", "fail") else \
            "warn" if self.status == "warn" else "info"


@dataclass(eq=False, repr=False)
class HookStarted(Event):
    """An on-run-start / on-run-end hook starts."""

    name: str  # demo.on-run-start.0
    index: int
    total: int


@dataclass(eq=False, repr=False)
class HookFinished(Event):
    """An on-run-start / on-run-end hook ended."""

    name: str
    index: int
    total: int
    status: str  # success | error
    execution_time: float

    @property
    def level(self) -> str:
        return "error" if self.status == "error" else "info"


@dataclass(eq=False, repr=False)
class NodeProblem:
    """One failure or warning of a run, for the summary's 'Failure in ...' blocks."""

    __repr__ = fields_repr

    status: str  # error | fail | warn
    resource_type: str  # model | test | ... ; "hook" for project hooks
    name: str
    path: str
    message: str
    compiled_path: str | None = None
    plain: bool = False  # the message names the node itself: print it alone


@dataclass(eq=False, repr=False)
class RunFinished(Event):
    """The end of a command that ran nodes: dbt's 'Finished running ...', 'Completed
    ...', the failure blocks and 'Done. PASS=...'."""

    command: str
    elapsed: float
    results: list[Any]  # runner.NodeResult (not rendered)
    kinds: tuple[tuple[str, int], ...] = ()  # ("table model", 3), in dbt's order
    problems: tuple[NodeProblem, ...] = ()
    passed: int = 0
    warned: int = 0
    errored: int = 0
    skipped: int = 0
    no_op: int = 0
    total: int = 0
    interrupted: bool = False
    # `seed --show`: (relation, table as printed) per seed, shown after 'Finished running'
    samples: tuple[tuple[str, str], ...] = ()

    @property
    def level(self) -> str:
        return "error" if self.errored or self.interrupted else "info"


def is_quiet_visible(event: Event) -> bool:
    """What --quiet still shows: a command's printed answer and errors that stop it."""
    return isinstance(event, Printed | CommandError) or (isinstance(event, Log)
                                                         and event.level == "error")


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._snapshot: tuple[Subscriber, ...] = ()  # what emit iterates (no copy per event)
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Subscriber:
        with self._lock:
            self._subscribers.append(fn)
            self._snapshot = tuple(self._subscribers)
        return fn

    def unsubscribe(self, fn: Subscriber) -> None:
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)
            self._snapshot = tuple(self._subscribers)

    def emit(self, event: Event) -> None:
        # one lock so lines from worker threads never interleave
        with self._lock:
            for fn in self._snapshot:
                fn(event)

    def log(self, msg: str, level: str = "info") -> None:
        self.emit(Log(msg=msg, level=level))

    def warn(self, message: str, path: str | None = None, node: str | None = None) -> None:
        self.emit(Warned(message=message, path=path, node=node))

    def printed(self, text: str, what: str = "") -> None:
        self.emit(Printed(text=text, what=what))
