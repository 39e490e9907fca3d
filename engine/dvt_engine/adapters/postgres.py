"""PostgreSQL: psycopg 3 through a pooled SQLAlchemy Engine, ADBC for Arrow, COPY for seeds.

Each thread keeps one pooled connection with autocommit off: a statement outside
`transaction()` is committed on its own; inside, PostgreSQL's transactional DDL makes a
swap (drop old + rename staging) atomic. Nested `transaction()` blocks are savepoints.

Bulk paths, never row by row: reads via ADBC (`fetch_arrow_table`) or `COPY ... TO STDOUT`
into pyarrow.csv; writes via ADBC `adbc_ingest` or `COPY ... FROM STDIN`; CSV seeds stream
the file itself into COPY after pyarrow has inferred the column types over the whole file.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as urlquote

from sqlglot import exp

from dvt_engine.adapters.base import Adapter, AdapterResponse, seed_column_type
from dvt_engine.adapters.column import Column
from dvt_engine.adapters.connections import ThreadConnections, quiet_close
from dvt_engine.adapters.relation import Relation
from dvt_engine.adapters.seed_files import read_non_csv
from dvt_engine.errors import DatabaseError, ProjectError
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa
    import sqlalchemy

_COPY_CHUNK = 1 << 20  # bytes per copy.write: large enough that Python is not the bottleneck
_SAMPLE_BYTES = 1 << 20  # a CSV seed's first block, typed to start COPY before the whole file
_INT32 = (-(2**31), 2**31 - 1)


class _WrongGuess(Exception):
    """The types of a seed's first block were not those of the whole file."""


class PostgresDatabaseError(DatabaseError):
    """A DatabaseError that keeps PostgreSQL's SQLSTATE, for code paths that branch on it."""

    def __init__(self, message: str, sqlstate: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.sqlstate = sqlstate


@dataclass
class _Conn:
    """One thread's connection: the pool's proxy (to give it back) and psycopg's object."""

    pooled: Any  # sqlalchemy PoolProxiedConnection
    raw: psycopg.Connection[Any]
    depth: int = 0  # transaction() nesting; 0 = each statement commits on its own
    adbc: Any = None  # the thread's ADBC connection for reads, opened on first use


class PostgresColumn(Column):
    """dbt-postgres' Column: text and unsized varchar stay as they are."""

    @property
    def data_type(self) -> str:
        d = self.dtype.lower()
        if d == "text" or (d == "character varying" and self.char_size is None):
            return self.dtype
        return super().data_type


class PostgresAdapter(Adapter):
    identifier_folding = "lower"
    Column = PostgresColumn
    type = "postgres"
    dialect = "postgres"
    secret_keys = ("password", "pass")
    # as dbt-postgres: `cascade`, so views reading the relation go with it
    drop_keywords = {"view": "view", "materialized_view": "materialized view"}
    drop_suffix = " cascade"
    drop_looks_up_kind = True

    def __init__(self, output: Output, project_root: Path) -> None:
        super().__init__(output, project_root)
        # runner threads come and go: what dead ones held goes back, or the pool runs dry
        self._conns: ThreadConnections[_Conn] = ThreadConnections(self._connect, _release)
        self._schemas_made: set[str] = set()
        self.use_adbc = _adbc_available()  # tests turn it off to exercise the COPY paths

    # -- identity ---------------------------------------------------------------
    @property
    def database(self) -> str:
        return str(self._setting("dbname", "database", default=""))

    def _require(self) -> dict[str, Any]:
        """The connection settings dbt-postgres requires, or a ProjectError naming the gaps."""
        params = {"host": self._setting("host"), "user": self._setting("user", "username"),
                  "dbname": self.database or None}
        missing = [k for k, v in params.items() if v is None]
        if missing:
            raise ProjectError(
                f"Output '{self.name}' (postgres) is missing: {', '.join(missing)}",
                hint="Set host, port, user, password, dbname and schema in profiles.yml.")
        params["port"] = int(self._setting("port", default=5432))
        return params

    def _libpq_options(self) -> dict[str, str]:
        """Connection options besides host/port/user/password/dbname, as libpq names them."""
        opts = {"connect_timeout": str(self._setting("connect_timeout", default=10)),
                "application_name": "dvt"}
        if self._setting("sslmode"):
            opts["sslmode"] = str(self._setting("sslmode"))
        keepalives = self._setting("keepalives_idle")
        if keepalives:  # dbt-postgres: 0 means "the OS default", so leave it unset
            opts["keepalives_idle"] = str(keepalives)
        search_path = self._setting("search_path")
        if search_path:
            opts["options"] = "-c search_path=" + str(search_path).replace(" ", "\\ ")
        return opts

    # -- connection -------------------------------------------------------------
    def _create_engine(self) -> sqlalchemy.Engine:
        import sqlalchemy
        from sqlalchemy.pool import QueuePool

        params = self._require()
        url = sqlalchemy.URL.create(
            "postgresql+psycopg", username=str(params["user"]), password=self._secret,
            host=str(params["host"]), port=params["port"], database=str(params["dbname"]))
        threads = max(self.output.threads, 1)
        # no cap on overflow: a run's threads (the default target's, --threads) can exceed
        # this output's, and each runner thread holds its connection until it ends, so a cap
        # makes the extra threads wait 30 s and fail (a source read by many federated models)
        engine = sqlalchemy.create_engine(
            url, poolclass=QueuePool, pool_size=threads, max_overflow=-1,
            hide_parameters=True, connect_args=self._libpq_options())
        role = self._setting("role")
        if role:
            @sqlalchemy.event.listens_for(engine, "connect")
            def _set_role(dbapi_conn: Any, _record: Any) -> None:
                with dbapi_conn.cursor() as cur:
                    cur.execute(f"set role {role}")  # as dbt-postgres: the name as written
                dbapi_conn.commit()
        return engine

    def open(self) -> None:
        self._conn()

    def _conn(self) -> _Conn:
        return self._conns.get()

    def _connect(self) -> _Conn:
        import psycopg
        import sqlalchemy

        try:
            pooled = self.engine.raw_connection()
        # raw_connection() does not wrap the driver's errors (a refused connection arrives
        # as psycopg.OperationalError), engine.connect() would: catch both
        except (sqlalchemy.exc.DBAPIError, psycopg.Error) as exc:
            raw_exc = getattr(exc, "orig", None) or exc
            raise DatabaseError(self._scrub(_one_line(raw_exc)), node=f"target {self.name}",
                                hint=f"Check host, port, user, password and dbname of output "
                                     f"'{self.name}' in profiles.yml.") from None
        raw = pooled.driver_connection
        raw.autocommit = False
        return _Conn(pooled, raw)

    def cancel(self) -> None:
        for conn in self._conns.all():
            with contextlib.suppress(Exception):  # a connection that is idle has nothing to stop
                conn.raw.cancel_safe()

    def close(self) -> None:
        self._conns.close()
        super().close()

    def _forget(self, conn: _Conn) -> None:
        """Drop a broken connection so the thread's next statement reconnects."""
        self._conns.forget(conn)
        with contextlib.suppress(Exception):  # already broken; nothing more to do
            conn.pooled.invalidate()

    def _error(self, exc: BaseException, **kw: Any) -> PostgresDatabaseError:
        return PostgresDatabaseError(self._scrub(_pg_message(exc)),
                                     getattr(exc, "sqlstate", None), **kw)

    # -- statements -------------------------------------------------------------
    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        import psycopg

        conn = self._conn()
        started = time.perf_counter()
        try:
            with conn.raw.cursor() as cur:
                cur.execute(sql.encode())  # bytes: never parsed for placeholders
                resp = _response(cur)
                table = _rows_to_arrow(cur) if fetch else None
            if conn.depth == 0:
                conn.raw.commit()
        except psycopg.Error as exc:
            self._after_error(conn)
            raise self._error(exc) from None
        self.report(sql, started)
        return resp, table

    def _after_error(self, conn: _Conn) -> None:
        if conn.raw.closed:
            self._forget(conn)
        elif conn.depth == 0:
            _quiet_rollback(conn.raw)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A catalog query with bound parameters; its rows as tuples."""
        import psycopg

        conn = self._conn()
        try:
            with conn.raw.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            if conn.depth == 0:
                conn.raw.commit()
        except psycopg.Error as exc:
            self._after_error(conn)
            raise self._error(exc) from None
        return rows

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn()
        if conn.depth > 0:
            with self._savepoint(conn):
                yield
            return
        conn.depth = 1
        try:
            yield
        except BaseException:
            conn.depth = 0
            _quiet_rollback(conn.raw)
            raise
        conn.depth = 0
        self._commit(conn)

    @contextmanager
    def _savepoint(self, conn: _Conn) -> Iterator[None]:
        name = f"dvt_savepoint_{conn.depth}"
        self.execute(f"savepoint {name}")
        conn.depth += 1
        try:
            yield
        except BaseException:
            conn.depth -= 1
            self.execute(f"rollback to savepoint {name}")
            raise
        conn.depth -= 1
        self.execute(f"release savepoint {name}")

    def _commit(self, conn: _Conn) -> None:
        import psycopg
        from psycopg.pq import TransactionStatus

        if conn.raw.info.transaction_status == TransactionStatus.INERROR:
            # a failed statement was swallowed inside the block: COMMIT would roll back silently
            _quiet_rollback(conn.raw)
            raise PostgresDatabaseError("The transaction was rolled back: a statement in it failed",
                                        "25P02")
        try:
            conn.raw.commit()
        except psycopg.Error as exc:
            self._after_error(conn)
            raise self._error(exc) from None

    # -- Arrow ------------------------------------------------------------------
    def read_arrow(self, sql: str) -> pa.Table:
        conn = self._conn()
        # inside a transaction only this connection sees its own uncommitted work
        if not (self.use_adbc and conn.depth == 0):
            return self._copy_read(sql)
        try:
            return self._adbc_read(conn, sql)
        except Exception:  # noqa: BLE001 - the cursor path answers, or says what is wrong
            _, table = self.execute(sql, fetch=True)
            assert table is not None
            return table

    def _adbc_read(self, conn: _Conn, sql: str) -> pa.Table:
        if conn.adbc is None:
            conn.adbc = self._adbc_connect()
        started = time.perf_counter()
        try:
            with conn.adbc.cursor() as cur:
                cur.execute(sql)
                table = cur.fetch_arrow_table()
        except Exception:
            quiet_close(conn.adbc)
            conn.adbc = None
            raise
        self.report(sql, started)
        return _normalize_adbc(table)

    def _adbc_connect(self) -> Any:
        import adbc_driver_postgresql.dbapi as adbc

        # autocommit: an open read transaction would hold locks that a later DROP waits on
        conn = adbc.connect(self._uri(), autocommit=True)
        role = self._setting("role")
        if role:
            with conn.cursor() as cur:
                cur.execute(f"set role {role}")
        return conn

    def _uri(self) -> str:
        params = self._require()
        auth = urlquote(str(params["user"]), safe="")
        if self._secret is not None:
            auth += ":" + urlquote(self._secret, safe="")
        query = "&".join(f"{k}={urlquote(v, safe='')}" for k, v in self._libpq_options().items())
        return (f"postgresql://{auth}@{params['host']}:{params['port']}/"
                f"{urlquote(str(params['dbname']), safe='')}?{query}")

    # -- federation: Spark's JDBC reader (federation/transport.py) -------------------
    @property
    def arrow_transport(self) -> str:
        return "ADBC" if self.use_adbc else "COPY"

    def jdbc_source(self) -> tuple[str, dict[str, str]]:
        """The pgjdbc URL and connection properties; the password only in the properties
        (Spark error messages can quote the URL)."""
        params = self._require()
        opts = self._libpq_options()
        props = {"driver": "org.postgresql.Driver", "user": str(params["user"]),
                 "ApplicationName": opts["application_name"],
                 "connectTimeout": opts["connect_timeout"]}
        if self._secret is not None:
            props["password"] = self._secret
        if "sslmode" in opts:
            props["sslmode"] = opts["sslmode"]
        if "options" in opts:
            props["options"] = opts["options"]
        role = self._setting("role")
        if role:
            props["sessionInitStatement"] = f"set role {role}"
        url = (f"jdbc:postgresql://{params['host']}:{params['port']}/"
               f"{urlquote(str(params['dbname']), safe='')}")
        return url, props

    def estimate_rows(self, sql: str) -> int | None:
        """The planner's row estimate for `sql` (EXPLAIN, nothing run), None if unknown."""
        try:
            _, table = self.execute(f"explain (format json) {sql.strip().rstrip(';')}", fetch=True)
            plan = table.column(0)[0].as_py() if table is not None else None
            if isinstance(plan, str):
                import json

                plan = json.loads(plan)
            return int(plan[0]["Plan"]["Plan Rows"])
        except (DatabaseError, LookupError, TypeError, ValueError):
            return None

    def _copy_read(self, sql: str) -> pa.Table:
        """COPY (sql) TO STDOUT as CSV, parsed by pyarrow with types from the result's OIDs."""
        import psycopg
        import pyarrow.csv as pcsv

        body = sql.strip().rstrip(";")
        conn = self._conn()
        buf = io.BytesIO()
        try:
            with self.transaction():  # a savepoint when nested: a failure leaves the rest
                try:
                    with conn.raw.cursor() as cur:
                        cur.execute(f"select * from (\n{body}\n) as dvt_q limit 0".encode())
                        columns = [(d.name, d.type_code, d.precision, d.scale)
                                   for d in cur.description or []]
                        with cur.copy(f"copy (\n{body}\n) to stdout with (format csv)"
                                      .encode()) as copy:
                            for chunk in copy:
                                buf.write(chunk)
                except psycopg.Error as exc:
                    raise self._error(exc) from None
        except PostgresDatabaseError:
            # not a plain query (e.g. DML with RETURNING): the cursor path answers or says why
            _, table = self.execute(sql, fetch=True)
            assert table is not None
            return table
        return _csv_to_arrow(buf.getvalue(), columns, pcsv)

    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        return self._create_and_load(relation, table, {})

    def _create_and_load(self, relation: Relation, table: pa.Table,
                         overrides: dict[str, str]) -> int:
        """A new table `relation` with `table`'s columns (types from Arrow or `overrides`),
        filled through ADBC when possible, else COPY."""
        columns = [(f.name, seed_column_type(overrides, f.name) or _pg_type(f.type)) for f in table.schema]
        conn = self._conn()
        if self.use_adbc and conn.depth == 0 and not overrides:
            self.execute(self._create_table_sql(relation, columns))
            try:
                self._adbc_ingest(conn, relation, table)
            except Exception:  # noqa: BLE001 - a type ADBC cannot send: COPY parses text
                try:
                    self._copy_arrow(relation, table)
                except DatabaseError:
                    self.drop_relation(relation)
                    raise
        else:
            with self.transaction():
                self.execute(self._create_table_sql(relation, columns))
                self._copy_arrow(relation, table)
        self.cache_added(relation.incorporate(type="table"))
        return table.num_rows

    def _adbc_ingest(self, conn: _Conn, relation: Relation, table: pa.Table) -> None:
        if conn.adbc is None:
            conn.adbc = self._adbc_connect()
        with conn.adbc.cursor() as cur:
            cur.adbc_ingest(relation.identifier or "", table, mode="append",
                            db_schema_name=relation.schema)

    def _copy_arrow(self, relation: Relation, table: pa.Table) -> None:
        """COPY FROM STDIN, the rows rendered as CSV by pyarrow (in C, batch by batch)."""
        import psycopg
        import pyarrow as pa
        import pyarrow.csv as pcsv

        cols = ", ".join(self.quote(n) for n in table.column_names)
        stmt = f"copy {relation} ({cols}) from stdin with (format csv)"
        conn = self._conn()
        opts = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        try:
            with conn.raw.cursor() as cur, cur.copy(stmt.encode()) as copy:
                for batch in _csv_safe(table).to_batches(max_chunksize=65536):
                    buf = io.BytesIO()
                    pcsv.write_csv(pa.Table.from_batches([batch]), buf, opts)
                    copy.write(buf.getvalue())
            if conn.depth == 0:
                conn.raw.commit()
        except psycopg.Error as exc:
            self._after_error(conn)
            raise self._error(exc) from None

    def _create_table_sql(self, relation: Relation, columns: list[tuple[str, str]]) -> str:
        defs = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=_datatype(dtype))
                for name, dtype in columns]
        return self.render(exp.Create(this=exp.Schema(this=self.table_expr(relation),
                                                      expressions=defs), kind="TABLE"))

    # -- catalog ----------------------------------------------------------------
    def _check_database(self, database: str | None) -> None:
        if database and self.database and database.lower() != self.database.lower():
            raise DatabaseError(
                f"Cross-db references not allowed in postgres ({database} vs {self.database})",
                hint="A PostgreSQL connection sees one database: use a separate output "
                     "(connection) for the other one.")

    def list_relations_uncached(self, database: str, schema: str) -> list[Relation]:
        self._check_database(database)
        rows = self._query(
            "select c.relname, c.relkind from pg_catalog.pg_class c "
            "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'p', 'f', 'v', 'm')", (schema,))
        kinds = {"v": "view", "m": "materialized_view"}
        return [Relation(database, schema, name, kinds.get(kind, "table")) for name, kind in rows]

    def get_columns(self, relation: Relation) -> list[Column]:
        """Types as PostgreSQL spells them: integer, numeric(10,2), character varying(20)..."""
        self._check_database(relation.database)
        rows = self._query(
            "select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
            "from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid "
            "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s and a.attnum > 0 "
            "and not a.attisdropped order by a.attnum",
            (relation.schema or self.schema, relation.identifier or ""))
        return [PostgresColumn.described(name, dtype) for name, dtype in rows]

    def dependent_views(self, relation: Relation) -> list[str]:
        """schema.name of the views (and materialized views) that read `relation`."""
        rows = self._query(
            "select distinct dn.nspname, dc.relname from pg_catalog.pg_depend d "
            "join pg_catalog.pg_rewrite r on r.oid = d.objid "
            "join pg_catalog.pg_class dc on dc.oid = r.ev_class "
            "join pg_catalog.pg_namespace dn on dn.oid = dc.relnamespace "
            "where d.classid = 'pg_catalog.pg_rewrite'::regclass "
            "and d.refobjid = to_regclass(%s) and dc.oid <> d.refobjid order by 1, 2",
            (str(relation.include(database=False)),))
        return [f"{s}.{n}" for s, n in rows]

    # -- DDL --------------------------------------------------------------------
    def create_schema(self, database: str | None, schema: str) -> None:
        # its own record: a cached (empty) listing of a schema does not mean it exists
        if schema in self._schemas_made:
            return
        self._check_database(database)
        # CREATE SCHEMA takes no database qualifier in PostgreSQL
        stmt = self.render(exp.Create(this=exp.Table(db=exp.to_identifier(schema, quoted=True)),
                                      kind="SCHEMA", exists=True))
        try:
            self.execute(stmt)
        except PostgresDatabaseError as exc:
            # two threads creating the same schema: IF NOT EXISTS is not race-free
            if exc.sqlstate != "23505":
                raise
        self._schemas_made.add(schema)

    def create_view_as(self, relation: Relation, sql: str) -> AdapterResponse:
        """`create or replace view` keeps the views that read this one, but PostgreSQL
        refuses it when columns are renamed, dropped or retyped: then drop and create,
        in one transaction (views reading the old one go, as with dbt-postgres)."""
        body = f" view {relation} as (\n{sql}\n)"
        try:
            with self.transaction():
                resp, _ = self.execute("create or replace" + body)
        except PostgresDatabaseError as exc:
            if exc.sqlstate != "42P16":  # invalid_table_definition: the columns changed
                raise
            with self.transaction():
                self.drop_relation(relation.incorporate(type="view"))
                resp, _ = self.execute("create" + body)
        return resp

    # -- seeds ------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        """CSV: create the table with the inferred types and COPY the file's own bytes.
        Parquet/JSON: read into Arrow, then write_arrow's bulk path."""
        if not path.exists():
            raise DatabaseError(f"Seed file not found: {path}", path=str(path),
                                hint="Check seed-paths in dbt_project.yml.")
        if path.suffix.lower() != ".csv":
            table = read_non_csv(path)
            table = table.rename_columns([_seed_name(n, quote_columns) for n in table.column_names])
            return self._create_and_load(relation, table, column_types)

        def create_and_copy(columns: list[tuple[str, str]]) -> int:
            self.execute(self._create_table_sql(relation, columns))
            return self._copy_file(relation, [n for n, _ in columns], path, delimiter)

        rows = self._typed_load(path, column_types, delimiter, quote_columns, create_and_copy)
        assert rows is not None
        self.cache_added(relation.incorporate(type="table"))
        return rows

    def reload_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                    delimiter: str, quote_columns: bool) -> int | None:
        """Same columns: truncate + COPY in one transaction, as dbt-postgres does, so the
        views that read the seed stay. Changed columns: None (build aside and swap), unless
        views depend on it: dropping it would take them along, so stop and name them."""
        if not path.exists():
            return None  # load_seed says what is wrong
        have = [(c.name, c.native_type) for c in self.get_columns(relation)]

        def truncate_and_copy(columns: list[tuple[str, str]]) -> int | None:
            if not _same_columns(columns, have):
                return None
            self.execute(f"truncate table {relation}")
            return self._copy_file(relation, [n for n, _ in columns], path, delimiter)

        if path.suffix.lower() == ".csv":
            rows = self._typed_load(path, column_types, delimiter, quote_columns,
                                    truncate_and_copy)
        else:
            table = read_non_csv(path)
            wanted = [(_seed_name(f.name, quote_columns),
                       seed_column_type(column_types, f.name) or _pg_type(f.type)) for f in table.schema]
            rows = None
            if _same_columns(wanted, have):
                with self.transaction():
                    self.execute(f"truncate table {relation}")
                    self._copy_arrow(relation, table.rename_columns([n for n, _ in wanted]))
                rows = table.num_rows
        if rows is not None:
            return rows
        dependents = self.dependent_views(relation)
        if dependents:
            raise DatabaseError(
                f"The columns of seed {relation} changed and views depend on it: "
                f"{', '.join(dependents)}",
                path=str(path),
                hint="Replacing the table would drop those views. Run `dvt seed --full-refresh` "
                     "(drops them, as dbt does) and then rebuild them with `dvt run`.")
        return None

    def _typed_load(self, path: Path, column_types: dict[str, str], delimiter: str,
                    quote_columns: bool,
                    load: Callable[[list[tuple[str, str]]], int | None]) -> int | None:
        """Run `load(columns)` in one transaction with the columns of the whole CSV file.

        Typing a big file takes half as long as COPYing it, so the two overlap: `load` runs
        with the types of the file's first block while a thread types the whole file; the
        transaction commits only if both agree, else it is rolled back and `load` runs again
        with the whole file's types. Small files are typed first, once.
        """
        if path.stat().st_size <= _SAMPLE_BYTES:
            columns = self._seed_columns(path, column_types, delimiter, quote_columns, False)
            with self.transaction():
                return load(columns)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dvt-seed-types") as pool:
            whole = pool.submit(self._seed_columns, path, column_types, delimiter,
                                quote_columns, False)
            guess = self._seed_columns(path, column_types, delimiter, quote_columns, True)
            try:
                with self.transaction():
                    rows = load(guess)
                    if whole.result() != guess:
                        raise _WrongGuess
                return rows
            except _WrongGuess:
                pass
            except DatabaseError:
                if whole.result() == guess:  # the data is wrong, not the guess
                    raise
            columns = whole.result()
        with self.transaction():
            return load(columns)

    def _seed_columns(self, path: Path, column_types: dict[str, str], delimiter: str,
                      quote_columns: bool, sample: bool) -> list[tuple[str, str]]:
        try:
            inferred = _infer_csv_types(path, delimiter, sample)
        except DatabaseError as exc:
            exc.path = str(path)
            raise
        return [(_seed_name(name, quote_columns), seed_column_type(column_types, name) or dtype)
                for name, dtype in inferred]

    def _copy_file(self, relation: Relation, columns: list[str], path: Path,
                   delimiter: str) -> int:
        """Stream the CSV file's bytes into COPY; PostgreSQL parses them."""
        import psycopg

        cols = ", ".join(self.quote(c) for c in columns)
        # FORCE_NULL: a quoted empty field is NULL too, as the type inference read it
        stmt = (f"copy {relation} ({cols}) from stdin with (format csv, header true, "
                f"delimiter {_literal(delimiter)}, force_null ({cols}))")
        conn = self._conn()
        try:
            with conn.raw.cursor() as cur:
                with cur.copy(stmt.encode()) as copy, path.open("rb") as fh:
                    _stream_csv(fh, copy)
                rows = max(cur.rowcount, 0)
            if conn.depth == 0:
                conn.raw.commit()
        except psycopg.Error as exc:
            self._after_error(conn)
            err = self._error(exc, path=str(path))
            err.message += f"\n  while loading seed file {path.name}"
            raise err from None
        return rows


# -- helpers: connections -----------------------------------------------------------


def _adbc_available() -> bool:
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def _release(conn: _Conn) -> None:
    _quiet_rollback(conn.raw)
    if conn.adbc is not None:
        quiet_close(conn.adbc)
    with contextlib.suppress(Exception):  # a broken connection may fail to close
        conn.pooled.close()  # back to the pool


def _quiet_rollback(raw: Any) -> None:
    try:
        if not raw.closed:
            raw.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the pool replaces it
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _pg_message(exc: BaseException) -> str:
    """psycopg's text (message, LINE/caret) plus DETAIL/HINT/CONTEXT when the server sent them."""
    text = str(exc).strip()
    diag = getattr(exc, "diag", None)
    if diag is not None:
        for label, value in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint),
                             ("CONTEXT", diag.context)):
            if value and value not in text:
                text += f"\n{label}:  {value.strip()}"
    return text


def _response(cur: Any) -> AdapterResponse:
    """dbt-postgres's response: the status ("SELECT 469", "INSERT 0 5"), the code without
    numbers, rows = rowcount."""
    message = str(cur.statusmessage or "OK")
    code = " ".join(p for p in message.split() if not p.isdigit())
    rows = cur.rowcount if cur.rowcount is not None and cur.rowcount >= 0 else None
    return AdapterResponse(message, code, rows)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- helpers: types -------------------------------------------------------------------

# result column OID -> Arrow type, for the cursor and COPY read paths
_OID_TYPES: dict[int, str] = {
    16: "bool", 20: "int64", 21: "int16", 23: "int32", 26: "int64", 700: "float32",
    701: "float64", 1082: "date32", 1083: "time64", 1114: "timestamp", 1184: "timestamptz",
    25: "string", 1043: "string", 1042: "string", 19: "string", 114: "json", 3802: "json",
    2950: "string", 1700: "numeric",
}


def _arrow_type(kind: str, precision: int | None, scale: int | None) -> pa.DataType | None:
    import pyarrow as pa

    simple = {"bool": pa.bool_(), "int16": pa.int16(), "int32": pa.int32(),
              "int64": pa.int64(), "float32": pa.float32(), "float64": pa.float64(),
              "date32": pa.date32(), "time64": pa.time64("us"),
              "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"),
              "string": pa.string(), "json": pa.string()}
    if kind in simple:
        return simple[kind]
    if kind == "numeric" and precision and precision <= 38:
        return pa.decimal128(precision, scale or 0)
    return None  # inferred from the values


def _rows_to_arrow(cur: Any) -> pa.Table:
    """A (small) cursor result as Arrow, typed by the result's column OIDs."""
    import json

    import pyarrow as pa

    desc = cur.description or []
    rows = cur.fetchall() if desc else []
    arrays = []
    for i, d in enumerate(desc):
        values = [r[i] for r in rows]
        kind = _OID_TYPES.get(d.type_code, "")
        if kind == "json":
            values = [None if v is None else json.dumps(v) for v in values]
        typ = _arrow_type(kind, d.precision, d.scale)
        try:
            arrays.append(pa.array(values, type=typ))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, names=[d.name for d in desc])


def _csv_to_arrow(data: bytes, columns: list[tuple[str, int, int | None, int | None]],
                  pcsv: Any) -> pa.Table:
    import pyarrow as pa

    names = [f"c{i}" for i in range(len(columns))]  # result names may repeat
    types: dict[str, pa.DataType] = {}
    for name, (_, oid, precision, scale) in zip(names, columns, strict=True):
        kind = _OID_TYPES.get(oid, "")
        typ = _arrow_type(kind, precision, scale)
        # timestamptz prints an offset like +00 that pyarrow's parser wants as +00:00
        types[name] = pa.string() if typ is None or kind == "timestamptz" else typ
    if not columns:
        return pa.table({})
    table = pcsv.read_csv(
        io.BytesIO(data),
        read_options=pcsv.ReadOptions(column_names=names),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=types, true_values=["t"], false_values=["f"], null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False))
    arrays = []
    for col, (_, oid, _p, _s) in zip(table.columns, columns, strict=True):
        kind = _OID_TYPES.get(oid, "")
        if kind == "timestamptz":
            col = _parse_timestamptz(col)
        elif kind == "numeric" and pa.types.is_string(col.type):
            col = _numeric_from_text(col)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def _parse_timestamptz(col: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    fixed = pc.replace_substring_regex(col, r"([+-]\d\d)$", r"\1:00")
    return pc.cast(fixed, pa.timestamp("us", tz="UTC"))


def _numeric_from_text(col: Any) -> Any:
    """Unconstrained numeric: the narrowest decimal that holds every value, else text
    (NaN, Infinity or more than 76 digits have no Arrow decimal)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if col.null_count == len(col):
        return col
    length = pc.utf8_length(col)
    dot = pc.find_substring(col, ".")
    has_dot = pc.greater_equal(dot, 0)
    scale = pc.max(pc.if_else(has_dot, pc.subtract(pc.subtract(length, dot), 1), 0)).as_py() or 0
    ints = pc.max(pc.if_else(has_dot, dot, length)).as_py() or 1  # sign included: a digit spare
    precision = max(ints + scale, 1)
    typ = pa.decimal128(precision, scale) if precision <= 38 else (
        pa.decimal256(precision, scale) if precision <= 76 else None)
    if typ is None:
        return col
    try:
        return pc.cast(col, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return col


def _normalize_adbc(table: pa.Table) -> pa.Table:
    """ADBC hands numeric (and other types it has no Arrow type for) as text, opaque or
    plain: numeric(p,s) becomes decimal128(p,s), unconstrained numeric the narrowest
    decimal, the rest plain strings."""
    import pyarrow as pa

    def is_numeric(field: pa.Field) -> bool:
        return (field.metadata or {}).get(b"POSTGRESQL:type") == b"numeric"

    if not any(isinstance(f.type, pa.BaseExtensionType) or is_numeric(f) for f in table.schema):
        return table
    arrays = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if isinstance(field.type, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], field.type.storage_type)
        if is_numeric(field) and pa.types.is_string(col.type):
            meta = field.metadata or {}
            col = _numeric_typmod(col, int(meta.get(b"POSTGRESQL:typmod", b"-1")))
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _numeric_typmod(col: Any, typmod: int) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if precision <= 38:
            try:
                return pc.cast(col, pa.decimal128(precision, scale))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return col
    return _numeric_from_text(col)


def _pg_type(typ: pa.DataType) -> str:
    """The PostgreSQL type whose binary form ADBC sends for this Arrow type."""
    import pyarrow as pa

    t = pa.types
    if t.is_boolean(typ):
        return "boolean"
    if t.is_int8(typ) or t.is_int16(typ) or t.is_uint8(typ):
        return "smallint"
    if t.is_int32(typ) or t.is_uint16(typ):
        return "integer"
    if t.is_int64(typ) or t.is_uint32(typ):
        return "bigint"
    if t.is_uint64(typ):
        return "numeric(20,0)"
    if t.is_float16(typ) or t.is_float32(typ):
        return "real"
    if t.is_float64(typ):
        return "double precision"
    if t.is_decimal(typ):
        return f"numeric({typ.precision},{typ.scale})"
    if t.is_date(typ):
        return "date"
    if t.is_timestamp(typ):
        return "timestamp with time zone" if typ.tz else "timestamp without time zone"
    if t.is_time(typ):
        return "time without time zone"
    if t.is_duration(typ):
        return "interval"
    if t.is_binary(typ) or t.is_large_binary(typ) or t.is_fixed_size_binary(typ):
        return "bytea"
    if t.is_null(typ):
        return "text"
    if t.is_list(typ) or t.is_large_list(typ) or t.is_struct(typ) or t.is_map(typ):
        return "jsonb"
    return "text"


def _csv_safe(table: pa.Table) -> pa.Table:
    """Columns pyarrow's CSV writer cannot render as PostgreSQL reads them, as text."""
    import json

    import pyarrow as pa

    arrays = []
    for col in table.columns:
        t = col.type
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t) \
                or pa.types.is_map(t):
            col = pa.array([None if v is None else json.dumps(v, default=str)
                            for v in col.to_pylist()], pa.string())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            col = pa.array([None if v is None else "\\x" + v.hex() for v in col.to_pylist()],
                           pa.string())
        elif pa.types.is_null(t):
            col = pa.nulls(len(col), pa.string())
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _datatype(dtype: str) -> exp.DataType:
    return exp.DataType.build(dtype, dialect="postgres", udt=True)


def _same_columns(wanted: list[tuple[str, str]], have: list[tuple[str, str]]) -> bool:
    if [n for n, _ in wanted] != [n for n, _ in have]:
        return False
    return all(_datatype(a).sql("postgres") == _datatype(b).sql("postgres")
               for (_, a), (_, b) in zip(wanted, have, strict=True))


def _seed_name(name: str, quote_columns: bool) -> str:
    # unquoted identifiers fold to lower case in PostgreSQL
    return name if quote_columns else name.lower()


# -- helpers: seeds -------------------------------------------------------------------

_TRAILING_NEWLINES = re.compile(rb"[\r\n]+$")


def _stream_csv(fh: Any, copy: Any) -> None:
    """The file to COPY in chunks; trailing blank lines (which COPY would read as rows)
    are dropped. The last line ends as the first does: COPY takes its line ending from
    the first line and refuses a file that mixes them (CRLF files, from Windows tools)."""
    pending = b""
    eol = b""
    while True:
        chunk = fh.read(_COPY_CHUNK)
        if not chunk:
            break
        if not eol:
            eol = b"\r\n" if b"\r\n" in chunk.split(b"\n", 1)[0] + b"\n" else b"\n"
        if pending:
            copy.write(pending)
        pending = chunk
    pending = _TRAILING_NEWLINES.sub(b"", pending)
    if pending:
        copy.write(pending + eol)


def csv_cells_and_types(path: Path, delimiter: str) -> tuple[pa.Table, list[tuple[str, str]]]:
    """A CSV seed's cells as written (every column text: the warehouse casts them, so
    '007' stays '007' in a text column) and dbt's inferred type of each column (in
    PostgreSQL's names); for adapters that load seeds through typed INSERTs."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from dvt_engine.adapters.seed_files import csv_header

    header = csv_header(path, delimiter)
    try:
        inferred = _infer_csv_types(path, delimiter)
    except DatabaseError as exc:
        exc.path = str(path)
        raise
    table = pcsv.read_csv(
        path, parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=True))
    return table, inferred


def _infer_csv_types(path: Path, delimiter: str, sample: bool = False) -> list[tuple[str, str]]:
    """Column types as dbt-postgres's agate inference names them, over the whole file (or
    its first block when `sample`): integer (bigint past 2^31), double precision, date,
    timestamp without time zone, boolean, text; a column with no values is integer."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    convert = pcsv.ConvertOptions(
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
        true_values=["true", "True", "TRUE"], false_values=["false", "False", "FALSE"])
    read = pcsv.ReadOptions(block_size=_SAMPLE_BYTES if sample else 8 << 20)
    table = None
    for newlines in (False, True):  # quoted newlines need the slower quote-aware splitter
        parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines)
        try:
            if sample:
                with pcsv.open_csv(path, read_options=read, parse_options=parse,
                                   convert_options=convert) as reader:
                    table = pa.Table.from_batches([reader.read_next_batch()])
            else:
                table = pcsv.read_csv(path, read_options=read, parse_options=parse,
                                      convert_options=convert)
            break
        except StopIteration:  # a header and no rows
            table = pa.Table.from_batches([], reader.schema)
            break
        except pa.ArrowInvalid as exc:
            if newlines:
                raise DatabaseError(f"Could not read seed file {path.name}: {exc}",
                                    hint="Check the delimiter and quoting of the file.") from None
    assert table is not None
    return [(f.name, _seed_type(table.column(i))) for i, f in enumerate(table.schema)]


def _seed_type(col: Any) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_null(t):
        return "integer"
    if pa.types.is_integer(t):
        lo, hi = pc.min_max(col).values()
        inside = lo.as_py() is None or (_INT32[0] <= lo.as_py() and hi.as_py() <= _INT32[1])
        return "integer" if inside else "bigint"  # dbt fails past 2^31; bigint is friendlier
    if pa.types.is_floating(t):
        return "double precision"  # dbt-postgres: numbers with decimals are float8
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp without time zone"
    return "text"


