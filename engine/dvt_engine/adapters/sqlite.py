"""SQLite: embedded, the stdlib's sqlite3; handy as a second connection in demos.

A schema is an attached database file (`main` is the `path` file; `schemas_and_paths` and
`schema_directory` attach more, as dbt-sqlite does). SQLite SQL cannot name a database:
relations render as `"schema"."table"`, never with the database (the file stem) in front.

One connection serves every thread, behind a re-entrant lock: SQLite has one writer per
file anyway, and a `transaction()` holds the lock for its whole block, so no other thread's
statement lands inside it. Autocommit outside `transaction()`; inside, SQLite's DDL is
transactional, so a swap (drop old + rename staging) is atomic. Nested blocks are savepoints.

SQLite has no COPY and no Arrow path: writes are `executemany` of tuples from Arrow batches
in one transaction (its bulk path: one prepared statement, one fsync at commit); reads
type their Arrow columns from the declared column types of the result (found through a
temporary view), else from the values.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import itertools
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from dvt_engine.adapters.base import Adapter, AdapterResponse, seed_column_type
from dvt_engine.adapters.column import Column
from dvt_engine.adapters.relation import Relation
from dvt_engine.adapters.seed_files import checked_header, read_non_csv
from dvt_engine.errors import DatabaseError
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy

_BATCH_ROWS = 50_000  # rows per executemany call when writing Arrow
_INT64 = (-(2**63), 2**63 - 1)
_MEMORY = ":memory:"


class SQLiteAdapter(Adapter):
    type = "sqlite"
    dialect = "sqlite"

    def __init__(self, output: Output, project_root: Path) -> None:
        super().__init__(output, project_root)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0  # transaction() nesting; only the lock holder changes it
        self._seq = itertools.count()

    # -- identity ---------------------------------------------------------------
    def _resolve(self, raw: str) -> str:
        if raw.startswith(_MEMORY) or raw.startswith("file:"):
            return raw
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else self.project_root / p)

    @property
    def path(self) -> str:
        """The `main` database file: `path`, or `schemas_and_paths.main` (dbt-sqlite)."""
        raw = self.output.settings.get("path") or \
            (self.output.settings.get("schemas_and_paths") or {}).get("main") or _MEMORY
        return self._resolve(str(raw))

    @property
    def in_memory(self) -> bool:
        return self.path.startswith(_MEMORY) or "mode=memory" in self.path

    @property
    def database(self) -> str:
        configured = self.output.settings.get("database")
        if configured:
            return str(configured)
        return "memory" if self.in_memory else Path(self.path).stem

    @property
    def schema_directory(self) -> Path | None:
        raw = self.output.settings.get("schema_directory")
        return Path(self._resolve(str(raw))) if raw else None

    def attachments(self) -> dict[str, str]:
        """schema -> file: `schemas_and_paths` (but main), then the *.db files of
        `schema_directory` not named already (dbt-sqlite attaches those too)."""
        out = {str(k): self._resolve(str(v))
               for k, v in (self.output.settings.get("schemas_and_paths") or {}).items()
               if str(k).lower() != "main"}
        directory = self.schema_directory
        if directory is not None and directory.is_dir():
            known = set(out.values()) | {self.path}
            for f in sorted(directory.glob("*.db")):
                if str(f) not in known and f.stem.lower() not in ("main", "temp"):
                    out.setdefault(f.stem, str(f))
        return out

    def relation(self, database: str | None, schema: str | None, identifier: str | None,
                 type: str | None = None) -> Relation:
        # the database stays on the object (manifest, docs) but never in the SQL
        return Relation(database, schema, identifier, type,
                        include_policy={"database": False, "schema": True, "identifier": True})

    def table_expr(self, relation: Relation) -> exp.Table:
        return exp.table_(relation.identifier, db=relation.schema, quoted=True)

    def _name(self, relation: Relation) -> str:
        return self.render(self.table_expr(relation))

    # -- connection ---------------------------------------------------------------
    @property
    def _timeout(self) -> float:
        # seconds a statement waits for another process's write lock before "locked"
        return float(self.output.settings.get("timeout") or 30)

    def _connect(self, autocommit: bool) -> sqlite3.Connection:
        if not self.in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self._timeout, check_same_thread=False,
                                   uri=self.path.startswith("file:"),
                                   isolation_level=None if autocommit else "")
            # views bind tables by name (as in dbt): renaming a staging table into place
            # must not re-check views that read the table just dropped
            conn.execute("pragma legacy_alter_table = on")
            # SQLite has no md5(); dbt's hash() and snapshot ids call it (hex text, as
            # PostgreSQL and DuckDB return it)
            conn.create_function("md5", 1, _md5, deterministic=True)
            extensions = self.output.settings.get("extensions") or []
            if extensions:
                conn.enable_load_extension(True)
                for ext in extensions:
                    conn.load_extension(str(ext))
            for schema, file in self.attachments().items():
                conn.execute(f"attach database ? as {self.quote(schema)}", (file,))
        except (sqlite3.Error, AttributeError) as exc:
            raise DatabaseError(str(exc), node=f"target {self.name}",
                                hint=f"Check `path`, `schemas_and_paths` and `extensions` of "
                                     f"output '{self.name}'.") from None
        return conn

    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect(autocommit=True)
            return self._conn

    def open(self) -> None:
        self._db()

    def cancel(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.interrupt()  # thread-safe: the running statement raises "interrupted"

    def close(self) -> None:
        super().close()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._depth = 0

    def _create_engine(self) -> sqlalchemy.Engine:
        """`sqlite:///path` with this output's attachments; its own connections (SQLite's
        file locks order them with ours). In memory there is only ours to share."""
        import sqlalchemy

        if self.in_memory:
            from sqlalchemy.pool import StaticPool

            conn = self._db()
            return sqlalchemy.create_engine("sqlite://", creator=lambda: conn,
                                            poolclass=StaticPool)
        return sqlalchemy.create_engine(f"sqlite:///{self.path}",
                                        creator=lambda: self._connect(autocommit=False))

    # -- statements -------------------------------------------------------------
    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        # under the lock even for one statement: on the shared connection, a DROP that
        # overlaps another thread's unfinished SELECT fails "database table is locked"
        started = time.perf_counter()
        with self._lock:
            try:
                cur = self._db().execute(sql, params)
            except sqlite3.Error as exc:
                raise _error(exc) from None
        self.report(sql, started)
        return cur

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """All rows of one statement, read under the lock (see `_run`)."""
        with self._lock:
            try:
                return self._run(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _error(exc) from None

    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        with self._lock:
            statements = split_statements(sql)
            for stmt in statements[:-1]:
                self._run(stmt)
            last = statements[-1] if statements else ""
            if fetch:
                decls = self._declared_types(last)
                cur = self._run(last) if last else None
                table = _rows_to_arrow(cur, decls)
                return AdapterResponse("OK", "OK", table.num_rows), table
            if not last:
                return AdapterResponse("OK", "OK", None), None
            cur = self._run(last)
            rows = cur.rowcount if cur.rowcount >= 0 else None
            cur.close()  # an unread SELECT would keep its table locked against DDL
            return AdapterResponse("OK", "OK", rows), None

    def fetch_dicts(self, sql: str) -> list[dict[str, Any]]:
        # plain rows: commands that never move data need not import pyarrow
        with self._lock:
            statements = split_statements(sql)
            for stmt in statements[:-1]:
                self._run(stmt)
            if not statements:
                return []
            cur = self._run(statements[-1])
            names = [d[0] for d in cur.description or ()]
            try:
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            except sqlite3.Error as exc:
                raise _error(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth > 0:
                with self._savepoint():
                    yield
                return
            # IMMEDIATE: take the write lock now (waiting up to `timeout` for other
            # processes) rather than fail when a read lock cannot be upgraded later
            self._run("begin immediate")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            try:
                self._run("commit")
            except DatabaseError:
                self._rollback()
                raise

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        name = f"dvt_savepoint_{self._depth}"
        self._run(f"savepoint {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._run(f"rollback to savepoint {name}")
            self._run(f"release savepoint {name}")
            raise
        self._depth -= 1
        self._run(f"release savepoint {name}")

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                conn.execute("rollback")

    @contextmanager
    def _shape_view(self, sql: str) -> Iterator[str | None]:
        """A temporary view over `sql` (None when it is no query), dropped afterwards:
        its columns carry the declared types SQLite derives for the result."""
        body = strip_sql(sql)
        if not _QUERY_START.match(body):
            yield None
            return
        name = self.quote(f"dvt_shape_{next(self._seq)}")
        with self._lock:
            try:
                self._db().execute(f"create temp view {name} as\n{body}\n")
            except sqlite3.Error:
                yield None  # the statement itself will say what is wrong
                return
            try:
                yield name
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self._db().execute(f"drop view if exists temp.{name}")

    def _view_columns(self, view: str) -> list[tuple[str, str]]:
        rows = self._rows(f"pragma temp.table_info({view})")
        return [(str(r[1]), str(r[2] or "")) for r in rows]

    def _declared_types(self, sql: str) -> list[str] | None:
        with self._shape_view(sql) as view:
            return None if view is None else [t for _, t in self._view_columns(view)]

    # -- Arrow --------------------------------------------------------------------
    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        return self._create_and_load(relation, table, {})

    def _create_and_load(self, relation: Relation, table: pa.Table,
                         overrides: dict[str, str]) -> int:
        columns = [(f.name, seed_column_type(overrides, f.name) or sqlite_type(f.type))
                   for f in table.schema]
        converters = [_python_values(f.type) for f in table.schema]

        def rows() -> Iterator[tuple[Any, ...]]:
            for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
                values = [conv(batch.column(i)) for i, conv in enumerate(converters)]
                yield from zip(*values, strict=True)

        self._create_and_insert(relation, columns, rows())
        return table.num_rows

    def _create_and_insert(self, relation: Relation, columns: list[tuple[str, str]],
                           rows: Iterable[tuple[Any, ...]]) -> None:
        """CREATE TABLE + executemany in one transaction: SQLite has no COPY, and one
        prepared INSERT over all rows in one transaction is its bulk path."""
        marks = ", ".join("?" for _ in columns)
        cols = ", ".join(self.quote(n) for n, _ in columns)
        insert = f"insert into {self._name(relation)} ({cols}) values ({marks})"
        with self.transaction():
            self._run(self._create_table_sql(relation, columns))
            try:
                self._db().executemany(insert, rows)
            except (sqlite3.Error, OverflowError) as exc:
                raise _error(exc) from None
        self.cache_added(relation.incorporate(type="table"))

    def _create_table_sql(self, relation: Relation, columns: list[tuple[str, str]]) -> str:
        # the types verbatim (sqlglot would map DATE, BOOLEAN, DECIMAL to SQLite's storage
        # classes, and the declared type is all that tells a reader what a column holds)
        defs = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                              kind=exp.DataType(this=exp.DataType.Type.USERDEFINED, kind=dtype)
                              if dtype else None)
                for name, dtype in columns]
        return self.render(exp.Create(this=exp.Schema(this=self.table_expr(relation),
                                                      expressions=defs), kind="TABLE"))

    # -- catalog ------------------------------------------------------------------
    def schemas(self) -> list[str]:
        return [str(r[1]) for r in self._rows("pragma database_list")]

    def schema_exists(self, database: str | None, schema: str) -> bool:
        return schema.lower() in {s.lower() for s in self.schemas()}

    def list_relations_uncached(self, database: str, schema: str) -> list[Relation]:
        if not self.schema_exists(database, schema):
            return []
        rows = self._rows(
            f"select name, type from {self.quote(schema)}.sqlite_master "
            "where type in ('table', 'view') and name not like 'sqlite\\_%' escape '\\'")
        return [self.relation(database, schema, str(name), str(kind)) for name, kind in rows]

    def get_columns(self, relation: Relation) -> list[Column]:
        """Declared types as written; a column without one (an expression in
        `create table as`) has an empty type, as SQLite reports it."""
        rows = self._rows("select name, type from pragma_table_info(?, ?) order by cid",
                          (relation.identifier or "", relation.schema or self.schema))
        return [Column(str(name), str(dtype or "")) for name, dtype in rows]

    def _kind(self, relation: Relation) -> str:
        if relation.type in ("view", "table"):
            return relation.type
        known = self.get_relation(relation.database, relation.schema or self.schema,
                                  relation.identifier or "")
        return known.type if known is not None and known.type else "table"

    # -- DDL ----------------------------------------------------------------------
    def create_schema(self, database: str | None, schema: str) -> None:
        """`main` and attached schemas exist; a new one is a file in `schema_directory`
        (as dbt-sqlite), attached to the connection."""
        if self.schema_exists(database, schema):
            return
        directory = self.schema_directory
        if directory is None:
            raise DatabaseError(
                f"Schema '{schema}' does not exist on SQLite output '{self.name}'",
                node=f"target {self.name}",
                hint="A SQLite schema is an attached database file: add "
                     f"`{schema}: {schema}.db` under `schemas_and_paths:` of output "
                     f"'{self.name}', or set `schema_directory:` to create them there, or "
                     "drop the custom schema so the relation goes to `main`.")
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._run(f"attach database ? as {self.quote(schema)}",
                      (str(directory / f"{schema}.db"),))

    def drop_relation(self, relation: Relation) -> None:
        with self._lock:  # the kind looked up is the kind dropped
            kind = "VIEW" if self._kind(relation) == "view" else "TABLE"
            self._run(self.render(exp.Drop(tables=[self.table_expr(relation)], kind=kind,
                                           exists=True)))
        self.cache_dropped(relation)

    def rename_relation(self, relation: Relation, new_identifier: str) -> Relation:
        """Tables: ALTER TABLE RENAME. SQLite cannot rename a view: re-create it under
        the new name from its stored definition (drop + create, one transaction)."""
        with self._lock:
            return self._rename_locked(relation, new_identifier)

    def _rename_locked(self, relation: Relation, new_identifier: str) -> Relation:
        kind = self._kind(relation)
        renamed = Relation(relation.database, relation.schema, new_identifier, kind,
                           include_policy=relation.include_policy)
        if kind != "view":
            self._run(self.render(exp.Alter(
                this=self.table_expr(relation), kind="TABLE",
                actions=[exp.AlterRename(this=exp.to_identifier(new_identifier, quoted=True))])))
            self.cache_dropped(relation)
            self.cache_added(renamed)
            return renamed
        rows = self._rows(f"select sql from {self.quote(relation.schema or self.schema)}"
                          ".sqlite_master where type = 'view' and name = ?",
                          (relation.identifier or "",))
        match = _VIEW_BODY.match(str(rows[0][0])) if rows else None
        if match is None:
            raise DatabaseError(f"Cannot rename view {self._name(relation)}: its definition "
                                "was not found", hint="Drop the view and run its model again.")
        with self.transaction():
            self._run(self.render(exp.Drop(tables=[self.table_expr(relation)], kind="VIEW")))
            self._run(f"create view {self._name(renamed)} as\n{match.group('body')}")
        self.cache_dropped(relation)
        self.cache_added(renamed)
        return renamed

    def create_view_as(self, relation: Relation, sql: str) -> AdapterResponse:
        # no `create or replace view` in SQLite: drop + create, in one transaction
        name = self._name(relation)
        with self.transaction():
            self._run(self.render(exp.Drop(tables=[self.table_expr(relation)], kind="VIEW",
                                           exists=True)))
            try:
                self._run(f"create view {name} as\n{strip_sql(sql)}\n")
            except DatabaseError as exc:
                if "cannot reference objects in database" in exc.message:
                    exc.hint = ("A SQLite view reads only its own database file: materialize "
                                "this model as a table, or keep it in the schema it reads.")
                raise
        return AdapterResponse("OK", "OK", None)

    def create_table_as(self, relation: Relation, sql: str) -> AdapterResponse:
        """CREATE TABLE with the declared types of the query's columns, then INSERT.

        A plain `create table as select` would declare only affinities (a DATE column
        comes out NUM), and the declared type is all a later reader has to go by."""
        name = self._name(relation)
        with self.transaction(), self._shape_view(sql) as view:
            if view is None:
                cur = self._run(f"create table {name} as\n{strip_sql(sql)}\n")
            else:
                self._run(self._create_table_sql(relation, self._view_columns(view)))
                cur = self._run(f"insert into {name} select * from temp.{view}")
        return AdapterResponse("OK", "OK", cur.rowcount if cur.rowcount >= 0 else None)

    def merge(self, target: Relation, source: Relation, keys: list[str], columns: list[str],
              update_columns: list[str] | None = None) -> AdapterResponse:
        """SQLite has no MERGE: UPDATE ... FROM the matched rows (only `update_columns`),
        then INSERT the unmatched ones, in one transaction. Before SQLite 3.33 (no UPDATE
        FROM): delete the matching keys and insert everything."""
        if sqlite3.sqlite_version_info < (3, 33, 0):
            with self.transaction():
                self.delete_matching(target, source, keys)
                return self.insert_into(target, source, columns)
        dest, src = "DBT_INTERNAL_DEST", "DBT_INTERNAL_SOURCE"
        on = " and ".join(f"{dest}.{self.quote(k)} = {src}.{self.quote(k)}" for k in keys)
        upd = update_columns if update_columns is not None else columns
        cols = ", ".join(self.quote(c) for c in columns)
        rows = 0
        with self.transaction():
            if upd:
                sets = ", ".join(f"{self.quote(c)} = {src}.{self.quote(c)}" for c in upd)
                cur = self._run(f"update {self._name(target)} as {dest} set {sets} "
                                f"from {self._name(source)} as {src} where {on}")
                rows += max(cur.rowcount, 0)
            cur = self._run(
                f"insert into {self._name(target)} ({cols}) select "
                + ", ".join(f"{src}.{self.quote(c)}" for c in columns)
                + f" from {self._name(source)} as {src} where not exists "
                f"(select 1 from {self._name(target)} as {dest} where {on})")
            rows += max(cur.rowcount, 0)
        return AdapterResponse("OK", "OK", rows)

    def add_column(self, relation: Relation, name: str, dtype: str) -> None:
        self._run(f"alter table {self._name(relation)} add column {self.quote(name)} {dtype}")

    def drop_column(self, relation: Relation, name: str) -> None:
        if sqlite3.sqlite_version_info >= (3, 35, 0):
            self._run(f"alter table {self._name(relation)} drop column {self.quote(name)}")
            return
        columns = [(c.name, c.native_type) for c in self.get_columns(relation)]
        self._rebuild(relation, [c for c in columns if c[0].lower() != name.lower()])

    def alter_column_type(self, relation: Relation, name: str, dtype: str) -> None:
        """SQLite cannot change a column's type: copy the table into a new one."""
        columns = [(c.name, dtype if c.name.lower() == name.lower() else c.native_type)
                   for c in self.get_columns(relation)]
        self._rebuild(relation, columns)

    def _rebuild(self, relation: Relation, columns: list[tuple[str, str]]) -> None:
        """Replace `relation` by a copy with `columns` (indexes and constraints are not
        carried over; dvt's tables have none)."""
        tmp = Relation(relation.database, relation.schema,
                       f"{relation.identifier}__dvt_rebuild", "table")
        cols = ", ".join(self.quote(n) for n, _ in columns)
        with self.transaction():
            self._run(self._create_table_sql(tmp, columns))
            self._run(f"insert into {self._name(tmp)} ({cols}) select {cols} "
                      f"from {self._name(relation)}")
            self._run(f"drop table {self._name(relation)}")
            self._run(self.render(exp.Alter(
                this=self.table_expr(tmp), kind="TABLE",
                actions=[exp.AlterRename(this=exp.to_identifier(relation.identifier,
                                                                quoted=True))])))

    def limit_query(self, sql: str, limit: int) -> str:
        return f"select * from (\n{strip_sql(sql)}\n) as dvt_limit_subq limit {int(limit)}"

    # -- seeds --------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        """CSV: dbt's agate rules over the whole file, with dbt-sqlite's type names
        (integer, float8, date, timestamp without time zone, boolean, text); dates and
        timestamps are stored as ISO text, booleans as 1/0. Parquet/JSON: Arrow, then
        write_arrow's path. `column_types` names a column's type; its values go in as
        written and SQLite's affinity converts them."""
        if not path.exists():
            raise DatabaseError(f"Seed file not found: {path}", path=str(path),
                                hint="Check seed-paths in dbt_project.yml.")
        try:
            if path.suffix.lower() != ".csv":
                return self._create_and_load(relation, read_non_csv(path), column_types)
            header, rows = _read_csv(path, delimiter)
            columns: list[tuple[str, str]] = []
            converters: list[Callable[[str], Any]] = []
            for i, name in enumerate(header):
                override = seed_column_type(column_types, name)
                if override:
                    columns.append((name, override))
                    converters.append(_as_written)
                    continue
                dtype, convert = _seed_type([r[i] for r in rows])
                columns.append((name, dtype))
                converters.append(convert)
            self._create_and_insert(relation, columns, (
                tuple(conv(v) for conv, v in zip(converters, row, strict=True)) for row in rows))
        except DatabaseError as exc:
            exc.path = exc.path or str(path)
            if "while loading seed file" not in exc.message:
                exc.message += f"\n  while loading seed file {path.name}"
            raise
        return len(rows)


# -- helpers: SQL text ------------------------------------------------------------------

_QUERY_START = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*\(*\s*(?:select|with|values)\b",
                          re.I | re.S)
_IDENT = r'(?:"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|[^\s.(]+)'
_VIEW_BODY = re.compile(
    rf"\A\s*create\s+(?:temp\w*\s+)?view\s+(?:if\s+not\s+exists\s+)?(?:{_IDENT}\s*\.\s*)?"
    rf"{_IDENT}\s*(?:\([^)]*\)\s*)?as\b\s*(?P<body>.*)\Z", re.I | re.S)


def strip_sql(sql: str) -> str:
    """The statement without trailing semicolons (it is embedded in other statements)."""
    return sql.strip().rstrip(";").rstrip()


def split_statements(sql: str) -> list[str]:
    """sqlite3 runs one statement per call: split at the semicolons that end one
    (sqlite3.complete_statement knows quotes, comments and trigger bodies)."""
    out: list[str] = []
    buf = ""
    *ended, tail = sql.split(";")
    for piece in ended:
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if _has_code(buf):
                out.append(buf)
            buf = ""
    buf += tail
    if _has_code(buf):
        out.append(buf)
    return out


def _has_code(sql: str) -> bool:
    text = re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.S)
    return bool(text.strip(" \t\r\n;"))


def _md5(value: Any) -> str | None:
    if value is None:
        return None
    data = value if isinstance(value, bytes) else str(value).encode()
    return hashlib.md5(data).hexdigest()  # noqa: S324 - an id, not a secret


def _error(exc: BaseException) -> DatabaseError:
    if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
        raise KeyboardInterrupt  # cancel() during a statement: give it back as Ctrl-C
    return DatabaseError(str(exc).strip())


# -- helpers: Arrow in --------------------------------------------------------------------


def sqlite_type(typ: pa.DataType) -> str:
    """The declared type for an Arrow type: one SQLite's affinity rules store faithfully
    and `_decl_arrow_type` reads back as the same Arrow type."""
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(typ):
        return sqlite_type(typ.value_type)
    if t.is_boolean(typ):
        return "BOOLEAN"
    if t.is_integer(typ):
        return "INTEGER"
    if t.is_floating(typ):
        return "REAL"
    if t.is_decimal(typ):
        return f"DECIMAL({typ.precision},{typ.scale})"
    if t.is_date(typ):
        return "DATE"
    if t.is_timestamp(typ):
        return "TIMESTAMPTZ" if typ.tz else "TIMESTAMP"
    if t.is_time(typ):
        return "TIME"
    if t.is_binary(typ) or t.is_large_binary(typ) or t.is_fixed_size_binary(typ):
        return "BLOB"
    return "TEXT"  # strings, JSON text of nested values, durations; never INTERVAL (INT!)


def _python_values(typ: pa.DataType) -> Callable[[Any], list[Any]]:
    """Arrow column -> values sqlite3 binds: ISO text for dates and times (its default
    adapters are deprecated), text for decimals (exact; NUMERIC affinity converts),
    JSON for nested values, UTC for timestamps with a zone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = pa.types
    if t.is_dictionary(typ):
        inner = _python_values(typ.value_type)
        return lambda col: inner(col.dictionary_decode())
    if t.is_timestamp(typ):
        utc = datetime.timezone.utc

        def stamps(col: Any) -> list[Any]:
            if typ.unit == "ns":  # to_pylist would give pandas objects
                col = pc.cast(col, pa.timestamp("us", typ.tz), safe=False)
            return [None if v is None else
                    (v.astimezone(utc).replace(tzinfo=None) if v.tzinfo else v).isoformat(" ")
                    for v in col.to_pylist()]
        return stamps
    if t.is_date(typ) or t.is_time(typ):
        return lambda col: [None if v is None else v.isoformat() for v in col.to_pylist()]
    if t.is_decimal(typ) or t.is_duration(typ):
        return lambda col: [None if v is None else str(v) for v in col.to_pylist()]
    if t.is_list(typ) or t.is_large_list(typ) or t.is_struct(typ) or t.is_map(typ):
        return lambda col: [None if v is None else json.dumps(v, default=str)
                            for v in col.to_pylist()]
    return lambda col: col.to_pylist()


# -- helpers: Arrow out -------------------------------------------------------------------

_DECIMAL = re.compile(r"^\s*(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", re.I)


def _decl_arrow_type(decl: str) -> pa.DataType | None:
    """A declared type -> the Arrow type its values are read as; None: go by the values.
    Follows SQLite's affinity rules (INT anywhere -> integer, CHAR/CLOB/TEXT -> text,
    REAL/FLOA/DOUB -> real) after the names SQLite has no class for: BOOL, DATE,
    DATETIME/TIMESTAMP, DECIMAL(p,s)."""
    import pyarrow as pa

    d = decl.upper()
    if not d:
        return None
    if "BOOL" in d:
        return pa.bool_()
    if "TIMESTAMP" in d or "DATETIME" in d:
        zoned = "TZ" in d or ("TIME ZONE" in d and "WITHOUT" not in d)
        return pa.timestamp("us", tz="UTC" if zoned else None)
    if d.startswith("DATE"):
        return pa.date32()
    m = _DECIMAL.match(d)
    if m and int(m.group(1)) <= 38:
        return pa.decimal128(int(m.group(1)), int(m.group(2) or 0))
    if "INT" in d:
        return pa.int64()
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return pa.string()
    if "BLOB" in d:
        return pa.binary()
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return pa.float64()
    return None  # NUMERIC, TIME, anything else: the values say


def _rows_to_arrow(cur: sqlite3.Cursor | None, decls: list[str] | None) -> pa.Table:
    import pyarrow as pa

    desc = cur.description if cur is not None else None
    if not desc:
        return pa.table({})
    try:
        rows = cur.fetchall() if cur is not None else []
    except sqlite3.Error as exc:
        raise _error(exc) from None
    if decls is None or len(decls) != len(desc):
        decls = [""] * len(desc)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(desc)
    arrays = [_column(list(col), decl) for col, decl in zip(columns, decls, strict=True)]
    return pa.Table.from_arrays(arrays, names=[d[0] for d in desc])


def _column(values: list[Any], decl: str) -> pa.Array:
    """Values of one result column as the declared type says, if they all fit it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = _decl_arrow_type(decl)
    if typ is None:
        return _inferred(values)
    if pa.types.is_boolean(typ):
        if all(v is None or (isinstance(v, int) and v in (0, 1)) for v in values):
            return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
        return _inferred(values)
    if pa.types.is_date32(typ) or pa.types.is_timestamp(typ):
        if not all(v is None or isinstance(v, str) for v in values):
            return _inferred(values)
        text = pa.array(values, pa.string())
        for step in ([typ], [pa.timestamp("us"), typ]):  # offsets, or naive UTC text
            try:
                out = text
                for target in step:
                    out = pc.cast(out, target)
                return out
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        return text  # not ISO text: keep it as written
    if pa.types.is_decimal(typ):
        try:
            quantum = Decimal(1).scaleb(-typ.scale)
            wide = Context(prec=76)  # the default 28 digits cannot quantize a decimal(38,s)
            return pa.array([None if v is None else Decimal(str(v)).quantize(quantum, context=wide)
                             for v in values], typ)
        except (InvalidOperation, TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
            return _inferred(values)
    try:
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _inferred(values)  # SQLite's dynamic typing: a value of another class


def _inferred(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


# -- helpers: seeds ----------------------------------------------------------------------

_INT_TEXT = re.compile(r"^\s*[-+]?\d+\s*$")
_NUM_TEXT = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    try:
        return _read_csv_rows(path, delimiter)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatabaseError(f"Could not read seed file {path.name}: {exc}", path=str(path),
                            hint="Seeds are UTF-8 CSV files; check the delimiter and "
                                 "quoting.") from None


def _read_csv_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar='"')
        header = checked_header(path, next(reader, None))
        rows = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise DatabaseError(
                    f"Row {reader.line_num} of seed file {path.name} has {len(row)} fields, "
                    f"the header {len(header)}", path=str(path), line=reader.line_num,
                    hint="Check the delimiter and quoting of that row.")
            rows.append(row)
    return header, rows


def _as_written(value: str) -> Any:
    return None if value == "" else value


def _seed_type(values: list[str]) -> tuple[str, Callable[[str], Any]]:
    """agate's order over the non-empty cells: Integer, Number, Date, DateTime, Boolean,
    Text (first that fits all); an empty column is an integer. Text also reads 'null'
    as NULL (dbt's text null values)."""
    present = [v for v in values if v != ""]
    if all(_INT_TEXT.match(v) and _INT64[0] <= int(v) <= _INT64[1] for v in present):
        return "integer", lambda v: None if v == "" else int(v)
    if all(_NUM_TEXT.match(v) for v in present):
        return "float8", lambda v: None if v == "" else float(v)
    if all(_parses(_date, v) for v in present):
        return "date", lambda v: None if v == "" else _date(v).isoformat()
    if all(_parses(_datetime, v) for v in present):
        return "timestamp without time zone", \
            lambda v: None if v == "" else _datetime(v).isoformat(" ")
    if all(v.strip().lower() in ("true", "false") for v in present):
        return "boolean", lambda v: None if v == "" else int(v.strip().lower() == "true")
    return "text", lambda v: None if v in ("", "null") else v


def _date(v: str) -> datetime.date:
    return datetime.datetime.strptime(v.strip(), "%Y-%m-%d").date()


def _datetime(v: str) -> datetime.datetime:
    text = v.strip()
    if len(text) < 11:  # a date alone is not a timestamp (agate's DateTime wants a time)
        raise ValueError(text)
    return datetime.datetime.fromisoformat(text)


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True
