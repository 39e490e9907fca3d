"""DuckDB: the embedded default target. Native Arrow in and out, read_csv for seeds."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters.base import Adapter, AdapterResponse, ColumnInfo
from dvt_engine.adapters.relation import Relation
from dvt_engine.errors import DatabaseError
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import sqlalchemy

# DuckDB's sniffed types -> the types dbt's agate inference gives on DuckDB
_SEED_TYPES = {
    "BIGINT": "INTEGER", "INTEGER": "INTEGER", "SMALLINT": "INTEGER", "TINYINT": "INTEGER",
    "HUGEINT": "INTEGER", "UBIGINT": "INTEGER", "DOUBLE": "DOUBLE", "FLOAT": "DOUBLE",
    "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIME": "VARCHAR",
    "VARCHAR": "VARCHAR", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
}


class DuckDBAdapter(Adapter):
    type = "duckdb"
    dialect = "duckdb"

    def __init__(self, output: Output, project_root: Path) -> None:
        super().__init__(output, project_root)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        self._open_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------
    @property
    def path(self) -> str:
        raw = str(self.output.settings.get("path") or ":memory:")
        if raw.startswith(":memory:") or raw.startswith("md:"):
            return raw
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else self.project_root / p)

    @property
    def database(self) -> str:
        configured = self.output.settings.get("database")
        if configured:
            return str(configured)
        if self.path.startswith(":memory:"):
            return "memory"
        return Path(self.path).stem

    # -- connection -----------------------------------------------------------------
    def open(self) -> None:
        if self._db is not None:
            return
        with self._open_lock:
            if self._db is not None:
                return
            import duckdb

            if not self.path.startswith(":memory:"):
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            config = {str(k): v for k, v in (self.output.settings.get("settings") or {}).items()}
            try:
                db = duckdb.connect(self.path, config=config)
            except duckdb.Error as exc:
                raise DatabaseError(str(exc), node=f"target {self.name}",
                                    hint=f"Check `path` of output '{self.name}'.") from None
            for ext in self.output.settings.get("extensions") or []:
                db.execute(f"load {ext}")
            self._db = db

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            self.open()
            assert self._db is not None
            cur = self._db.cursor()
            self._local.cursor = cur
        return cur

    def close(self) -> None:
        super().close()
        if self._db is not None:
            self._db.close()
            self._db = None
        self._local = threading.local()

    @property
    def engine(self) -> sqlalchemy.Engine:
        if self._engine is None:
            import sqlalchemy
            from duckdb_engine import ConnectionWrapper

            self.open()
            db = self._db
            assert db is not None
            self._engine = sqlalchemy.create_engine(
                "duckdb://", creator=lambda: ConnectionWrapper(db.cursor())
            )
        return self._engine

    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        import duckdb

        cur = self._cursor()
        try:
            if fetch:
                rel = cur.sql(sql)
                table = _to_arrow(rel) if rel is not None else _empty_table()
                return AdapterResponse("OK", "OK", table.num_rows), table
            result = cur.execute(sql)
            rows = None
            desc = cur.description
            if desc and len(desc) == 1 and desc[0][0] == "Count":
                row = result.fetchone()
                rows = int(row[0]) if row else None
            return AdapterResponse("OK", "OK", rows), None
        except duckdb.Error as exc:
            raise DatabaseError(_clean_error(exc)) from None

    def read_arrow(self, sql: str) -> pa.Table:
        _, table = self.execute(sql, fetch=True)
        assert table is not None
        return table

    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        cur = self._cursor()
        cur.register("dvt_arrow_in", table)
        try:
            self.execute(f"create table {relation} as select * from dvt_arrow_in")
        finally:
            cur.unregister("dvt_arrow_in")
        self.cache_added(relation.incorporate(type="table"))
        return table.num_rows

    # -- catalog ------------------------------------------------------------------
    def list_relations_uncached(self, database: str, schema: str) -> list[Relation]:
        sql = (
            "select table_name, table_type from information_schema.tables "
            f"where lower(table_catalog) = lower('{_lit(database)}') "
            f"and lower(table_schema) = lower('{_lit(schema)}')"
        )
        _, table = self.execute(sql, fetch=True)
        assert table is not None
        out = []
        for name, kind in zip(table.column("table_name").to_pylist(),
                              table.column("table_type").to_pylist(), strict=True):
            out.append(Relation(database, schema, name, "view" if kind == "VIEW" else "table"))
        return out

    def get_columns(self, relation: Relation) -> list[ColumnInfo]:
        sql = (
            "select column_name, data_type from information_schema.columns "
            f"where lower(table_name) = lower('{_lit(relation.identifier or '')}') "
            f"and lower(table_schema) = lower('{_lit(relation.schema or self.schema)}') "
            f"and lower(table_catalog) = lower('{_lit(relation.database or self.database)}') "
            "order by ordinal_position"
        )
        _, table = self.execute(sql, fetch=True)
        assert table is not None
        return [ColumnInfo(n, t) for n, t in zip(table.column(0).to_pylist(),
                                                  table.column(1).to_pylist(), strict=True)]

    # -- seeds --------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        reader = self._seed_reader(path, delimiter)
        sniffed = self._describe(reader)
        casts = []
        for name, dtype in sniffed:
            target = column_types.get(name) or _SEED_TYPES.get(dtype.upper(), dtype)
            ident = self.quote(name)
            casts.append(f"{ident}::{target} as {ident}" if target.upper() != dtype.upper()
                         else ident)
        select = f"select {', '.join(casts)} from {reader}"
        try:
            resp, _ = self.execute(f"create table {relation} as {select}")
        except DatabaseError:
            if not path.suffix.lower() == ".csv":
                raise
            # the sniffer samples rows; a late row of another type needs the whole file
            reader = self._seed_reader(path, delimiter, sample_all=True)
            sniffed = self._describe(reader)
            resp, _ = self.execute(f"create table {relation} as select * from {reader}")
        self.cache_added(relation.incorporate(type="table"))
        return resp.rows_affected or 0

    def _describe(self, reader: str) -> list[tuple[str, str]]:
        _, table = self.execute(f"describe select * from {reader}", fetch=True)
        assert table is not None
        return list(zip(table.column("column_name").to_pylist(),
                        table.column("column_type").to_pylist(), strict=True))

    def _seed_reader(self, path: Path, delimiter: str, sample_all: bool = False) -> str:
        p = _lit(str(path))
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return f"read_parquet('{p}')"
        if suffix in (".json", ".jsonl", ".ndjson"):
            return f"read_json_auto('{p}')"
        opts = f"header = true, delim = '{_lit(delimiter)}'"
        if sample_all:
            opts += ", sample_size = -1"
        return f"read_csv('{p}', {opts})"


def _lit(value: str) -> str:
    return value.replace("'", "''")


_LINE_NO = re.compile(r"\n\nLINE \d+:.*", re.S)


def _clean_error(exc: Exception) -> str:
    return str(exc).strip()


def settings_redacted(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in ("password", "token")}


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def _to_arrow(result: Any) -> pa.Table:
    # duckdb >= 1.4 names it to_arrow_table; older releases fetch_arrow_table
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()
