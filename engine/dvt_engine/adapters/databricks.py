"""Databricks: databricks-sql-connector directly, one connection per thread.

Profile keys as dbt-databricks: host, http_path, token, catalog (or database), schema,
threads, connect_retries, connect_timeout; plus `connection_uri`, a full URL that
overrides host + http_path (private links, local stand-ins).

Names as dbt-databricks writes them: backtick-quoted `catalog`.`schema`.`table`; without
a catalog (OSS Spark's single `spark_catalog`, or a workspace without Unity Catalog)
relations are schema.table. There are no transactions: `transaction()` only groups.
No information_schema is assumed (OSS Spark has none): the catalog comes from
SHOW TABLES / SHOW VIEWS / DESCRIBE TABLE.

Tables are created `USING DELTA`. MERGE and DELETE need real Delta (Databricks); the
append strategy works everywhere.

Bulk paths: reads via the cursor's `fetchall_arrow()`; writes create the table, then
INSERT ... SELECT cast(col AS type) FROM VALUES (...) in batches (one parse per batch).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters.base import (
    Adapter,
    AdapterResponse,
    plain_schema,
    seed_column_type,
    text_batches,
)
from dvt_engine.adapters.column import Column
from dvt_engine.adapters.connections import ThreadConnections, quiet_close
from dvt_engine.adapters.relation import Relation
from dvt_engine.errors import DatabaseError, ProjectError
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy

_BATCH_CHARS = 512 << 10  # per INSERT: keeps the Thrift payload and Spark's parse small
_NOT_FOUND = ("SCHEMA_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND", "NoSuchDatabase",
              "NoSuchNamespace", "not found")


class DatabricksColumn(Column):
    """dbt-spark's Column: types as Spark names them, backtick quoting, CAST literals."""

    @classmethod
    def translate_type(cls, dtype: str) -> str:
        return dtype

    def can_expand_to(self, other_column: Column) -> bool:
        return self.is_string() and other_column.is_string()

    def literal(self, value: Any) -> str:
        return f"cast({value} as {self.dtype})"

    @property
    def quoted(self) -> str:
        return f"`{self.column}`"

    @property
    def data_type(self) -> str:
        return self.dtype

    @classmethod
    def numeric_type(cls, dtype: str, precision: Any, scale: Any) -> str:
        # Spark SQL knows decimal only (no numeric, no number)
        if precision is None or scale is None:
            return "decimal"
        return f"decimal({precision},{scale})"


class DatabricksAdapter(Adapter):
    Column = DatabricksColumn
    type = "databricks"
    dialect = "databricks"
    supports_transactional_ddl = False
    quote_char = "`"
    table_options = " using delta"
    secret_keys = ("token", "access_token")
    drop_looks_up_kind = True
    rename_to_qualified = True

    def __init__(self, output: Output, project_root: Path) -> None:
        super().__init__(output, project_root)
        self._conns: ThreadConnections[Any] = ThreadConnections(self._connect, quiet_close)
        self._schemas_made: set[tuple[str, str]] = set()
        # the cursors running a statement now, for `cancel` from another thread
        self._running: set[Any] = set()
        self._running_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------
    @property
    def database(self) -> str:
        return str(self._setting("catalog", "database", default=""))

    def relation(self, database: str | None, schema: str | None, identifier: str | None,
                 type: str | None = None) -> Relation:
        # no catalog configured: two-part names (the session's default catalog)
        return Relation(database or None, schema, identifier, type, quote_character="`")

    def ddl_name(self, relation: Relation) -> str:
        return str(relation)  # backticks; two parts without a catalog

    # -- connection -------------------------------------------------------------
    def _connect_args(self) -> dict[str, Any]:
        uri = self._setting("connection_uri")
        missing = [k for k in ("host", "http_path") if not self._setting(k) and not uri]
        if missing:
            raise ProjectError(
                f"Output '{self.name}' (databricks) is missing: {', '.join(missing)}",
                hint="Set host, http_path, token, catalog and schema in profiles.yml.")
        if not self._secret:
            raise ProjectError(
                f"Output '{self.name}' (databricks) has no token",
                hint="Set `token:` (a personal access token) in profiles.yml; only token "
                     "authentication is supported yet.")
        host = str(self._setting("host", default="localhost"))
        host = host.removeprefix("https://").removeprefix("http://").rstrip("/")
        args: dict[str, Any] = {
            "server_hostname": host,
            "http_path": str(self._setting("http_path", default="")),
            "access_token": self._secret,
            "user_agent_entry": "dvt",
            "_socket_timeout": int(self._setting("connect_timeout", default=900)),
            "_retry_stop_after_attempts_count": int(self._setting("connect_retries",
                                                                  default=1)) + 1,
        }
        if uri:
            args["_connection_uri"] = str(uri)
        if self.database:
            args["catalog"] = self.database
        if self.schema:
            args["schema"] = self.schema
        return args

    def _create_engine(self) -> sqlalchemy.Engine:
        raise ProjectError(
            f"Output '{self.name}' (databricks) has no SQLAlchemy engine yet",
            hint="Use the adapter's read_arrow, or databricks-sqlalchemy directly.")

    def open(self) -> None:
        self._conn()

    def _conn(self) -> Any:
        return self._conns.get()

    def _connect(self) -> Any:
        from databricks import sql

        args = self._connect_args()
        try:
            return sql.connect(**args)
        except Exception as exc:  # noqa: BLE001 - the connector raises many kinds
            raise DatabaseError(self._scrub(_one_line(exc)), node=f"target {self.name}",
                                hint=f"Check host, http_path and token of output "
                                     f"'{self.name}' in profiles.yml.") from None

    def cancel(self) -> None:
        """Cancel the running statements (the connector's Cursor.cancel may be called from
        another thread: the server stops the operation and the statement raises)."""
        with self._running_lock:
            running = list(self._running)
        for cur in running:
            with contextlib.suppress(Exception):  # finished meanwhile: nothing to stop
                cur.cancel()

    def close(self) -> None:
        self._conns.close()

    # -- statements -------------------------------------------------------------
    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        from databricks.sql.exc import Error

        conn = self._conn()
        started = time.perf_counter()
        try:
            cur = conn.cursor()
            with self._running_lock:
                self._running.add(cur)
            try:
                cur.execute(sql)  # no parameters: the text is sent as written
                table = _fetch_arrow(cur) if fetch else None
                rows = cur.rowcount if cur.rowcount is not None and cur.rowcount >= 0 else None
            finally:
                with self._running_lock:
                    self._running.discard(cur)
                cur.close()
        except Error as exc:
            if not getattr(conn, "open", True):
                self._forget(conn)
            raise DatabaseError(self._scrub(_one_line(exc))) from None
        self.report(sql, started)
        return AdapterResponse("OK", "OK", rows), table

    def _forget(self, conn: Any) -> None:
        self._conns.forget(conn)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Databricks SQL has no multi-statement transactions: each statement commits
        yield

    # -- catalog ----------------------------------------------------------------
    def list_relations_uncached(self, database: str, schema: str) -> list[Relation]:
        where = self.qualified(database, schema)
        try:
            tables = self.fetch_dicts(f"show tables in {where}")
            views = {str(r.get("viewName") or r.get("tableName") or "").lower()
                     for r in self.fetch_dicts(f"show views in {where}")}
        except DatabaseError as exc:
            if any(marker.lower() in exc.message.lower() for marker in _NOT_FOUND):
                return []
            raise
        out = []
        for row in tables:
            if row.get("isTemporary"):
                continue
            name = str(row["tableName"])
            kind = "view" if name.lower() in views else "table"
            out.append(self.relation(database, schema, name, kind))
        return out

    def schema_exists(self, database: str | None, schema: str) -> bool:
        try:
            self.execute(f"describe schema {self.qualified(database, schema)}")
        except DatabaseError:
            return False
        return True

    def create_schema(self, database: str | None, schema: str) -> None:
        key = ((database or self.database).lower(), schema.lower())
        if key in self._schemas_made:
            return
        self.execute(f"create schema if not exists {self.qualified(database, schema)}")
        self._schemas_made.add(key)

    def get_columns(self, relation: Relation) -> list[Column]:
        """DESCRIBE TABLE's rows up to the first blank or `#` line (partition info)."""
        rows = self.fetch_dicts(f"describe table {relation}")
        out = []
        for row in rows:
            name = str(row.get("col_name") or "")
            if not name or name.startswith("#"):
                break
            out.append(DatabricksColumn(name, str(row.get("data_type") or "")))
        return out

    # -- DDL --------------------------------------------------------------------
    def create_view_as(self, relation: Relation, sql: str) -> AdapterResponse:
        resp, _ = self.execute(f"create or replace view {relation} as\n{sql}\n")
        return resp

    def create_table_as(self, relation: Relation, sql: str) -> AdapterResponse:
        resp, _ = self.execute(f"create table {relation} using delta as\n{sql}\n")
        return resp

    def insert_into(self, target: Relation, source: Relation, columns: list[str]) -> AdapterResponse:
        cols = ", ".join(self.quote(c) for c in columns)
        resp, _ = self.execute(f"insert into {target} ({cols}) select {cols} from {source}")
        return resp

    def delete_matching(self, target: Relation, source: Relation, keys: list[str]) -> None:
        # needs Delta (DELETE); Databricks accepts the IN-subquery form
        cond = " and ".join(f"{self.quote(k)} in (select {self.quote(k)} from {source})"
                            for k in keys) if len(keys) == 1 else \
            f"({', '.join(self.quote(k) for k in keys)}) in (select " \
            f"{', '.join(self.quote(k) for k in keys)} from {source})"
        self.execute(f"delete from {target} where {cond}")

    def alter_column_type(self, relation: Relation, name: str, dtype: str) -> None:
        self.execute(f"alter table {relation} alter column {self.quote(name)} type {dtype}")

    def add_column(self, relation: Relation, name: str, dtype: str) -> None:
        self.execute(f"alter table {relation} add columns ({self.quote(name)} {dtype})")

    # -- Arrow writes -----------------------------------------------------------
    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        columns = [(f.name, _spark_type(f.type)) for f in table.schema]
        self._create_and_fill(relation, columns,
                              lambda: self._insert_values(relation, columns, table))
        return table.num_rows

    def _insert_values(self, relation: Relation, columns: list[tuple[str, str]],
                       table: pa.Table) -> None:
        """INSERT ... SELECT cast(cN AS type) FROM VALUES (...) AS v(c0, c1, ...): values
        travel as literals (text for seeds) and Spark casts them to the column types."""
        if table.num_rows == 0:
            return
        names = ", ".join(self.quote(n) for n, _ in columns)
        aliases = ", ".join(f"c{i}" for i in range(len(columns)))
        select = ", ".join(f"cast(c{i} as {t})" for i, (_, t) in enumerate(columns))
        head = f"insert into {relation} ({names}) select {select} from values "
        tail = f" as v({aliases})"
        for rows in _value_batches(table):
            self.execute(head + rows + tail)

    # -- seeds ------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        """CSV: dbt's agate types over the whole file (the shared inference), the cells sent
        as text and cast by Spark. Parquet/JSON: their own Arrow types."""
        from dvt_engine.adapters.seed_files import read_non_csv

        if not path.exists():
            raise DatabaseError(f"Seed file not found: {path}", path=str(path),
                                hint="Check seed-paths in dbt_project.yml.")
        if path.suffix.lower() == ".csv":
            table, columns = self._read_csv_seed(path, column_types, delimiter)
        else:
            table = read_non_csv(path)
            columns = [(f.name, seed_column_type(column_types, f.name) or _spark_type(f.type))
                       for f in table.schema]
        self.execute(self._create_table_sql(relation, columns))
        try:
            self._insert_values(relation, columns, table)
        except DatabaseError as exc:
            exc.path = str(path)
            exc.message += f"\n  while loading seed file {path.name}"
            raise
        self.cache_added(relation.incorporate(type="table"))
        return table.num_rows

    def _read_csv_seed(self, path: Path, column_types: dict[str, str],
                       delimiter: str) -> tuple[pa.Table, list[tuple[str, str]]]:
        from dvt_engine.adapters.postgres import csv_cells_and_types

        table, inferred = csv_cells_and_types(path, delimiter)
        columns = [(name, seed_column_type(column_types, name) or _SEED_TYPES.get(dtype, "string"))
                   for name, dtype in inferred]
        return table, columns


# dbt-databricks's names for agate's types (from the shared inference's PostgreSQL names)
_SEED_TYPES = {"integer": "bigint", "bigint": "bigint", "double precision": "double",
               "date": "date", "timestamp without time zone": "timestamp",
               "boolean": "boolean", "text": "string"}


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return " ".join(text.split())


def _fetch_arrow(cur: Any) -> pa.Table:
    import pyarrow as pa

    if not cur.description:
        return pa.table({})
    return plain_schema(cur.fetchall_arrow())


def _spark_type(typ: pa.DataType) -> str:
    """The Spark/Databricks column type for an Arrow type."""
    import pyarrow as pa

    t = pa.types
    if t.is_boolean(typ):
        return "boolean"
    if t.is_int8(typ):
        return "tinyint"
    if t.is_int16(typ) or t.is_uint8(typ):
        return "smallint"
    if t.is_int32(typ) or t.is_uint16(typ):
        return "int"
    if t.is_uint64(typ):
        return "decimal(20,0)"
    if t.is_integer(typ):
        return "bigint"
    if t.is_float32(typ):
        return "float"
    if t.is_floating(typ):
        return "double"
    if t.is_decimal(typ):
        return f"decimal({min(typ.precision, 38)},{typ.scale})"
    if t.is_date(typ):
        return "date"
    if t.is_timestamp(typ):
        return "timestamp" if typ.tz else "timestamp_ntz"
    if t.is_binary(typ) or t.is_large_binary(typ) or t.is_fixed_size_binary(typ):
        return "binary"
    return "string"


def _literal(v: Any) -> str:
    """A Spark SQL literal for a Python value (cast to the column type afterwards)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | decimal.Decimal):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "'NaN'"
        if math.isinf(v):
            return "'Infinity'" if v > 0 else "'-Infinity'"
        return repr(v) + "D"
    if isinstance(v, dt.datetime):
        return "'" + v.replace(tzinfo=None).isoformat(sep=" ") + "'" if v.tzinfo is None \
            else "'" + v.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ") + "'"
    if isinstance(v, dt.date | dt.time):
        return "'" + v.isoformat() + "'"
    if isinstance(v, bytes | bytearray):
        return "X'" + bytes(v).hex() + "'"
    text = str(v)
    # Spark string literals take backslash escapes
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value_batches(table: pa.Table) -> Iterator[str]:
    """`(v, v), (v, v)...` texts, each under the batch size."""
    return text_batches(table, lambda row: "(" + ", ".join(_literal(v) for v in row) + ")",
                        _BATCH_CHARS, ", ")
