"""One connection per thread, for adapters whose driver connections are not shared.

A runner thread keeps its connection for the whole run (a transaction spans statements);
threads come and go, so what a finished thread held is released when another asks.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")


class ThreadConnections(Generic[C]):
    def __init__(self, connect: Callable[[], C], release: Callable[[C], None]) -> None:
        self._connect = connect
        self._release = release
        self._conns: dict[threading.Thread, C] = {}
        self._lock = threading.Lock()

    def get(self) -> C:
        """This thread's connection, opened on first use."""
        me = threading.current_thread()
        with self._lock:
            conn = self._conns.get(me)
            if conn is not None:
                return conn
            finished = [self._conns.pop(t) for t in list(self._conns) if not t.is_alive()]
        for old in finished:
            self._release(old)
        conn = self._connect()
        with self._lock:
            self._conns[me] = conn
        return conn

    def all(self) -> list[C]:
        with self._lock:
            return list(self._conns.values())

    def forget(self, conn: C) -> None:
        """Drop a broken connection: its thread's next statement reconnects."""
        with self._lock:
            for thread, held in list(self._conns.items()):
                if held is conn:
                    del self._conns[thread]

    def close(self) -> None:
        with self._lock:
            conns = list(self._conns.values())
            self._conns.clear()
        for conn in conns:
            self._release(conn)


def quiet_close(conn: Any) -> None:
    """Close a driver connection that may be broken already; nothing more to do then."""
    with contextlib.suppress(Exception):
        conn.close()
