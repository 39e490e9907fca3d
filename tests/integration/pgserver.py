"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

initdb refuses to run as root, so as root the binaries run as the `postgres` user with
the data and socket dirs owned by it. The server trusts loopback connections, except for
the role PASSWORD_USER, which needs its password (to test authentication failures).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD_USER = "dvt_pw_user"
PASSWORD = "dvt-right-pw"

# for tests only: durability is worthless in a throwaway cluster, speed is not
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

_HBA = f"""\
local all all trust
host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


class ServerUnavailable(RuntimeError):
    """The PostgreSQL binaries (or the postgres user, when root) are missing."""


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    base_dir: Path
    bin_dir: Path
    as_postgres: bool
    stopped: bool = field(default=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        # a server that died already makes pg_ctl fail: the dirs go all the same
        subprocess.run(_as(self, "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def find_bin_dir() -> Path:
    """initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: _version_key(Path(p).parent.parent.name), reverse=True)
    for cand in candidates:
        if (Path(cand).parent / "pg_ctl").exists():
            return Path(cand).parent
    raise ServerUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or "
                            "under /usr/lib/postgresql/*/bin; install Debian's `postgresql`")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(server: PgServer, tool: str, *args: str) -> None:
    cmd = [str(server.bin_dir / tool), *args]
    if server.as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        log = server.base_dir / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")


def start_server(prefix: str = "dvt-pg-") -> PgServer:
    """initdb + pg_ctl start on a free loopback port; about a second. Caller must stop()."""
    bin_dir = find_bin_dir()
    as_postgres = os.geteuid() == 0
    if as_postgres:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable("running as root needs the `postgres` user") from None
    # under /tmp (not pytest's 0700 tmp dir): the postgres user must reach it
    base = Path(tempfile.mkdtemp(prefix=prefix))
    (base / "data").mkdir()
    (base / "sock").mkdir()
    if as_postgres:
        for p in (base, base / "data", base / "sock"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    server = PgServer("127.0.0.1", 0, "postgres", base, bin_dir, as_postgres)
    try:
        _run(server, "initdb", "-D", str(server.data_dir), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        hba = server.data_dir / "pg_hba.conf"
        hba.write_text(_HBA)
        last: Exception | None = None
        for _ in range(3):  # another process may take the free port before we bind it
            server.port = _free_port()
            try:
                _run(server, "pg_ctl", "-D", str(server.data_dir), "-l",
                     str(base / "server.log"), "-w", "start", "-o",
                     f"-p {server.port} -k {base / 'sock'} -c listen_addresses=127.0.0.1 "
                     f"{_FAST}")
                break
            except RuntimeError as exc:
                last = exc
        else:
            raise RuntimeError(f"PostgreSQL did not start: {last}")
        _create_password_role(server)
        atexit.register(server.stop)  # if the caller never gets to stop() (e.g. Ctrl-C)
    except BaseException:
        server.stopped = True
        subprocess.run(_as(server, "pg_ctl", "-D", str(server.data_dir), "-m", "immediate",
                           "stop"), capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


def _as(server: PgServer, tool: str, *args: str) -> list[str]:
    cmd = [str(server.bin_dir / tool), *args]
    return ["runuser", "-u", "postgres", "--", *cmd] if server.as_postgres else cmd


def _create_password_role(server: PgServer) -> None:
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"create role {PASSWORD_USER} login superuser password '{PASSWORD}'")
