"""Writes target/compiled and target/run files on a background thread.

Two small files per node cost more than the node's own DDL on some filesystems; the
writes overlap with execution and are flushed before the command returns.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path


class BackgroundWriter:
    def __init__(self) -> None:
        # SimpleQueue: a put never waits on a lock the writer thread holds (queue.Queue's
        # Condition made the node loop wait ~30 µs a file)
        self._queue: queue.SimpleQueue[tuple[str | Path, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._dirs: set[str] = set()
        self._errors: list[BaseException] = []

    def write(self, path: str | Path, text: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="dvt-writer", daemon=True)
            self._thread.start()
        self._queue.put((path, text))

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            path, text = item
            try:
                # os-level calls: this thread holds the GIL for its Python work, which the
                # node loop then waits for; Path and text-mode files triple that work
                folder = os.path.dirname(path)
                if folder not in self._dirs:
                    os.makedirs(folder, exist_ok=True)
                    self._dirs.add(folder)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                try:
                    data = memoryview(text.encode("utf-8"))
                    while data:
                        data = data[os.write(fd, data):]
                finally:
                    os.close(fd)
            except OSError as exc:  # reported at flush; a full disk must not fail the node
                self._errors.append(exc)

    def flush(self) -> list[BaseException]:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        errors, self._errors = self._errors, []
        return errors
