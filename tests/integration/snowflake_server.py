"""A local Snowflake stand-in for tests: fakesnow's HTTP server on 127.0.0.1.

The server runs in a child process (`python tests/integration/snowflake_server.py PORT
DB_PATH`) so that its DuckDB, its threads and the patch below never touch the test
process. Every login shares one file-backed `FakeSnow` instance: the server's `-d` flag is
ignored and the per-session FAKESNOW_DB_PATH breaks with two concurrent connections.

The patch: the 4.x connector's write_pandas sends `COPY INTO t FROM '@"STAGE"'` (a quoted
literal) and fakesnow's copy_into only understands a bare `@stage`. It lives here, in the
tests, never in the product.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

USER = "fake"
PASSWORD = "snow-never-shown-3c9e"  # fakesnow accepts any password; checked absent from output
ACCOUNT = "fakesnow"


class ServerUnavailable(RuntimeError):
    """fakesnow (with its server extra) is not installed, or the server did not start."""


@dataclass
class SnowflakeServer:
    host: str
    port: int
    base_dir: Path
    process: subprocess.Popen[bytes]
    stopped: bool = field(default=False)

    def connect_args(self) -> dict[str, object]:
        return {"account": ACCOUNT, "user": USER, "password": PASSWORD, "host": self.host,
                "port": self.port, "protocol": "http"}

    def connect(self, database: str | None = None, schema: str | None = None) -> object:
        import snowflake.connector

        return snowflake.connector.connect(**self.connect_args(), database=database,
                                           schema=schema, login_timeout=30)

    def query(self, sql: str, database: str | None = None) -> list[tuple[object, ...]]:
        conn = self.connect(database)
        try:
            cur = conn.cursor()  # type: ignore[attr-defined]
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn shuts down on SIGTERM
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def available() -> str | None:
    """None when the server can run here, else why not."""
    try:
        import fakesnow  # noqa: F401
        import snowflake.connector  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} not installed (pip install 'dvt[dev,snowflake]')"
    return None


def start_server(host: str = "127.0.0.1", timeout: float = 60.0) -> SnowflakeServer:
    why = available()
    if why:
        raise ServerUnavailable(why)
    base = Path(tempfile.mkdtemp(prefix="dvt-fakesnow-"))
    port = _free_port(host)
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), host, str(port), str(base / "db")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = SnowflakeServer(host, port, base, proc)
    atexit.register(server.stop)  # an interrupted session must not leave it running
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (base / "server.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise ServerUnavailable(f"fakesnow exited with {proc.returncode}:\n{text}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return server
        time.sleep(0.1)
    server.stop()
    raise ServerUnavailable(f"fakesnow did not listen on {host}:{port} within {timeout:.0f}s")


def _free_port(host: str) -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# -- the child process ----------------------------------------------------------------


def _patch_copy_into() -> None:
    """Let COPY read FROM '@"STAGE"' (the connector's write_pandas) as FROM @STAGE."""
    import fakesnow.copy_into as copy_into

    original = copy_into._from_source

    def from_source(expr: object) -> str:
        source = original(expr)
        if source.startswith("@") and '"' in source:
            # '@"DB"."SCHEMA"."STAGE"' -> '@DB.SCHEMA.STAGE' (names as the stage was created)
            source = "@" + ".".join(p.strip('"') for p in source[1:].split('"."'))
        return source

    copy_into._from_source = from_source


def _exit_with_parent() -> None:
    """A killed test session (timeout, SIGKILL) runs no atexit: go when the parent goes."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(host: str, port: int, db_path: str) -> None:
    import fakesnow.server
    import uvicorn
    from fakesnow.instance import FakeSnow

    _exit_with_parent()
    _patch_copy_into()
    Path(db_path).mkdir(parents=True, exist_ok=True)
    fakesnow.server.shared_fs = FakeSnow(db_path=db_path)
    uvicorn.run(fakesnow.server.app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
