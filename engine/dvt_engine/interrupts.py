"""Ctrl-C that reaches a statement running in the main thread.

Python runs its SIGINT handler (KeyboardInterrupt) only when the main thread executes
Python again. A statement running there in a driver's C code may not return for a long
time: sqlite3 never checks for signals, DuckDB only between its tasks. While `on_sigint`
is installed, the C-level handler also writes to a pipe (`signal.set_wakeup_fd`), and a
thread reading it calls `callback` at once, which cancels the statement through the
driver (so the KeyboardInterrupt is then delivered). Python's own handling is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def on_sigint(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` from a helper thread as soon as SIGINT arrives, inside the block.

    Nothing is installed outside the main thread (signals are not delivered there), or
    when the wakeup fd is someone else's already (an event loop's): they keep it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # the C handler must never block
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        previous = None
    if previous != -1:
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        yield
        return
    watcher = threading.Thread(target=_watch, args=(read_fd, callback), name="dvt-sigint",
                               daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        os.close(write_fd)  # the watcher's read returns b"": it ends
        watcher.join()
        os.close(read_fd)


def _watch(read_fd: int, callback: Callable[[], None]) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)  # one byte per signal: its number
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data:
            with contextlib.suppress(Exception):  # the KeyboardInterrupt still follows
                callback()
