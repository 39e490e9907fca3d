"""The adapter contract: one per engine type, over a connection to one profile output.

Adapters know relations, SQL dialects and bulk data paths; they know nothing of the DAG.
DDL is built as sqlglot expressions and rendered in the adapter's dialect; a model's
own SQL is embedded as text (it is the user's, in the target's dialect already).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dvt_engine.adapters.column import Column as BaseColumn
from dvt_engine.adapters.relation import Relation
from dvt_engine.project.profiles import Output

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy
    from sqlglot import exp


@dataclass
class AdapterResponse:
    """What a statement did: message, code, rows."""

    message: str = "OK"
    code: str = "OK"
    rows_affected: int | None = None

    def __str__(self) -> str:
        return self.message


# dvt's older name for a column, kept for the modules that import it
ColumnInfo = BaseColumn


class Adapter:
    type: ClassVar[str] = "base"
    dialect: ClassVar[str] = "postgres"  # sqlglot dialect name
    supports_transactional_ddl: ClassVar[bool] = True
    # how the engine folds an unquoted identifier: "lower" (PostgreSQL), "upper"
    # (Snowflake), or None where names match whatever their case (DuckDB, SQLite, Spark)
    identifier_folding: ClassVar[str | None] = None

    # profile keys holding this output's secret (first set one wins): scrubbed from errors
    secret_keys: ClassVar[tuple[str, ...]] = ()

    # DROP's keyword for each kind of relation; any other kind is dropped as a table
    drop_keywords: ClassVar[dict[str, str]] = {"view": "view"}
    # after DROP's name: " cascade" drops the views that read the relation too (dbt-postgres)
    drop_suffix: ClassVar[str] = ""
    # a relation of unknown type: ask the catalog what it is before dropping it. DuckDB
    # does not (it drops a table, without the query)
    drop_looks_up_kind: ClassVar[bool] = False
    # RENAME TO takes the whole new name: Snowflake puts a bare one in the session's
    # current schema
    rename_to_qualified: ClassVar[bool] = False
    # after CREATE TABLE's column list (Databricks: " using delta")
    table_options: ClassVar[str] = ""
    # what get_columns returns and `api.Column` is: dbt's Column, or the adapter's own
    Column: ClassVar[type[BaseColumn]] = BaseColumn

    def __init__(self, output: Output, project_root: Path) -> None:
        self.output = output
        self.project_root = project_root
        # who hears of each statement run (the session logs them at debug level, so they
        # reach logs/dvt.log); adapters know nothing of events
        self.on_statement: Callable[[str, str, float], None] | None = None
        self._engine: sqlalchemy.Engine | None = None
        self._engine_lock = threading.Lock()
        self._relations: dict[tuple[str, str], dict[str, Relation]] = {}
        self._cache_lock = threading.Lock()
        self._schema_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.output.name

    @property
    def database(self) -> str:
        return str(self.output.settings.get("database") or "")

    @property
    def schema(self) -> str:
        return self.output.schema

    def _setting(self, *keys: str, default: Any = None) -> Any:
        """The first of `keys` set (not empty) in the profile output, else `default`."""
        for key in keys:
            value = self.output.settings.get(key)
            if value is not None and value != "":
                return value
        return default

    @property
    def _secret(self) -> str | None:
        value = self._setting(*self.secret_keys)
        return None if value is None else str(value)

    def _scrub(self, text: str) -> str:
        """`text` without the secret, as written or URL-encoded (as a URL carries it)."""
        secret = self._secret
        if secret:
            from urllib.parse import quote

            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, "****")
        return text

    quote_char: ClassVar[str] = '"'

    def quote(self, identifier: str) -> str:
        # ANSI quoting, as sqlglot renders it for these dialects; kept free of sqlglot so
        # that commands which build no DDL (run of views, show) never import it
        q = self.quote_char
        return f"{q}{identifier.replace(q, q + q)}{q}"

    def relation(self, database: str | None, schema: str | None, identifier: str | None,
                 type: str | None = None) -> Relation:
        return Relation(database=database, schema=schema, identifier=identifier, type=type)

    def table_expr(self, relation: Relation) -> exp.Table:
        from sqlglot import exp

        return exp.table_(relation.identifier, db=relation.schema, catalog=relation.database,
                          quoted=True)

    def render(self, expression: exp.Expression) -> str:
        return expression.sql(self.dialect)

    def report(self, sql: str, started: float) -> None:
        """Tell `on_statement` that `sql` ran, since `started` (time.perf_counter())."""
        if self.on_statement is not None:
            self.on_statement(self.name, sql, time.perf_counter() - started)

    # -- connection (per engine) ---------------------------------------------------
    def open(self) -> None:
        """Connect (lazily called by execute)."""

    def cancel(self) -> None:
        """Stop the statements running on this output (Ctrl-C); connections stay usable."""

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> sqlalchemy.Engine:
        """A SQLAlchemy Engine on this output, for users (pandas.read_sql, notebooks);
        made on first use."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> sqlalchemy.Engine:
        raise NotImplementedError

    def execute(self, sql: str, fetch: bool = False) -> tuple[AdapterResponse, pa.Table | None]:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    def read_arrow(self, sql: str) -> pa.Table:
        _, table = self.execute(sql, fetch=True)
        assert table is not None
        return table

    def fetch_dicts(self, sql: str) -> list[dict[str, Any]]:
        """Small results (catalog, test verdicts) as rows; no Arrow needed."""
        return self.read_arrow(sql).to_pylist()

    def write_arrow(self, relation: Relation, table: pa.Table) -> int:
        raise NotImplementedError

    @property
    def arrow_transport(self) -> str:
        """How read_arrow moves rows, for the federation log line."""
        return "Arrow"

    def debug(self) -> str:
        """Check the connection; return a short OK text or raise."""
        self.execute("select 1", fetch=True)
        return "OK connection ok"

    # -- catalog ------------------------------------------------------------------
    def list_relations_uncached(self, database: str, schema: str) -> list[Relation]:
        raise NotImplementedError

    def list_relations(self, database: str, schema: str) -> dict[str, Relation]:
        key = (database.lower(), schema.lower())
        with self._cache_lock:
            cached = self._relations.get(key)
        if cached is None:
            cached = {r.identifier.lower(): r for r in self.list_relations_uncached(database, schema)
                      if r.identifier}
            with self._cache_lock:
                self._relations[key] = cached
        return cached

    def get_relation(self, database: str | None, schema: str, identifier: str) -> Relation | None:
        return self.list_relations(database or self.database, schema).get(identifier.lower())

    def cache_added(self, relation: Relation) -> None:
        with self._cache_lock:
            rels = self._relations.get(((relation.database or "").lower(),
                                        (relation.schema or "").lower()))
            if rels is not None and relation.identifier:
                rels[relation.identifier.lower()] = relation

    def cache_dropped(self, relation: Relation) -> None:
        with self._cache_lock:
            rels = self._relations.get(((relation.database or "").lower(),
                                        (relation.schema or "").lower()))
            if rels is not None and relation.identifier:
                rels.pop(relation.identifier.lower(), None)

    def forget_cache(self) -> None:
        with self._cache_lock:
            self._relations.clear()

    def get_columns(self, relation: Relation) -> list[BaseColumn]:
        raise NotImplementedError

    def expand_column_types(self, goal: Relation, current: Relation) -> None:
        """Widen `current`'s string columns that are narrower than `goal`'s (dbt's
        SQLAdapter). A no-op where the Column says strings never widen (DuckDB's all
        read as 256, Spark's `string` is no dbt string type)."""
        targets = {c.name: c for c in self.get_columns(current)}
        for ref in self.get_columns(goal):
            target = targets.get(ref.name)
            if target is not None and target.can_expand_to(ref):
                self.alter_column_type(current, ref.name,
                                       self.Column.string_type(ref.string_size()))

    # -- DDL ----------------------------------------------------------------------
    def create_schema(self, database: str | None, schema: str) -> None:
        key = ((database or "").lower(), schema.lower())
        # a cached listing with relations proves the schema is there; an empty one may be
        # that of a schema not created yet
        if self._relations.get(key) or self.schema_exists(database, schema):
            return  # a read is cheaper than a DDL statement, which commits
        # one at a time: two threads creating the same schema (two tests storing failures)
        # conflict on DuckDB's catalog even with `if not exists`
        with self._schema_lock:
            if not self.schema_exists(database, schema):
                self.execute(f"create schema if not exists {self.qualified(database, schema)}")

    def schema_exists(self, database: str | None, schema: str) -> bool:
        db = (database or self.database).replace("'", "''")
        rows = self.fetch_dicts(
            "select 1 as found from information_schema.schemata where lower(catalog_name) = "
            f"lower('{db}') and lower(schema_name) = lower('{schema.replace(chr(39), '')}')")
        return bool(rows)

    # drop, rename and create schema are the statements every run issues; they are only
    # keywords and quoted names, the same in every dialect we have, so they are written
    # here rather than through sqlglot, whose import alone costs ~70 ms per command
    def qualified(self, *parts: str | None) -> str:
        """Quoted dotted name of the given parts, skipping empty ones."""
        return ".".join(self.quote(p) for p in parts if p)

    def ddl_name(self, relation: Relation) -> str:
        """The relation's name in DROP and RENAME: every part quoted. Snowflake and
        Databricks render the relation itself (its quote policy, its quote character)."""
        return self.qualified(relation.database, relation.schema, relation.identifier)

    def _drop_kind(self, relation: Relation) -> str | None:
        if relation.type is None and self.drop_looks_up_kind:
            known = self.get_relation(relation.database, relation.schema or "",
                                      relation.identifier or "")
            return known.type if known is not None else "table"
        return relation.type

    def drop_relation(self, relation: Relation) -> None:
        keyword = self.drop_keywords.get(self._drop_kind(relation) or "table", "table")
        self.execute(f"drop {keyword} if exists {self.ddl_name(relation)}{self.drop_suffix}")
        self.cache_dropped(relation)

    def rename_relation(self, relation: Relation, new_identifier: str) -> Relation:
        kind = "view" if relation.type == "view" else "table"
        renamed = relation.incorporate(path={"identifier": new_identifier})
        new_name = self.ddl_name(renamed) if self.rename_to_qualified \
            else self.quote(new_identifier)
        self.execute(f"alter {kind} {self.ddl_name(relation)} rename to {new_name}")
        self.cache_dropped(relation)
        self.cache_added(renamed)
        return renamed

    def _create_table_sql(self, relation: Relation, columns: list[tuple[str, str]]) -> str:
        defs = ", ".join(f"{self.quote(name)} {dtype}" for name, dtype in columns)
        return f"create table {self.ddl_name(relation)} ({defs}){self.table_options}"

    def _create_and_fill(self, relation: Relation, columns: list[tuple[str, str]],
                         fill: Callable[[], None]) -> None:
        """CREATE TABLE `relation` with `columns`, then `fill()` it. Where DDL commits on
        its own, a failed fill drops the table: nothing else would take it back."""
        self.execute(self._create_table_sql(relation, columns))
        try:
            fill()
        except BaseException:
            from dvt_engine.errors import DatabaseError

            with contextlib.suppress(DatabaseError):
                self.drop_relation(relation.incorporate(type="table"))
            raise
        self.cache_added(relation.incorporate(type="table"))

    def create_view_as(self, relation: Relation, sql: str) -> AdapterResponse:
        resp, _ = self.execute(f"create or replace view {relation} as (\n{sql}\n)")
        return resp

    def create_table_as(self, relation: Relation, sql: str) -> AdapterResponse:
        resp, _ = self.execute(f"create table {relation} as (\n{sql}\n)")
        return resp

    def insert_into(self, target: Relation, source: Relation, columns: list[str]) -> AdapterResponse:
        from sqlglot import exp

        cols = [exp.column(c, quoted=True) for c in columns]
        select = exp.select(*cols).from_(self.table_expr(source))
        stmt = exp.insert(select, self.table_expr(target),
                          columns=[exp.to_identifier(c, quoted=True) for c in columns])
        resp, _ = self.execute(self.render(stmt))
        return resp

    def delete_matching(self, target: Relation, source: Relation, keys: list[str]) -> None:
        """delete from target where (keys) in (select keys from source)."""
        from sqlglot import exp

        tcols = [exp.column(k, table="dvt_target", quoted=True) for k in keys]
        scols = [exp.column(k, quoted=True) for k in keys]
        lhs = tcols[0] if len(tcols) == 1 else exp.Tuple(expressions=tcols)
        sub = exp.select(*scols).from_(self.table_expr(source))
        stmt = exp.Delete(this=self.table_expr(target).as_("dvt_target"),
                          # an explicit Subquery: sqlglot drops the parens after a tuple
                          where=exp.Where(this=exp.In(this=lhs,
                                                      query=exp.Subquery(this=sub))))
        self.execute(self.render(stmt))

    def merge(self, target: Relation, source: Relation, keys: list[str], columns: list[str],
              update_columns: list[str] | None = None) -> AdapterResponse:
        from sqlglot import exp

        # the aliases stay unquoted, as where they are declared (PostgreSQL folds their case)
        on = exp.and_(*[
            exp.EQ(this=exp.Column(this=exp.to_identifier(k, quoted=True),
                                   table=exp.to_identifier("DBT_INTERNAL_DEST")),
                   expression=exp.Column(this=exp.to_identifier(k, quoted=True),
                                         table=exp.to_identifier("DBT_INTERNAL_SOURCE")))
            for k in keys
        ])
        upd = update_columns if update_columns is not None else columns
        sets = ", ".join(f"{self.quote(c)} = DBT_INTERNAL_SOURCE.{self.quote(c)}" for c in upd)
        cols = ", ".join(self.quote(c) for c in columns)
        vals = ", ".join(f"DBT_INTERNAL_SOURCE.{self.quote(c)}" for c in columns)
        sql = (
            f"merge into {target} as DBT_INTERNAL_DEST using {source} as DBT_INTERNAL_SOURCE "
            f"on {self.render(on)} "
            + (f"when matched then update set {sets} " if sets else "")
            + f"when not matched then insert ({cols}) values ({vals})"
        )
        resp, _ = self.execute(sql)
        return resp

    def add_column(self, relation: Relation, name: str, dtype: str) -> None:
        self.execute(f"alter table {relation} add column {self.quote(name)} {dtype}")

    def drop_column(self, relation: Relation, name: str) -> None:
        self.execute(f"alter table {relation} drop column {self.quote(name)}")

    def alter_column_type(self, relation: Relation, name: str, dtype: str) -> None:
        self.execute(f"alter table {relation} alter column {self.quote(name)} type {dtype}")

    def limit_query(self, sql: str, limit: int) -> str:
        return f"select * from (\n{sql}\n) as dvt_limit_subq limit {int(limit)}"

    # -- seeds --------------------------------------------------------------------
    def load_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                  delimiter: str, quote_columns: bool) -> int:
        """Bulk-load a CSV/Parquet/JSON file into a new table `relation`; return rows."""
        raise NotImplementedError

    def reload_seed(self, relation: Relation, path: Path, column_types: dict[str, str],
                    delimiter: str, quote_columns: bool) -> int | None:
        """Reload the seed into the existing table `relation` in place (keeping what depends
        on it) and return the rows, or None to build aside and swap instead (the default)."""
        return None


def plain_schema(table: pa.Table) -> pa.Table:
    """`table` without the per-field metadata drivers attach (Snowflake's logicalType,
    Spark's comments), which other engines ignore or trip on."""
    import pyarrow as pa

    if not any(f.metadata for f in table.schema):
        return table
    return table.cast(pa.schema([pa.field(f.name, f.type, f.nullable) for f in table.schema]))


def text_batches(table: pa.Table, render: Callable[[tuple[Any, ...]], str], limit: int,
                 sep: str) -> Iterator[str]:
    """`table`'s rows, each rendered as text, joined by `sep` into texts of at most about
    `limit` characters (a longer row goes alone): one bounded INSERT each."""
    parts: list[str] = []
    size = 0
    for batch in table.to_batches(max_chunksize=10_000):
        cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        for row in zip(*cols, strict=True):
            text = render(row)
            if parts and size + len(text) > limit:
                yield sep.join(parts)
                parts, size = [], 0
            parts.append(text)
            size += len(text) + len(sep)
    if parts:
        yield sep.join(parts)


def seed_column_type(column_types: dict[str, str], name: str) -> str | None:
    """A seed's `column_types` entry for column `name` (exact name first, then any case)."""
    if name in column_types:
        return column_types[name]
    lowered = {k.lower(): v for k, v in column_types.items()}
    return lowered.get(name.lower())
