"""Writes target/compiled and target/run files on a background thread.

Two small files per node cost more than the node's own DDL on some filesystems; the
writes overlap with execution and are flushed before the command returns.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path


class BackgroundWriter:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Path, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._dirs: set[Path] = set()
        self._errors: list[BaseException] = []

    def write(self, path: Path, text: str) -> None:
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
                if path.parent not in self._dirs:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._dirs.add(path.parent)
                path.write_text(text, encoding="utf-8")
            except OSError as exc:  # reported at flush; a full disk must not fail the node
                self._errors.append(exc)

    def flush(self) -> list[BaseException]:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        errors, self._errors = self._errors, []
        return errors
