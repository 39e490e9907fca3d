"""The one SparkSession of this process, and Arrow in/out of it.

Started lazily on the first federated model (a JVM costs seconds and hundreds of MB, so
commands that never federate never pay for it) and reused by every later model, in a CLI
run or a notebook kernel alike. `spark.remote` in the conf selects Spark Connect instead.

Timestamps: the session uses `spark.sql.timestampType=TIMESTAMP_NTZ`, so naive Arrow
timestamps stay naive through Spark (and `cast(x as timestamp)` is naive, as in DuckDB,
PostgreSQL and Snowflake's default); tz-aware inputs come back as UTC instants.

JDBC: a local session gets the JDBC drivers found on the machine (Debian's
libpostgresql-jdbc-java, `DVT_JDBC_JARS`) in `spark.jars`, so large PostgreSQL inputs can be
read by Spark itself in parallel partitions (`jdbc_to_view`) instead of through Arrow.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import DatabaseError, DvtError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# the tag on every Spark job dvt starts, so a cancel interrupts those and no others
JOB_TAG = "dvt"

# Sized for a small machine (2 cores, 24 GiB): a 1M-row toArrow needs more than the
# default 1g driver; few shuffle partitions because inputs are small and local.
DEFAULT_CONF: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.app.name": "dvt",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
}
# only meaningful for a JVM we launch ourselves (not for Spark Connect)
_LOCAL_ONLY = ("spark.master", "spark.driver.", "spark.ui.", "spark.sql.warehouse.dir")
# our own keys, never passed to Spark
LOG_LEVEL_KEY = "dvt.spark.log_level"
DEFAULT_LOG_LEVEL = "ERROR"

_LOG4J = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
# pyspark runs as a "shell": Spark announces a log level change unless the level of the
# class that starts logging is configured and equals the root level
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = {level}
logger.sc.name = org.apache.spark.SparkContext
logger.sc.level = {level}
logger.gw.name = org.apache.spark.api.python.PythonGatewayServer
logger.gw.level = {level}
"""

# JDBC drivers: source type -> (driver class, jar installed by the OS package manager)
POSTGRES_JAR_ENV = "DVT_POSTGRES_JDBC_JAR"  # overrides the jar's path (tests, odd layouts)
JDBC_JARS_ENV = "DVT_JDBC_JARS"  # more jars for spark.jars, comma or os.pathsep separated
JDBC_DRIVERS: dict[str, tuple[str, str]] = {
    "postgres": ("org.postgresql.Driver", "/usr/share/java/postgresql.jar"),
}

_lock = threading.Lock()
_session: SparkSession | None = None
_workdir: Path | None = None


class SparkUnavailable(DvtError):
    kind = "Runtime Error"


def running_spark() -> SparkSession | None:
    """The shared SparkSession if federation has started it, else None (starts nothing)."""
    return _session


def spark_available() -> str | None:
    """None when pyspark and java are there, else why not (for skips and `dvt debug`)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'dvt-jupyter[spark]')"
    if shutil.which("java") is None and not _java_home():
        return "no Java runtime found (install Java 17+ or set JAVA_HOME)"
    return None


def _java_home() -> str | None:
    import os

    home = os.environ.get("JAVA_HOME")
    return home if home and Path(home, "bin", "java").exists() else None


def _quiet_imports() -> None:
    # pyspark warns at import about pandas >= 3; it is not actionable for our users
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")


def _quiet_python_loggers() -> None:
    # pyspark logs every SQL error as a JSON record with the JVM stack trace on stderr;
    # we raise the error (first line) ourselves, so the record is noise
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _workspace() -> Path:
    """A private temp dir for the warehouse and log config, removed at exit."""
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="dvt-spark-"))
        atexit.register(shutil.rmtree, _workdir, True)
    return _workdir


def effective_conf(conf: dict[str, Any] | None = None) -> dict[str, str]:
    """DEFAULT_CONF overlaid with `conf` (values as strings); Spark Connect drops local keys."""
    merged = dict(DEFAULT_CONF)
    merged.update({str(k): _conf_value(v) for k, v in (conf or {}).items()})
    if "spark.remote" in merged:
        merged = {k: v for k, v in merged.items() if not k.startswith(_LOCAL_ONLY)}
    return merged


def jdbc_jar(source_type: str) -> Path | None:
    """Where the JDBC driver jar of `source_type` is expected (it may be missing)."""
    if source_type not in JDBC_DRIVERS:
        return None
    if source_type == "postgres" and os.environ.get(POSTGRES_JAR_ENV):
        return Path(os.environ[POSTGRES_JAR_ENV])
    return Path(JDBC_DRIVERS[source_type][1])


def jdbc_jars() -> list[str]:
    """The JDBC jars present on this machine: the known drivers, then DVT_JDBC_JARS."""
    jars = [str(p) for t in JDBC_DRIVERS if (p := jdbc_jar(t)) is not None and p.is_file()]
    extra = os.environ.get(JDBC_JARS_ENV, "")
    for item in extra.replace(os.pathsep, ",").split(","):
        if item.strip() and Path(item.strip()).is_file():
            jars.append(item.strip())
    return jars


def _with_jdbc_jars(conf: dict[str, str]) -> dict[str, str]:
    """`conf` with the JDBC jars appended to spark.jars (the user's jars come first)."""
    have = [j.strip() for j in conf.get("spark.jars", "").split(",") if j.strip()]
    jars = have + [j for j in jdbc_jars() if j not in have]
    if jars:
        conf["spark.jars"] = ",".join(jars)
    return conf


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def get_spark(conf: dict[str, Any] | None = None) -> SparkSession:
    """The process's SparkSession, started on first call with DEFAULT_CONF + `conf`.

    Later calls return the same session; runtime-settable keys (spark.sql.*) in `conf`
    are applied to it, static ones (master, memory) only count at start.
    """
    global _session
    with _lock:
        if _session is not None and not _is_stopped(_session):
            _apply_runtime_conf(_session, conf or {})
            return _session
        reason = spark_available()
        if reason is not None:
            raise SparkUnavailable(f"federation needs Spark: {reason}",
                                   hint="run `dvt sync` or pip install pyspark")
        _session = _start(effective_conf(conf))
        return _session


def _is_stopped(session: SparkSession) -> bool:
    try:
        return bool(session._jsc is None or session._jsc.sc().isStopped())  # type: ignore[attr-defined]
    except Exception:  # Spark Connect sessions have no _jsc
        return bool(getattr(session, "is_stopped", False))


def _start(conf: dict[str, str]) -> SparkSession:
    _quiet_imports()
    from pyspark.sql import SparkSession

    level = conf.pop(LOG_LEVEL_KEY, DEFAULT_LOG_LEVEL).upper()
    builder = SparkSession.builder
    if "spark.remote" in conf:
        builder = builder.remote(conf.pop("spark.remote"))
    else:
        work = _workspace()
        log4j = work / "log4j2.properties"
        log4j.write_text(_LOG4J.format(level=level))
        conf.setdefault("spark.sql.warehouse.dir", str(work / "warehouse"))
        _with_jdbc_jars(conf)
        # the driver JVM reads this at launch: keeps Spark's startup chatter out of notebooks
        java_opts = conf.get("spark.driver.extraJavaOptions", "")
        conf["spark.driver.extraJavaOptions"] = (
            f"{java_opts} -Dlog4j2.configurationFile=file:{log4j}".strip())
        _launch_jvm(conf, work / "jvm-stderr.log")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailable(f"could not start Spark: {_first_line(exc)}",
                               hint="check Java (17+) and the spark settings") from None
    if "spark.remote" not in conf:
        session.sparkContext.setLogLevel(level)
    _quiet_python_loggers()
    return session


def _launch_jvm(conf: dict[str, str], stderr_path: Path) -> None:
    """Start Spark's JVM with its stderr in a file: the launcher writes warnings there
    ("WARNING: Using incubator modules ...") before any log setting applies, and a
    notebook shows them as an error box. Best effort: pyspark launches it otherwise."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # type: ignore[attr-defined]
        return  # a JVM from an earlier session in this process is reused
    spark_conf = SparkConf(loadDefaults=False)
    for key, value in conf.items():
        spark_conf.set(key, value)
    try:
        with stderr_path.open("ab") as stderr:
            gateway = launch_gateway(spark_conf, popen_kwargs={"stderr": stderr})
        SparkContext._ensure_initialized(gateway=gateway)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - pyspark's own launch says what is wrong
        return


def _apply_runtime_conf(session: SparkSession, conf: dict[str, Any]) -> None:
    for key, value in conf.items():
        if key.startswith("spark.sql.") and key != "spark.sql.warehouse.dir":
            session.conf.set(key, _conf_value(value))


def stop_spark() -> None:
    """Stop the shared session (tests, kernel shutdown); the next get_spark starts anew."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- Arrow in --------------------------------------------------------------------------


def spark_compatible(table: pa.Table) -> pa.Table:
    """Cast Arrow types Spark cannot take to the nearest ones it can (values kept)."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        target = _spark_type(field.type)
        if target != field.type:
            # nanoseconds are truncated to Spark's microseconds (safe=False); every other
            # cast widens, so it cannot lose values
            column = table.column(i).cast(target, safe=not pa.types.is_timestamp(target))
            table = table.set_column(i, pa.field(field.name, target, field.nullable), column)
    return table


def _spark_type(dtype: pa.DataType) -> pa.DataType:
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_dictionary(dtype):
        return _spark_type(dtype.value_type)
    if pt.is_unsigned_integer(dtype):
        # widen so every value fits: u8->i16, u16->i32, u32->i64, u64->decimal(20,0)
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}.get(dtype.bit_width,
                                                                     pa.decimal128(20, 0))
    if pt.is_large_string(dtype) or pt.is_string_view(dtype):
        return pa.string()
    if pt.is_large_binary(dtype) or pt.is_binary_view(dtype):
        return pa.binary()
    if pt.is_timestamp(dtype) and dtype.unit == "ns":
        # Spark keeps microseconds; say so in the type instead of failing on overflow
        return pa.timestamp("us", tz=dtype.tz)
    if pt.is_time(dtype):
        return pa.string()  # Spark has no TIME type: 'HH:MM:SS[.ffffff]'
    if pt.is_decimal256(dtype) and dtype.precision <= 38:
        return pa.decimal128(dtype.precision, dtype.scale)
    if pt.is_large_list(dtype) or pt.is_list(dtype):
        return pa.list_(pa.field(dtype.value_field.name, _spark_type(dtype.value_type)))
    if pt.is_struct(dtype):
        return pa.struct([pa.field(f.name, _spark_type(f.type), f.nullable) for f in dtype])
    return dtype


def arrow_to_view(spark: SparkSession, table: pa.Table, name: str) -> DataFrame:
    """Register `table` as temp view `name` in `spark`; returns its DataFrame.

    A column type Spark cannot take raises a DatabaseError naming the columns."""
    table = spark_compatible(table)
    try:
        df = _create_dataframe(spark, table)
    except Exception as exc:
        bad = _unsupported_columns(spark, table)
        if not bad:
            raise DatabaseError(f"Spark: {_spark_message(exc)}") from None
        raise DatabaseError(
            f"Spark cannot take column{'s' if len(bad) != 1 else ''} "
            + ", ".join(f"{column} ({dtype})" for column, dtype in bad)
            + f": {_spark_message(exc)}",
            hint="Cast the column in the model's SQL (e.g. to text), or set "
                 "`federation_route: stage` on the model to compute it on its target.",
        ) from None
    df.createOrReplaceTempView(name)
    return df


def _create_dataframe(spark: SparkSession, table: pa.Table) -> DataFrame:
    import pyspark

    if int(pyspark.__version__.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    # pyspark 3.x cannot take a pyarrow.Table; pandas keeps types via Arrow
    return spark.createDataFrame(table.to_pandas(types_mapper=None))


def _unsupported_columns(spark: SparkSession, table: pa.Table) -> list[tuple[str, str]]:
    """The columns Spark refuses, tried one by one on an empty slice (the error path only)."""
    bad = []
    for field in table.schema:
        try:
            _create_dataframe(spark, table.select([field.name]).slice(0, 0))
        except Exception:  # noqa: BLE001 - any refusal names the column
            bad.append((field.name, str(field.type)))
    return bad


# -- Arrow out ------------------------------------------------------------------------


def run_to_arrow(spark: SparkSession, sql: str,
                 naive_timestamps: bool | Iterable[str] = False) -> pa.Table:
    """Run `sql` in Spark and return the result as Arrow.

    naive_timestamps: True, or the names of columns, whose tz-aware (UTC) timestamps are
    returned naive (UTC wall clock) - for targets or columns that were naive at the source.
    """
    try:
        with _tagged(spark):
            df = spark.sql(sql)
            table = df.toArrow() if hasattr(df, "toArrow") else _via_pandas(df)
    except Exception as exc:
        if _job_cancelled(exc):
            # by a run's cancel, or by Ctrl-C: PySpark's SIGINT handler cancels every job
            # and raises KeyboardInterrupt, which toArrow's cleanup replaces by this error
            raise KeyboardInterrupt from None
        raise DatabaseError(f"Spark: {_spark_message(exc)}") from None
    return _strip_tz(table, naive_timestamps)


def _job_cancelled(exc: BaseException) -> bool:
    """Whether `exc` is Spark's report of a cancelled job (SPARK_JOB_CANCELLED and the
    older wordings), anywhere in its Java cause chain."""
    words = ("SPARK_JOB_CANCELLED", "cancelled part of cancelled job",
             "cancelled as part of cancellation of all jobs")
    return any(w in text for text in _java_messages(exc) + [str(exc)] for w in words)


def _java_messages(exc: BaseException) -> list[str]:
    """The messages of the Java exception behind `exc` and its causes, outermost first."""
    throwable = getattr(exc, "_origin", None) or getattr(exc, "java_exception", None)
    messages: list[str] = []
    try:
        while throwable is not None:
            text = throwable.getMessage()
            if text:
                messages.append(str(text))
            throwable = throwable.getCause()
    except Exception:  # noqa: BLE001 - the JVM is gone: Python's text must do
        pass
    return messages


def _context(spark: SparkSession) -> Any:
    """The session's SparkContext; None under Spark Connect, which has none."""
    try:
        return spark.sparkContext
    except Exception:
        return None


@contextlib.contextmanager
def _tagged(spark: SparkSession) -> Iterator[None]:
    """Tag the Spark jobs this thread starts with JOB_TAG, for `cancel_jobs`. A local
    session needs SparkContext job tags: the session's operation tags do not reach jobs
    that toArrow runs in its serving thread."""
    sc = _context(spark)
    add, remove = ((sc.addJobTag, sc.removeJobTag) if sc is not None
                   else (spark.addTag, spark.removeTag))
    add(JOB_TAG)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            remove(JOB_TAG)


def cancel_jobs() -> None:
    """Interrupt the Spark jobs dvt is running (Ctrl-C, a front end's cancel); the user's
    own jobs in the shared session go on. Nothing to do when Spark never started."""
    session = _session
    if session is None:
        return
    with contextlib.suppress(Exception):  # a stopped or unreachable session runs nothing
        sc = _context(session)
        if sc is not None:
            sc.cancelJobsWithTag(JOB_TAG)
        else:
            session.interruptTag(JOB_TAG)


def _via_pandas(df: DataFrame) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def _strip_tz(table: pa.Table, which: bool | Iterable[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.types as pt

    if which is False:
        return table
    names = None if which is True else {n.casefold() for n in which}  # type: ignore[union-attr]
    fields, changed = [], False
    for field in table.schema:
        dtype = field.type
        if (pt.is_timestamp(dtype) and dtype.tz is not None
                and (names is None or field.name.casefold() in names)):
            # the values are UTC instants; dropping the zone keeps the UTC wall clock
            dtype, changed = pa.timestamp(dtype.unit), True
        fields.append(pa.field(field.name, dtype, field.nullable))
    return table.cast(pa.schema(fields)) if changed else table


def _spark_message(exc: BaseException) -> str:
    """The useful first line of a Spark error (no JVM stack trace). A bare Py4J error says
    only "An error occurred while calling o69.getResult": then the innermost Java cause."""
    text = getattr(exc, "getMessage", lambda: str(exc))() if hasattr(exc, "getMessage") else str(exc)
    if str(text).startswith("An error occurred while calling"):
        text = next(reversed(_java_messages(exc)), text)
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


# -- JDBC in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JdbcPartitioning:
    """How Spark splits a JDBC read: ranges of an integer column, one connection each."""

    column: str
    lower: int
    upper: int
    partitions: int


def jdbc_available(spark: SparkSession, source_type: str = "postgres") -> bool:
    """Whether the JDBC driver of `source_type` loads in `spark` (False, never an error, for
    a session started before the jar was there, Spark Connect or an unknown source)."""
    driver = JDBC_DRIVERS.get(source_type)
    if driver is None:
        return False
    try:
        jvm = spark._jvm  # type: ignore[attr-defined]  # Spark Connect has none
        if jvm is None:
            return False
        # Spark's own lookup: the context class loader, which holds spark.jars
        jvm.org.apache.spark.util.Utils.classForName(driver[0], True, False)
    except Exception:  # noqa: BLE001 - any failure means "cannot use JDBC here"
        return False
    return True


def jdbc_to_view(spark: SparkSession, url: str, properties: dict[str, str], query: str,
                 view_name: str, partitioning: JdbcPartitioning | None = None,
                 fetchsize: int = 10_000) -> None:
    """Make `(query) as dvt_q` over JDBC the temp view `view_name`.

    The view is not cached: the model's query reads the source as it runs (caching first
    cost a second pass, about 0.3 s per 236k rows here). The password stays in
    `properties` (never in `url`) and is scrubbed from any error; a wrong one shows when
    the model's query runs (see `scrubbed_jdbc_error`) and here for the schema lookup.
    """
    reader = (spark.read.format("jdbc").option("url", url)
              .option("dbtable", f"(\n{query.strip().rstrip(';')}\n) as dvt_q")
              .option("fetchsize", str(fetchsize))
              # naive timestamps stay naive, as on the Arrow path (TIMESTAMP_NTZ session)
              .option("preferTimestampNTZ", "true"))
    for key, value in properties.items():
        reader = reader.option(key, value)
    if partitioning is not None:
        reader = (reader.option("partitionColumn", partitioning.column)
                  .option("lowerBound", str(partitioning.lower))
                  .option("upperBound", str(partitioning.upper))
                  .option("numPartitions", str(partitioning.partitions)))
    try:
        reader.load().createOrReplaceTempView(view_name)  # connects: reads the schema
    except Exception as exc:
        with contextlib.suppress(Exception):  # dropping also uncaches
            spark.catalog.dropTempView(view_name)
        raise DatabaseError(_scrub(f"Spark JDBC: {_root_message(exc)}",
                                   properties.get("password"))) from None


def _root_message(exc: BaseException) -> str:
    """The first line of the innermost Java cause: the driver's own words (`FATAL: password
    authentication failed ...`), not Spark's wrapper (`Couldn't connect to the database`)."""
    message = next(reversed(_java_messages(exc)), "")
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return lines[0] if lines else _spark_message(exc)


def _scrub(text: str, secret: str | None) -> str:
    from urllib.parse import quote

    if secret:
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, "****")
    return text
