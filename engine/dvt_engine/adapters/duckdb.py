"""DuckDB: the embedded default target. Native Arrow in and out, read_csv for seeds."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters.base import Adapter, AdapterResponse, seed_column_type
from dvt_engine.adapters.column import Column
from dvt_engine.adapters.relation import Relation
from dvt_engine.adapters.seed_files import csv_header
from dvt_engine.errors import DatabaseError, RuntimeDatabaseError
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import sqlalchemy


class DuckDBColumn(Column):
    """dbt-duckdb's Column: DuckDB's integer and float names. dtype is DuckDB's own
    (VARCHAR, DECIMAL(18,3)), so a string reads as character varying(256), as in dbt."""

    def is_float(self) -> bool:
        return self.dtype.lower() in ("real", "float", "float4", "float8", "double")

    def is_integer(self) -> bool:
        return self.dtype.lower() in (
            "tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
            "uinteger", "ubigint", "int1", "int2", "int4", "int8", "short", "int", "signed",
            "long")


class DuckDBAdapter(Adapter):
    Column = DuckDBColumn
    type = "duckdb"
    dialect = "duckdb"

    def __init__(self, output: Output, project_root: Path) -> None:
        super().__init__(output, project_root)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        self._open_lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    # -- identity ---------------------------------------------------------------
    @cached_property
    def path(self) -> str:
        raw = str(self.output.settings.get("path") or ":memory:")
        if raw.startswith(":memory:") or raw.startswith("md:"):
            return raw
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else self.project_root / p)

    @cached_property
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
            duckdb = _driver()
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
            for entry in self.output.settings.get("attach") or []:
                self._attach(db, entry)
            self._db = db

    def _attach(self, db: duckdb.DuckDBPyConnection, entry: dict[str, Any]) -> None:
        """dbt-duckdb's `attach:` list: {path, alias, type, read_only}; `+database: alias`
        then puts models there."""
        duckdb = _driver()
        raw = str(entry.get("path") or "")
        p = Path(raw).expanduser()
        if raw and "://" not in raw and not raw.startswith(":memory:") and not p.is_absolute():
            p = self.project_root / p
        target = raw if "://" in raw or raw.startswith(":memory:") else str(p)
        opts = []
        if entry.get("type"):
            opts.append(f"type {entry['type']}")
        if entry.get("read_only"):
            opts.append("read_only")
        alias = f" as {self.quote(str(entry['alias']))}" if entry.get("alias") else ""
        sql = f"attach if not exists '{_lit(target)}'{alias}"
        sql += f" ({', '.join(opts)})" if opts else ""
        try:
            db.execute(sql)
        except duckdb.Error as exc:
            raise DatabaseError(str(exc), node=f"target {self.name}",
                                hint=f"Check the `attach:` entries of output '{self.name}'.") \
                from None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            self.open()
            assert self._db is not None
            cur = self._db.cursor()
            self._local.cursor = cur
            with self._open_lock:
                self._cursors.append(cur)
        return cur

    def cancel(self) -> None:
        with self._open_lock:
            cursors = list(self._cursors)
        for cur in cursors:
            cur.interrupt()  # the running query raises "INTERRUPT Error" in its thread

    def close(self) -> None:
        super().close()
        if self._db is not None:
            self._db.close()
            self._db = None
        self._local = threading.local()
        self._cursors = []

    def _create_engine(self) -> sqlalchemy.Engine:
        import sqlalchemy
        from duckdb_engine import ConnectionWrapper

        self.open()
        db = self._db
        assert db is not None
        return sqlalchemy.create_engine("duckdb://", creator=lambda: ConnectionWrapper(db.cursor()))

    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        cur = self._cursor()
        started = time.perf_counter()
        with _driver_errors():
            if fetch:
                _relation_api()
                rel = cur.sql(sql)
                table = _to_arrow(rel) if rel is not None else _empty_table()
                self.report(sql, started)
                return AdapterResponse("OK", "OK", table.num_rows), table
            result = cur.execute(sql)
            rows = None
            desc = cur.description
            if desc and len(desc) == 1 and desc[0][0] == "Count":
                row = result.fetchone()
                rows = int(row[0]) if row else None
            self.report(sql, started)
            return AdapterResponse("OK", "OK", rows), None

    def read_arrow(self, sql: str) -> pa.Table:
        _, table = self.execute(sql, fetch=True)
        assert table is not None
        return table

    def fetch_dicts(self, sql: str) -> list[dict[str, Any]]:
        # plain rows: commands that never move data (run, seed) need not import pyarrow
        cur = self._cursor()
        started = time.perf_counter()
        with _driver_errors():
            cur.execute(sql)
            names = [d[0] for d in cur.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        self.report(sql, started)
        return rows

    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        _relation_api()
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
        return [Relation(database, schema, r["table_name"],
                         "view" if r["table_type"] == "VIEW" else "table")
                for r in self.fetch_dicts(sql)]

    def get_columns(self, relation: Relation) -> list[Column]:
        sql = (
            "select column_name, data_type, character_maximum_length, numeric_precision, "
            "numeric_scale from information_schema.columns "
            f"where lower(table_name) = lower('{_lit(relation.identifier or '')}') "
            f"and lower(table_schema) = lower('{_lit(relation.schema or self.schema)}') "
            f"and lower(table_catalog) = lower('{_lit(relation.database or self.database)}') "
            "order by ordinal_position"
        )
        return [DuckDBColumn(r["column_name"], r["data_type"], r["character_maximum_length"],
                             r["numeric_precision"], r["numeric_scale"])
                for r in self.fetch_dicts(sql)]

    # -- seeds --------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        """CSV: read every column as text, infer types by dbt's agate rules over the whole
        file, cast. Parquet/JSON keep their own types. `column_types` overrides either."""
        if not path.exists():
            raise DatabaseError(f"Seed file not found: {path}", path=str(path),
                                hint="Check seed-paths in dbt_project.yml.")
        if path.suffix.lower() == ".csv":
            rows = self._load_csv_typed(relation, path, delimiter, column_types)
            if rows is not None:
                return rows
        reader = self._seed_reader(path, delimiter)
        try:
            if path.suffix.lower() == ".csv":
                types = self._infer_csv_types(reader, csv_header(path, delimiter))
                select = ", ".join(_seed_cast(name, seed_column_type(column_types, name) or dtype,
                                              self.quote(name)) for name, dtype in types.items())
            else:  # typed files: keep their types, cast only what column_types names
                select = ", ".join(
                    f"{self.quote(name)}::{override} as {self.quote(name)}"
                    if (override := seed_column_type(column_types, name)) else self.quote(name)
                    for name, _ in self._describe(reader))
            resp, _ = self.execute(f"create table {relation} as select {select} from {reader}")
        except DatabaseError as exc:
            # name the file; DuckDB's "Possible fixes" are read_csv options, not the user's
            text = _CSV_ADVICE.split(exc.message, maxsplit=1)[0].rstrip()
            exc.message = f"{text}\n  while loading seed file {path.name}"
            exc.hint = exc.hint or ("Fix that row of the file, or set column_types for the "
                                    "column in the seed's config.")
            raise
        self.cache_added(relation.incorporate(type="table"))
        return resp.rows_affected or 0

    def _load_csv_typed(self, relation: Relation, path: Path, delimiter: str,
                        column_types: dict[str, str]) -> int | None:
        """The fast path: one typed pass with DuckDB's sniffer, then dbt's rules applied to
        the loaded columns (in memory, cheap). None when the file needs the exact path:
        a row the sniffer's sample did not foresee, or a type dbt would read as text."""
        header = csv_header(path, delimiter)
        overrides = {n: t for n in header if (t := seed_column_type(column_types, n))}
        opts = f"header = true, delim = '{_lit(delimiter)}', quote = '\"', escape = '\"'"
        if overrides:
            opts += ", types = {" + ", ".join(f"'{_lit(n)}': '{_lit(t)}'"
                                              for n, t in overrides.items()) + "}"
        try:
            resp, _ = self.execute(f"create table {relation} as select * from "
                                   f"read_csv('{_lit(str(path))}', {opts})")
        except DatabaseError:
            return None
        columns = self.get_columns(relation)
        casts = self._dbt_types(relation, columns, header, set(overrides))
        if casts is None:
            self.execute(f"drop table {relation}")
            return None
        for name, dtype in casts.items():
            ident = self.quote(name)
            using = f"trim({ident})::{dtype}" if dtype == "BOOLEAN" else f"{ident}::{dtype}"
            self.execute(f"alter table {relation} alter column {ident} set data type {dtype} "
                         f"using {using}")
        self.cache_added(relation.incorporate(type="table"))
        return resp.rows_affected or 0

    def _dbt_types(self, relation: Relation, columns: list[Column], header: list[str],
                   fixed: set[str]) -> dict[str, str] | None:
        """Columns whose sniffed type differs from dbt's agate type -> that type."""
        if [c.name for c in columns] != header:
            return None
        ints, texts, casts = [], [], {}
        for c in columns:
            dtype = c.dtype.upper()
            if c.name in fixed:
                continue
            if dtype in _INT_TYPES:
                ints.append(c.name)
            elif dtype in ("FLOAT", "REAL") or dtype.startswith("DECIMAL"):
                casts[c.name] = "DOUBLE"
            elif dtype == "VARCHAR":
                texts.append(c.name)
            elif dtype not in ("DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"):
                return None  # TIME, TIMESTAMPTZ, ...: dbt keeps the text, which is gone here
        if ints:
            bounds = ", ".join(f"min({self.quote(n)}) >= -2147483648 and max({self.quote(n)}) "
                               f"<= 2147483647 as c{i}" for i, n in enumerate(ints))
            fits = self.fetch_dicts(f"select {bounds} from {relation}")[0]
            for i, name in enumerate(ints):
                # an all-NULL comparison is NULL: an empty column is an INTEGER too
                want = "INTEGER" if fits[f"c{i}"] in (True, None) else "BIGINT"
                if want != next(c.dtype.upper() for c in columns if c.name == name):
                    casts[name] = want
        if texts:
            # agate gives a type only if every value fits it: a sample that already says
            # text settles it; only the other columns need the whole-file checks
            sample = f"(select * from {relation} limit {_SAMPLE_ROWS})"
            sampled = self._type_checks(sample, texts)
            maybe = [n for n, got in sampled.items() if _agate_type(got) != "VARCHAR"
                     or not got["n"]]
            if maybe:
                for name, got in self._type_checks(str(relation), maybe).items():
                    dtype = _agate_type(got)
                    if dtype != "VARCHAR":
                        casts[name] = dtype
        return casts

    def _infer_csv_types(self, reader: str, names: list[str]) -> dict[str, str]:
        """Decide each column's type like dbt's agate TypeTester, over the whole file.

        The full checks run on a sample; the whole file is then scanned once to confirm
        each sampled type (one check per column, none for text). A type that holds for all
        rows and is the first in agate's order on the sample is the first for all rows.
        Columns whose sampled type does not hold (a late 'abc' among ints) get the full
        checks over the whole file.
        """
        sample = f"(select * from {reader} limit {_SAMPLE_ROWS})"
        sampled = self._type_checks(sample, names)
        verify: dict[str, list[str]] = {}
        redo: list[str] = []
        for name, got in sampled.items():
            dtype = _agate_type(got)
            if not got["n"] or dtype in ("BIGINT", "DOUBLE") and got["int"]:
                redo.append(name)  # nothing to go by, or wide ints: check everything
            elif dtype != "VARCHAR":
                verify[name] = _CONFIRM[dtype]
        if verify:
            for name, got in self._aggregate(reader, verify).items():
                if not all(got.values()):
                    redo.append(name)
        types = {name: _agate_type(got) for name, got in sampled.items()}
        if redo:
            types.update({name: _agate_type(got)
                          for name, got in self._type_checks(reader, redo).items()})
        return {name: types[name] for name in names}

    def _type_checks(self, reader: str, names: list[str]) -> dict[str, dict[str, Any]]:
        """All checks: the cheap ones for every column, then date/timestamp parsing and
        32/64-bit range only for the columns that still need them."""
        checks = self._aggregate(reader, {n: [k for k, _ in _CHEAP_CHECKS] for n in names})
        costly: dict[str, list[str]] = {}
        for name, got in checks.items():
            if got["n"] and got["int"] and (got["width"] or 0) > 9:
                costly[name] = ["int32", "int64"]
            elif got["n"] and not got["int"] and not got["num"] and got["datelike"]:
                costly[name] = ["date", "ts"]
        if costly:
            for name, more in self._aggregate(reader, costly).items():
                checks[name].update(more)
        return checks

    def _aggregate(self, reader: str, wanted: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
        """One scan: the named checks per column, over its non-empty cells."""
        exprs = dict(_CHEAP_CHECKS + _COSTLY_CHECKS)
        cols: list[str] = []
        keys: list[tuple[str, str]] = []
        for name, wanted_keys in wanted.items():
            col = self.quote(name)
            for key in wanted_keys:
                # FILTER: empty cells (NULL) must not decide a type
                cols.append(f"{exprs[key].replace('{c}', col)} filter (where {col} is not null)"
                            f" as c{len(keys)}")
                keys.append((name, key))
        row = self.fetch_dicts(f"select {', '.join(cols)} from {reader}")[0]
        out: dict[str, dict[str, Any]] = {name: {} for name in wanted}
        for i, (name, key) in enumerate(keys):
            out[name][key] = row[f"c{i}"]
        return out

    def _describe(self, reader: str) -> list[tuple[str, str]]:
        return [(r["column_name"], r["column_type"])
                for r in self.fetch_dicts(f"describe select * from {reader}")]

    def _seed_reader(self, path: Path, delimiter: str) -> str:
        p = _lit(str(path))
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return f"read_parquet('{p}')"
        if suffix in (".json", ".jsonl", ".ndjson"):
            return f"read_json_auto('{p}')"
        # like dbt-duckdb's COPY: the header row names the columns, '"' quotes, an empty
        # field is NULL, and nothing is sniffed (the sniffer costs a scan per statement and
        # silently skips leading rows of a ragged file)
        columns = ", ".join(f"'{_lit(name)}': 'VARCHAR'" for name in csv_header(path, delimiter))
        return (f"read_csv('{p}', header = true, delim = '{_lit(delimiter)}', quote = '\"', "
                f"escape = '\"', skip = 0, auto_detect = false, columns = {{{columns}}})")


_INT_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                        "USMALLINT", "UINTEGER", "UBIGINT"})


# Per-column aggregates over the text values of the non-empty cells.
_INT = r"\s*[-+]?[0-9]+\s*"
_DATE = r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*"
_ISO_TS = r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?)?\s*"
_CHEAP_CHECKS: tuple[tuple[str, str], ...] = (
    ("n", "count({c})"),
    ("int", f"bool_and(regexp_full_match({{c}}, '{_INT}'))"),
    ("width", "max(length(trim({c})))"),
    ("num", "bool_and(try_cast({c} as double) is not null)"),
    ("bool", "bool_and(lower(trim({c})) in ('true', 'false'))"),
    ("datelike", "bool_and(regexp_matches({c}, '^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}'))"),
)
# failing casts are slow in DuckDB: these run only where the cheap checks point to them
_COSTLY_CHECKS: tuple[tuple[str, str], ...] = (
    ("int32", "bool_and(try_cast({c} as integer) is not null)"),
    ("int64", "bool_and(try_cast({c} as bigint) is not null)"),
    ("narrow", "bool_and(length(trim({c})) <= 9)"),
    ("date", f"bool_and(regexp_full_match({{c}}, '{_DATE}') "
             "and try_cast(trim({c}) as date) is not null)"),
    ("ts", f"bool_and(regexp_full_match({{c}}, '{_ISO_TS}') "
           "and try_cast(trim({c}) as timestamp) is not null)"),
)


_SAMPLE_ROWS = 5000
# the one full-file check that confirms a sampled type (an int also needs <= 9 digits)
_CONFIRM: dict[str, list[str]] = {
    "INTEGER": ["int", "narrow"], "DOUBLE": ["num"], "DATE": ["date"], "TIMESTAMP": ["ts"],
    "BOOLEAN": ["bool"],
}


def _agate_type(check: dict[str, Any]) -> str:
    """agate's order: Integer, Number, Date, DateTime, Boolean, Text (first that fits all)."""
    if not check["n"]:
        return "INTEGER"  # dbt-duckdb: an all-empty column is an INTEGER of NULLs
    if check["int"]:
        # dbt would fail on values past 2^31; loading them as BIGINT is friendlier
        if (check["width"] or 0) <= 9 or check.get("int32"):
            return "INTEGER"
        return "BIGINT" if check.get("int64") else "DOUBLE"
    for key, dtype in (("num", "DOUBLE"), ("date", "DATE"), ("ts", "TIMESTAMP"),
                       ("bool", "BOOLEAN")):
        if check.get(key):
            return dtype
    return "VARCHAR"


def _seed_cast(name: str, dtype: str, ident: str) -> str:
    if dtype.upper() in ("VARCHAR", "TEXT", "STRING"):
        return f"{ident}::{dtype} as {ident}"
    if dtype.upper() in ("BOOLEAN", "BOOL"):
        return f"trim({ident})::{dtype} as {ident}"
    return f"{ident}::{dtype} as {ident}"


@contextmanager
def _driver_errors() -> Iterator[None]:
    """DuckDB's errors as dbt-duckdb reports them ("Runtime Error"); Ctrl-C during a query (DuckDB raises it as
    RuntimeError 'Query interrupted') back as KeyboardInterrupt."""
    try:
        yield
    except _driver().Error as exc:
        raise RuntimeDatabaseError(_clean_error(exc)) from None
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():
            raise KeyboardInterrupt from None
        raise


def _driver() -> Any:
    """The DuckDB extension module. `_duckdb` alone imports in ~10 ms; the `duckdb` package
    around it (relation API, version metadata via importlib.metadata) takes ~75 ms more, and
    plain statements (run of views and tables, catalog reads) need none of it."""
    try:
        import _duckdb
    except ImportError:  # a duckdb release that keeps its extension inside the package
        import duckdb

        return duckdb
    return _duckdb


def _relation_api() -> None:
    """Arrow in or out (`.sql`, `register`) needs the `duckdb` package: importing it adds
    those methods to every connection, including those opened through `_duckdb`."""
    import duckdb  # noqa: F401


def _lit(value: str) -> str:
    return value.replace("'", "''")


# where DuckDB's CSV errors turn from the problem to read_csv advice
_CSV_ADVICE = re.compile(r"\n\s*\n|\nPossible (?:fixes|solutions):")


def _clean_error(exc: Exception) -> str:
    return str(exc).strip()



def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def _to_arrow(result: Any) -> pa.Table:
    # duckdb >= 1.4 names it to_arrow_table; older releases fetch_arrow_table
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()
