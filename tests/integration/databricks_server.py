"""A local Databricks stand-in for tests: Spark's Thrift server (HTTP mode) from the
pyspark wheel, talked to by the real databricks-sql-connector.

How it runs (see /work/shared/STANDINS.md, Databricks):
- `spark-submit --class ...HiveThriftServer2 spark-internal` with SPARK_HOME = the pyspark
  package dir, local[1], an embedded Derby metastore and a warehouse in a tmp dir, UI off.
- In HTTP mode the server listens on all interfaces whatever host is set, so it runs in a
  private network namespace (`unshare -n`, lo up). A small forwarder process binds
  127.0.0.1:PORT in the test's namespace, then enters the server's namespace
  (setns) and relays each connection to the server's loopback port: the listening socket
  stays in the namespace it was created in.
- `USING DELTA`: a one-class DataSourceRegister named "delta" that is parquet, compiled
  with javac here and put on --driver-class-path. MERGE/UPDATE/DELETE stay unsupported.
- `install_compat()`: the connector compatibility layer (test-only, never in the product):
  the protocol-version and initial-namespace checks skipped, `USE schema` after connect,
  Basic auth from the token, no telemetry, and results fetched until an empty batch
  (OSS Spark always says "no more rows").
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = "dapi-never-shown-5e2b"  # the server ignores it (authentication=NONE)
HTTP_PATH = "cliservice"
CLONE_NEWNET = 0x40000000

_SHIM = """package dvt.shim;

/** "USING DELTA" on OSS Spark for tests: a parquet source under the name delta. */
public class DeltaShim
    extends org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat {
  @Override
  public String shortName() {
    return "delta";
  }
}
"""


class ServerUnavailable(RuntimeError):
    """Java, javac, pyspark or the connector is missing, or the server did not start."""


@dataclass
class DatabricksServer:
    port: int  # where tests connect (127.0.0.1, relayed into the server's namespace)
    base_dir: Path
    process: subprocess.Popen[bytes]
    forwarder: subprocess.Popen[bytes] | None
    isolated: bool  # True when the server runs in its own network namespace
    stopped: bool = field(default=False)

    @property
    def connection_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/{HTTP_PATH}"

    def connect(self) -> Any:
        from databricks import sql

        return sql.connect(server_hostname="127.0.0.1", http_path=HTTP_PATH,
                           access_token=TOKEN, _connection_uri=self.connection_uri)

    def query(self, text: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(text)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            cur.close()
            return rows
        finally:
            conn.close()

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        for proc in (self.forwarder, self.process):
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: spark-submit's JVM too
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def spark_home() -> Path | None:
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).parent


def available() -> str | None:
    """None when the stand-in can run here, else why not."""
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"{tool} not found (the Thrift server and its delta shim need a JDK)"
    home = spark_home()
    if home is None:
        return "pyspark not installed (pip install 'dvt[spark]')"
    if not list((home / "jars").glob("spark-hive-thriftserver_*.jar")):
        return "this pyspark wheel has no Thrift server jars"
    try:
        import databricks.sql  # noqa: F401
    except ImportError:
        return "databricks-sql-connector not installed (pip install 'dvt[databricks]')"
    return None


def _netns_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                           capture_output=True, timeout=10)
    return probe.returncode == 0


def _build_shim(base: Path, home: Path) -> Path:
    src = base / "shim" / "src" / "dvt" / "shim"
    src.mkdir(parents=True)
    (src / "DeltaShim.java").write_text(_SHIM)
    out = base / "shim" / "classes"
    services = out / "META-INF" / "services"
    services.mkdir(parents=True)
    (services / "org.apache.spark.sql.sources.DataSourceRegister").write_text(
        "dvt.shim.DeltaShim\n")
    done = subprocess.run(["javac", "-nowarn", "-cp", str(home / "jars") + "/*", "-d", str(out),
                           str(src / "DeltaShim.java")], capture_output=True, timeout=120)
    if done.returncode != 0:
        raise ServerUnavailable("javac failed on the delta shim:\n"
                                + done.stderr.decode(errors="replace")[-2000:])
    return out


def _server_cmd(home: Path, base: Path, shim: Path, port: int) -> list[str]:
    conf = {
        "spark.master": "local[1]",
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": "768m",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.warehouse.dir": str(base / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={base / 'metastore'};create=true",
        "spark.sql.thriftServer.incrementalCollect": "false",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={base}",
    }
    hive = {
        "hive.server2.transport.mode": "http",
        "hive.server2.thrift.http.port": str(port),
        "hive.server2.thrift.http.path": HTTP_PATH,
        "hive.server2.authentication": "NONE",
        "hive.server2.thrift.bind.host": "127.0.0.1",
    }
    cmd = [str(home / "bin" / "spark-submit"), "--class",
           "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
           "--driver-class-path", str(shim), "--name", "dvt-databricks-standin"]
    for k, v in conf.items():
        cmd += ["--conf", f"{k}={v}"]
    for k, v in hive.items():
        cmd += ["--hiveconf", f"{k}={v}"]
    return [*cmd, "spark-internal"]


def start_server(timeout: float = 120.0) -> DatabricksServer:
    why = available()
    if why:
        raise ServerUnavailable(why)
    home = spark_home()
    assert home is not None
    base = Path(tempfile.mkdtemp(prefix="dvt-thrift-"))
    shim = _build_shim(base, home)
    isolated = _netns_works()
    port = _free_port()
    inner_port = _free_port() if not isolated else 10001
    cmd = _server_cmd(home, base, shim, inner_port)
    if isolated:
        cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(base / "logs"),
           "SPARK_CONF_DIR": str(base / "conf"), "PYSPARK_PYTHON": sys.executable}
    (base / "conf").mkdir()
    # the server logs every statement at INFO: warnings are enough here
    (base / "conf" / "log4j2.properties").write_text(
        "rootLogger.level = warn\nrootLogger.appenderRef.stdout.ref = console\n"
        "appender.console.type = Console\nappender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n")
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=base, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    forwarder = None
    if isolated:
        forwarder = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "forward", str(proc.pid), str(port),
             str(inner_port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    else:
        port = inner_port  # not isolated: the server listens on all interfaces (a known risk)
    server = DatabricksServer(port, base, proc, forwarder, isolated)
    atexit.register(server.stop)
    _wait_ready(server, timeout)
    return server


def _wait_ready(server: DatabricksServer, timeout: float) -> None:
    """Until a real query answers (the HTTP port opens before the session is ready)."""
    install_compat()
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            text = (server.base_dir / "server.log").read_text(errors="replace")[-3000:]
            server.stop()
            raise ServerUnavailable(f"the Thrift server exited ({server.process.returncode}):\n"
                                    f"{text}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                pass
            server.query("select 1")
            return
        except (TypeError, AttributeError, NameError):
            server.stop()
            raise  # a bug in the compatibility layer, not a slow start
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.5)
    text = (server.base_dir / "server.log").read_text(errors="replace")[-3000:]
    server.stop()
    raise ServerUnavailable(f"the Thrift server did not answer within {timeout:.0f}s: "
                            f"{last}\n{text}")


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the connector compatibility layer (test-only) -------------------------------------

_COMPAT_DONE = False


def install_compat() -> None:
    """Patch the connector, in this process only, to talk to OSS Spark's Thrift server."""
    global _COMPAT_DONE
    if _COMPAT_DONE:
        return
    import base64

    from databricks.sql import client
    from databricks.sql.backend import thrift_backend

    backend = thrift_backend.ThriftDatabricksClient
    # OSS Spark answers Hive protocol v9 and cannot take an initial catalog/schema
    backend._check_protocol_version = lambda self, resp: None
    backend._check_initial_namespace = lambda self, catalog, schema, resp: None

    original_open = backend.open_session

    def open_session(self: Any, session_configuration: Any, catalog: Any, schema: Any) -> Any:
        return original_open(self, session_configuration, None, None)

    backend.open_session = open_session

    original_fetch = backend.fetch_results

    def fetch_results(self: Any, *args: Any, **kwargs: Any) -> Any:
        # OSS Spark always says "no more rows": keep fetching until a batch is empty
        queue, _more, links = original_fetch(self, *args, **kwargs)
        rows = int(getattr(queue, "n_valid_rows", 0) or 0)
        description = kwargs.get("description") or []
        table = getattr(queue, "column_table", None)
        if rows == 0 and table is not None and len(table.column_table) < len(description):
            # the last, empty batch comes without columns: give it the result's columns
            queue.column_table = type(table)([[] for _ in description],
                                             [d[0] for d in description])
        return queue, rows > 0, links

    backend.fetch_results = fetch_results

    ttypes = thrift_backend.ttypes
    original_request = backend.make_request

    def make_request(self: Any, method: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        resp = original_request(self, method, request, *args, **kwargs)
        # resultFormat is a Databricks field: OSS Spark sends column-based rows without it
        meta = resp if isinstance(resp, ttypes.TGetResultSetMetadataResp) else \
            getattr(resp, "resultSetMetadata", False) if isinstance(
                resp, ttypes.TFetchResultsResp) else False
        if meta is None:
            meta = resp.resultSetMetadata = ttypes.TGetResultSetMetadataResp()
        if meta is not False and meta.resultFormat is None:
            meta.resultFormat = ttypes.TSparkRowSetType.COLUMN_BASED_SET
        return resp

    backend.make_request = make_request

    original_handle = backend._results_message_to_execute_response

    def results_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        execute_response, _more = original_handle(self, *args, **kwargs)
        # no direct results from OSS Spark: always fetch (the server ends with an empty batch)
        return execute_response, True

    backend._results_message_to_execute_response = results_message

    original_init = client.Connection.__init__

    def connection_init(self: Any, server_hostname: str, http_path: str,
                        access_token: str | None = None, **kwargs: Any) -> None:
        schema = kwargs.pop("schema", None)
        kwargs.pop("catalog", None)
        if access_token:
            # as Databricks takes a PAT over Basic auth: user "token" (the server records
            # the user name as table owner, so the token must not be it)
            header = "Basic " + base64.b64encode(f"token:{access_token}".encode()).decode()

            def provider() -> Any:
                return lambda: {"Authorization": header}

            kwargs["credentials_provider"] = provider
        kwargs["enable_telemetry"] = False
        original_init(self, server_hostname, http_path, **kwargs)
        if schema:
            cur = self.cursor()
            with contextlib.suppress(Exception):  # the schema may not exist yet
                cur.execute(f"use `{schema}`")
            cur.close()

    client.Connection.__init__ = connection_init
    _COMPAT_DONE = True


# -- the forwarder child process ------------------------------------------------------


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _relay(client_sock: socket.socket, inner_port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", inner_port), timeout=30)
    except OSError:
        client_sock.close()
        return
    upstream.settimeout(None)
    t = threading.Thread(target=_pipe, args=(upstream, client_sock), daemon=True)
    t.start()
    _pipe(client_sock, upstream)
    t.join()
    client_sock.close()
    upstream.close()


def _forward(ns_pid: int, port: int, inner_port: int) -> None:
    parent = os.getppid()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))  # in the test's namespace
    listener.listen(64)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/proc/{ns_pid}/ns/net", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:  # from here on, new sockets are the server's
        raise OSError(ctypes.get_errno(), "setns failed")

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_relay, args=(conn, inner_port), daemon=True).start()


if __name__ == "__main__" and sys.argv[1:2] == ["forward"]:
    _forward(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
