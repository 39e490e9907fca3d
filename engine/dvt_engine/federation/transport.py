"""Move a federated model's inputs into Spark views: through Arrow, or Spark's JDBC reader.

Two paths per extraction:
- Arrow (every adapter): `read_arrow` on the source's connection (ADBC or COPY for
  PostgreSQL), then `arrow_to_view`. Cheap for small inputs, but Spark converts the Arrow
  batches to rows on one core when the model's query runs.
- JDBC (PostgreSQL, when the driver jar loads in the session): Spark reads the extraction
  itself, in parallel partitions over an integer id column, as a temp view (not cached:
  the model's query reads the source as it runs).

`auto` (the default) takes JDBC when the source's row estimate reaches JDBC_MIN_ROWS; an
output's `federation_transport: arrow|jdbc|auto` in profiles.yml forces a path, and
`federation_jdbc_min_rows` moves the threshold. The log line names the path:
`pg_src.events: 2 of 7 columns, 1 predicate pushed down, 236,139 rows via JDBC (2 partitions)
in 0.84s`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import DvtError, ProjectError
from dvt_engine.federation.extract import Extraction, FederatedQuery

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from dvt_engine.adapters.base import Adapter
    from dvt_engine.federation.spark import JdbcPartitioning

# Measured on this project's 2-core machine, otherwise idle (local[2], PostgreSQL 15 on
# loopback, pgjdbc 42.5, adbc-driver-postgresql 1.13; 6 columns: bigint, int, numeric(12,2),
# text, timestamp, bool): time until the view is ready plus one aggregate over it (what a
# model does), median of 3, in seconds:
#   rows    ADBC  COPY   JDBC: 1 partition  2     4     8
#   100k    0.51  0.52         0.63         0.58  0.61  0.71
#   200k    0.86  0.84         0.81         0.50  0.65  0.76
#   500k    2.27  2.49         1.44         1.00  1.34  1.55
#   1M      5.17  4.44         3.04         1.83  2.13  2.29
# ADBC reads 1M rows in 0.9s, but Spark then spends ~3.5s turning the Arrow batches into
# rows on one core; JDBC reads straight into Spark rows, one connection per partition.
# The lines cross between 100k and 200k rows; one partition per core is best.
JDBC_MIN_ROWS = 150_000
ROWS_PER_PARTITION = 100_000  # capped at one partition per core (defaultParallelism)
JDBC_FETCHSIZE = 10_000
TRANSPORT_SETTING = "federation_transport"
MIN_ROWS_SETTING = "federation_jdbc_min_rows"
_MODES = ("auto", "arrow", "jdbc")


@dataclass
class Extracted:
    """One extraction's result (an Arrow table, or rows already in a Spark view) and cost."""

    extraction: Extraction
    table: pa.Table | None
    seconds: float
    path: str = "Arrow"  # how the rows moved: "ADBC", "COPY", "JDBC (4 partitions)", ...
    row_count: int | None = None  # when there is no table (JDBC)

    @property
    def rows(self) -> int:
        if self.row_count is not None:
            return self.row_count
        return self.table.num_rows if self.table is not None else 0

    @property
    def nbytes(self) -> int | None:
        return int(self.table.nbytes) if self.table is not None else None

    def message(self) -> str:
        size = f" ({_size(self.nbytes)})" if self.nbytes is not None else ""
        return (f"{self.extraction.summary()}, {self.rows:,} row{'s' if self.rows != 1 else ''}"
                f" via {self.path}{size} in {self.seconds:.2f}s")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


# -- choosing the path ---------------------------------------------------------------------


@dataclass
class Route:
    """The path chosen for one extraction before Spark starts."""

    extraction: Extraction
    adapter: Adapter
    jdbc: bool
    forced: bool = False  # federation_transport: jdbc
    estimate: int | None = None


def transport_mode(adapter: Adapter) -> str:
    """The output's `federation_transport` (auto when unset); a ProjectError if unknown."""
    raw = adapter.output.settings.get(TRANSPORT_SETTING)
    mode = str(raw or "auto").strip().lower()
    if mode not in _MODES:
        raise ProjectError(f"output '{adapter.name}': {TRANSPORT_SETTING} is '{raw}'",
                           hint=f"Use one of {', '.join(_MODES)} in profiles.yml.")
    return mode


def _min_rows(adapter: Adapter) -> int:
    raw = adapter.output.settings.get(MIN_ROWS_SETTING)
    if raw is None or raw == "":
        return JDBC_MIN_ROWS
    try:
        return max(int(raw), 0)
    except (TypeError, ValueError):
        raise ProjectError(f"output '{adapter.name}': {MIN_ROWS_SETTING} is '{raw}'",
                           hint="Use a whole number of rows.") from None


def _jdbc_capable(adapter: Adapter) -> bool:
    from dvt_engine.federation.spark import JDBC_DRIVERS

    return adapter.type in JDBC_DRIVERS and hasattr(adapter, "jdbc_source")


def choose_route(adapter: Adapter, extraction: Extraction) -> Route:
    """JDBC when the output allows it, the source can, the driver jar is on this machine (or
    the path is forced) and the estimate reaches the threshold; else Arrow."""
    from dvt_engine.federation.spark import jdbc_jar

    mode = transport_mode(adapter)
    if mode == "arrow":
        return Route(extraction, adapter, jdbc=False)
    if not _jdbc_capable(adapter):
        if mode == "jdbc":
            raise ProjectError(f"output '{adapter.name}': {TRANSPORT_SETTING}: jdbc, but DVT "
                               f"reads {adapter.type} connections through Arrow only",
                               hint=f"Remove {TRANSPORT_SETTING} or set it to arrow.")
        return Route(extraction, adapter, jdbc=False)
    if mode == "jdbc":
        return Route(extraction, adapter, jdbc=True, forced=True)
    jar = jdbc_jar(adapter.type)
    if jar is None or not jar.is_file():
        return Route(extraction, adapter, jdbc=False)
    estimate = adapter.estimate_rows(extraction.sql)  # type: ignore[attr-defined]
    big = estimate is not None and estimate >= _min_rows(adapter)
    return Route(extraction, adapter, jdbc=big, estimate=estimate)


# -- the two paths ---------------------------------------------------------------------------


def extract_to_arrow(adapter: Adapter, extraction: Extraction) -> Extracted:
    """Run `extraction.sql` on `adapter` (its connection) and return the Arrow result."""
    start = time.perf_counter()
    try:
        table = adapter.read_arrow(extraction.sql)
    except DvtError as exc:
        # the connection by its profile name: the relation's key alone may not say which
        exc.message = (f"extracting {extraction.key} for federation from connection "
                       f"'{adapter.name}': {exc.message}")
        if extraction.ambiguous_columns and exc.hint is None:
            exc.hint = ("columns " + ", ".join(extraction.ambiguous_columns) + " were not "
                        "qualified and may belong to another relation: qualify them "
                        "(alias.column) in the model")
        raise
    return Extracted(extraction, table, time.perf_counter() - start,
                     path=str(getattr(adapter, "arrow_transport", "Arrow")))


def extract_with_jdbc(spark: SparkSession, adapter: Adapter, extraction: Extraction,
                      estimate: int | None = None) -> Extracted:
    """Spark reads `extraction.sql` over JDBC as the view `extraction.view_name`.

    With an integer id column and enough rows, the read is split into ranges of it, one
    connection each (each range is its own transaction, as with any Spark JDBC read).
    """
    from dvt_engine.federation.spark import jdbc_to_view

    start = time.perf_counter()
    url, props = adapter.jdbc_source()  # type: ignore[attr-defined]
    try:
        partitioning, rows = _partitioning(spark, adapter, extraction, estimate)
        jdbc_to_view(spark, url, props, extraction.sql, extraction.view_name,
                     partitioning, JDBC_FETCHSIZE)
        if rows is None:  # the log line's figure: one count on the source
            rows = _count(adapter, extraction.sql)
    except DvtError as exc:
        scrub = getattr(adapter, "_scrub", lambda text: text)
        exc.message = (f"extracting {extraction.key} for federation over JDBC from "
                       f"connection '{adapter.name}': {scrub(exc.message)}")
        exc.hint = exc.hint or (f"Check host, port, user, password and dbname of output "
                                f"'{adapter.name}' in profiles.yml, or set "
                                f"{TRANSPORT_SETTING}: arrow on it to read through "
                                f"{getattr(adapter, 'arrow_transport', 'Arrow')}.")
        raise
    n = partitioning.partitions if partitioning is not None else 1
    return Extracted(extraction, None, time.perf_counter() - start,
                     path=f"JDBC ({n} partition{'s' if n != 1 else ''})", row_count=rows)


def _count(adapter: Adapter, sql: str) -> int:
    _, found = adapter.execute(f"select count(*) from (\n{sql.strip().rstrip(';')}\n) as dvt_q",
                               fetch=True)
    return int(next(iter(found.to_pylist()[0].values()))) if found is not None else 0


def _partitioning(spark: SparkSession, adapter: Adapter, extraction: Extraction,
                  estimate: int | None) -> tuple[JdbcPartitioning | None, int | None]:
    """Ranges of an integer id column, sized ROWS_PER_PARTITION, at most one per core; and
    the rows, when the bounds query counted them."""
    from dvt_engine.federation.spark import JdbcPartitioning

    if estimate is None:
        estimate = adapter.estimate_rows(extraction.sql)  # type: ignore[attr-defined]
    wanted = math.ceil((estimate or 0) / ROWS_PER_PARTITION)
    cap = max(int(spark.sparkContext.defaultParallelism), 1)
    # every partition runs the query again: a LIMIT without ORDER BY may differ per run
    if min(wanted, cap) < 2 or extraction.limit is not None:
        return None, None
    column = _id_column(adapter, extraction.sql)
    if column is None:
        return None, None
    body = extraction.sql.strip().rstrip(";")
    _, bounds = adapter.execute(f'select min("{column}"), max("{column}"), count(*) from '
                                f"(\n{body}\n) as dvt_q", fetch=True)
    low, high, rows = bounds.to_pylist()[0].values() if bounds is not None else (None,) * 3
    if low is None or high is None:
        return None, rows
    partitions = min(wanted, cap, int(high) - int(low) + 1)
    if partitions < 2:
        return None, rows
    return JdbcPartitioning(column, int(low), int(high), partitions), rows


def _id_column(adapter: Adapter, sql: str) -> str | None:
    """An integer column of the extraction named id, else one ending in _id."""
    import pyarrow.types as pt

    _, empty = adapter.execute(f"select * from (\n{sql.strip().rstrip(';')}\n) as dvt_q limit 0",
                               fetch=True)
    if empty is None:
        return None
    ints = [f.name for f in empty.schema if pt.is_integer(f.type)]
    for name in ints:
        if name.lower() == "id":
            return name
    return next((n for n in ints if n.lower().endswith("_id")), None)


# -- loading a model's inputs ---------------------------------------------------------------


def load_input(spark: SparkSession, adapter: Adapter, extraction: Extraction) -> Extracted:
    """One extraction into its temp view, by the path `choose_route` picks."""
    return _load(spark, choose_route(adapter, extraction), None)


def _load(spark: SparkSession, route: Route, done: Extracted | None) -> Extracted:
    """Register `route`'s view: over JDBC when chosen and the driver loads, else from Arrow
    (`done`: already extracted before Spark started)."""
    from dvt_engine.federation.spark import arrow_to_view, jdbc_available

    if route.jdbc:
        if jdbc_available(spark, route.adapter.type):
            return extract_with_jdbc(spark, route.adapter, route.extraction, route.estimate)
        if route.forced:
            raise DvtError(
                f"extracting {route.extraction.key} for federation: {TRANSPORT_SETTING}: jdbc "
                f"on output '{route.adapter.name}', but the {route.adapter.type} JDBC driver "
                "does not load in this Spark session",
                hint="Run `dvt sync` (it installs the driver jar) and start a new session, "
                     "or add the jar to spark.jars.")
    result = done if done is not None else extract_to_arrow(route.adapter, route.extraction)
    assert result.table is not None
    try:
        arrow_to_view(spark, result.table, route.extraction.view_name)
    except DvtError as exc:  # a type Spark cannot take: say whose column it is
        exc.message = (f"moving {route.extraction.key} from connection '{route.adapter.name}' "
                       f"into Spark: {exc.message}")
        raise
    return result


def load_inputs(extractions: Sequence[Extraction], adapter_for: Callable[[Extraction], Adapter],
                start_spark: Callable[[], Any], done: Sequence[Extracted] = ()
                ) -> tuple[SparkSession, list[Extracted]]:
    """Every extraction into its view; the session (started by `start_spark`) and results.

    Arrow-path extractions run before Spark starts, so a failing source fails fast without
    a JVM start; JDBC ones need the session. On failure the views made so far are dropped.
    """
    # `done`: inputs already extracted to Arrow (while choosing the staged route)
    ready = {d.extraction.view_name: d for d in done}
    routes = [Route(e, adapter_for(e), jdbc=False) if e.view_name in ready
              else choose_route(adapter_for(e), e) for e in extractions]
    early = {id(r): ready.get(r.extraction.view_name)
             or extract_to_arrow(r.adapter, r.extraction) for r in routes if not r.jdbc}
    spark = start_spark()
    results: list[Extracted] = []
    try:
        for route in routes:
            results.append(_load(spark, route, early.get(id(route))))
    except BaseException:
        with contextlib.suppress(Exception):
            drop_views(spark, extractions)
        raise
    return spark, results


def load_views(spark: SparkSession, plan: FederatedQuery,
               adapter_for: Callable[[Extraction], Adapter]) -> list[Extracted]:
    """Extract every relation of `plan` and register it as its temp view in `spark`."""
    _, results = load_inputs(plan.all_extractions, adapter_for, lambda: spark)
    return results


def drop_views(spark: SparkSession, plan: FederatedQuery | Sequence[Extraction]) -> None:
    """Forget the temp views (the shared session outlives the model)."""
    extractions = plan.all_extractions if isinstance(plan, FederatedQuery) else plan
    for extraction in extractions:
        with contextlib.suppress(Exception):  # views never registered need no dropping
            spark.catalog.dropTempView(extraction.view_name)
