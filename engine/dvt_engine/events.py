"""Typed events the engine emits; front ends (CLI, notebook widgets) render them.

Nothing in the engine prints. A task emits events into an EventBus; every
subscriber gets every event in order, on the thread that emitted it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    ts: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class Log(Event):
    """A free-form line: 'Found 3 models, ...', warnings, debug output."""

    msg: str
    level: str = "info"  # debug | info | warn | error


@dataclass(frozen=True)
class RunStarted(Event):
    command: str
    unique_ids: list[str]
    target_name: str
    threads: int


@dataclass(frozen=True)
class NodeStarted(Event):
    unique_id: str
    index: int
    total: int
    description: str  # e.g. "sql view model main.stg_orders"


@dataclass(frozen=True)
class NodeFinished(Event):
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


@dataclass(frozen=True)
class RunFinished(Event):
    command: str
    elapsed: float
    results: list[Any]  # runner.NodeResult
    summary: str = ""


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Subscriber:
        self._subscribers.append(fn)
        return fn

    def unsubscribe(self, fn: Subscriber) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def emit(self, event: Event) -> None:
        # one lock so lines from worker threads never interleave
        with self._lock:
            for fn in list(self._subscribers):
                fn(event)

    def log(self, msg: str, level: str = "info") -> None:
        self.emit(Log(msg=msg, level=level))
