"""Plan a federated model: what to pull from each connection, and the SQL Spark runs.

Input: a model's compiled SQL in the target's dialect and the relations in it that live on
other connections. Output: per relation one extraction query in that relation's own
dialect (only the columns the model uses, the predicates that touch that relation alone
pushed down, a LIMIT when that is safe) and the model SQL rewritten to Spark SQL over temp
views (every relation, foreign or local, becomes a view).

The planner is conservative: when in doubt a column is kept and a predicate is evaluated
in Spark only. Pushed predicates stay in the Spark SQL too (filtering twice is harmless and
keeps the Spark SQL a plain rename of the model SQL).

Without schemas the planner cannot know which relation owns an unqualified column when
several are in scope; it then keeps the column for every candidate and lists it in
`Extraction.ambiguous_columns`. Pass `schemas` (column names per relation key, a cheap
catalog lookup) to resolve such columns exactly and to expand stars precisely.

Scalar subqueries over relations on the target only (an incremental model's watermark,
`(select max(updated_at) from {{ this }})`) can be evaluated on the target before
planning (`evaluate_scalar`): the value replaces the subquery as a typed literal, so the
predicate around it touches the foreign relation alone and is pushed to its source
instead of extracting the whole relation and filtering in Spark.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.scope import Scope, ScopeType, traverse_scope

from dvt_engine.errors import CompilationError

VIEW_PREFIX = "dvt_src_"
# a relation of which no column is used (`select count(*) from t`) still needs its rows
DUMMY_COLUMN = "__dvt_row"
SPARK_DIALECT = "spark"

# functions whose value differs between evaluations: never pushed to another engine
_VOLATILE: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in ("Rand", "Randn", "Uuid") if hasattr(exp, name)
)
# constructs that make a conjunct more than a row filter on one relation
_NOT_PUSHABLE: tuple[type[exp.Expression], ...] = (
    exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, exp.Star, *_VOLATILE,
)
_INNER_KINDS = ("", "INNER", "CROSS")
_SIDES = ("", "LEFT", "RIGHT", "FULL")
# a derived table / CTE whose demand comes only from the columns its users reference
_DEMAND_DRIVEN = (ScopeType.CTE, ScopeType.DERIVED_TABLE)
# parents of a subquery that take a set of rows, not one value
_SET_CONTEXTS = (exp.In, exp.Any, exp.All, exp.Exists, exp.Array, exp.Unnest, exp.Lateral,
                 exp.From, exp.Join, exp.SetOperation)
# meta key on the literal that replaced an evaluated scalar subquery (its index)
_SCALAR_META = "dvt_scalar"


class FederationError(CompilationError):
    """The model SQL cannot be planned for federation."""


@dataclass(frozen=True)
class ForeignRelation:
    """A relation of the model that lives on another connection than the target."""

    key: str  # unique name of the relation (e.g. "crm.customers"); names the extraction
    dialect: str  # sqlglot dialect of its connection
    relation_sql: str  # how to name it in its own dialect, e.g. '"crm"."public"."customers"'
    connection: str | None = None  # which connection/output reads it (for the caller)


@dataclass
class Extraction:
    """One query to run on one connection; its result becomes the Spark view `view_name`."""

    key: str
    view_name: str
    sql: str  # in `dialect`
    columns: list[str]  # names selected ([] with all_columns and no known schema)
    pushed_predicates: list[str]  # in `dialect`, unqualified
    dialect: str = ""
    relation_sql: str = ""
    all_columns: bool = False
    limit: int | None = None
    ambiguous_columns: list[str] = field(default_factory=list)
    local: bool = False  # lives on the target connection
    connection: str | None = None
    total_columns: int | None = None  # known when a schema was given
    label: str = ""  # the name logs use when not `key` (a local relation's node name)

    def summary(self) -> str:
        """`crm.customers: 2 of 6 columns, 1 predicate pushed down` (for logs)."""
        if self.all_columns:
            cols = "all columns" if self.total_columns is None else f"all {self.total_columns} columns"
        elif not self.columns:
            cols = "no columns (rows only)"
        else:
            n = len(self.columns)
            total = f" of {self.total_columns}" if self.total_columns is not None else ""
            cols = f"{n}{total} column{'s' if (self.total_columns or n) != 1 else ''}"
        parts = [cols]
        if self.pushed_predicates:
            n = len(self.pushed_predicates)
            parts.append(f"{n} predicate{'s' if n != 1 else ''} pushed down")
        if self.limit is not None:
            parts.append(f"limit {self.limit}")
        return f"{self.label or self.key}: {', '.join(parts)}"


@dataclass(frozen=True)
class TypedValue:
    """What `evaluate_scalar` may return instead of a bare value: the value with its SQL
    type (sqlglot spelling, e.g. "TIMESTAMP"), so that a NULL (an empty target) becomes
    CAST(NULL AS TIMESTAMP) and `coalesce(<it>, '1900-01-01')` keeps its type."""

    value: Any
    sql_type: str | None = None


# evaluates a scalar subquery (SQL in the target's dialect) on the target: its value
ScalarEvaluator = Callable[[str], Any]


@dataclass
class EvaluatedScalar:
    """A scalar subquery over target relations that was replaced by its value."""

    sql: str  # the subquery, in the target's dialect
    literal: str  # the value that replaced it, in the target's dialect
    pushed: bool = False  # the value reached a predicate pushed to another connection


@dataclass
class FederatedQuery:
    """The plan of one federated model."""

    read_dialect: str
    extractions: list[Extraction]  # relations on other connections
    local_extractions: list[Extraction]  # relations on the target itself
    spark_sql: str
    evaluated: list[EvaluatedScalar] = field(default_factory=list)

    @property
    def watermark_pushed(self) -> bool:
        return any(e.pushed for e in self.evaluated)

    @property
    def all_extractions(self) -> list[Extraction]:
        return sorted(self.extractions + self.local_extractions, key=_view_order)

    def describe(self) -> str:
        """The plan as text, for `dvt compile` output."""
        # the route line above this says where it is computed (staged or Spark)
        lines = [f"-- federated: {len(self.extractions)} foreign relation(s), "
                 f"{len(self.local_extractions)} on the target"]
        for ev in self.evaluated:
            # the watermark of an incremental model, read on the target before extracting
            lines.append(f"-- watermark evaluated on the target: ({ev.sql}) = {ev.literal}"
                         + (" (pushed down)" if ev.pushed else ""))
        for ext in self.all_extractions:
            where = "target" if ext.local else (ext.connection or "foreign")
            lines.append(f"-- {ext.view_name} <- {ext.summary()} [{where}, {ext.dialect}]")
            if ext.ambiguous_columns:
                lines.append(f"--   (unqualified, owner unknown: {', '.join(ext.ambiguous_columns)})")
            lines.extend(f"--   {line}" for line in ext.sql.splitlines())
        lines.append("-- Spark SQL:")
        lines.append(self.spark_sql)
        return "\n".join(lines)


def _view_order(ext: Extraction) -> tuple[int, str]:
    suffix = ext.view_name.rsplit("_", 1)[-1]
    return (int(suffix) if suffix.isdigit() else 0, ext.view_name)


def plan_extractions(
    sql: str,
    read_dialect: str,
    relations: dict[str, ForeignRelation],
    schemas: dict[str, list[str]] | None = None,
    view_prefix: str = VIEW_PREFIX,
    evaluate_scalar: ScalarEvaluator | None = None,
) -> FederatedQuery:
    """Plan the extractions and the Spark SQL of a federated model.

    sql: compiled model SQL in `read_dialect` (the target's).
    relations: relation text as it appears in `sql` -> ForeignRelation, for every relation
        on another connection; every other table in `sql` is local (on the target).
    schemas: optional column names per relation key (ForeignRelation.key, or for local
        relations the Extraction.key, i.e. the table text in `read_dialect`).
    view_prefix: temp view names are `<prefix><n>`; use a per-model prefix (or a
        per-model Spark session) when models run concurrently in one Spark session.
    evaluate_scalar: runs an uncorrelated scalar subquery that reads only relations on the
        target (SQL in `read_dialect`) and returns its value (or a TypedValue); the value
        replaces the subquery as a literal, so the predicates around it can be pushed down.
        None: such subqueries run in Spark over the extracted relations.
    """
    return _Planner(sql, read_dialect, relations, schemas or {}, view_prefix,
                    evaluate_scalar).plan()


def scalar_literal(value: Any) -> exp.Expression | None:
    """`value` as a typed SQL literal; None when it has no portable literal (the subquery
    is then kept). NULL stays NULL: `x > NULL` is never true, as on an empty target."""
    sql_type = None
    if isinstance(value, TypedValue):
        value, sql_type = value.value, value.sql_type
    if value is None:
        return exp.cast(exp.Null(), sql_type) if sql_type else exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.Literal.number(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return exp.Literal.number(str(value)) if value.is_finite() else None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            utc = value.astimezone(datetime.timezone.utc)
            return exp.cast(exp.Literal.string(utc.isoformat(sep=" ")), "TIMESTAMPTZ")
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, datetime.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, datetime.time):
        # Spark has no TIME type (it becomes a string there); a string literal compares
        # with a time column in every engine
        return exp.Literal.string(value.isoformat())
    if isinstance(value, (str, uuid.UUID)):
        return exp.Literal.string(str(value))
    return None


# -- internals --------------------------------------------------------------------------


@dataclass
class _Occurrence:
    """One reference to a relation (one FROM/JOIN table node) in one scope."""

    table: exp.Table
    scope: Scope
    key: str
    foreign: ForeignRelation | None
    order: int
    columns: dict[str, exp.Identifier] = field(default_factory=dict)  # casefold -> spelling
    all_columns: bool = False
    ambiguous: set[str] = field(default_factory=set)
    predicates: list[exp.Expression] = field(default_factory=list)


# demand on a derived table / CTE: the columns its users need (None: all of them)
_Demand = dict[str, exp.Identifier] | None


def _fold(name: str) -> str:
    # Spark resolves names case-insensitively, so columns differing only by case would
    # clash in the view anyway: one key per case-folded name
    return name.casefold()


def _conjuncts(condition: exp.Expression | None) -> Iterator[exp.Expression]:
    if condition is None:
        return
    node = condition.unnest() if isinstance(condition, exp.Paren) else condition
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _ancestors(node: exp.Expression) -> Iterator[exp.Expression]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _projection_alias(query: exp.Expression, column: exp.Column) -> bool:
    """`order by m` / `having m > 0` where m is a projection alias of `query`."""
    clause = column.find_ancestor(exp.Order, exp.Having, exp.Group)
    if clause is None or clause.parent is not query or not isinstance(query, exp.Select):
        return False
    return _fold(column.name) in {_fold(p.alias) for p in query.selects if isinstance(p, exp.Alias)}


def _literals_for(predicate: exp.Expression, dialect: str) -> exp.Expression:
    """SQLite stores dates and timestamps as text: evaluated typed literals become plain
    strings there (its CAST(... AS TIMESTAMP) would make a number of them)."""
    if dialect != "sqlite":
        return predicate
    for node in list(predicate.walk()):
        if _SCALAR_META in node.meta and isinstance(node, exp.Cast) \
                and isinstance(node.this, exp.Literal):
            replacement = node.this.copy()
            if node is predicate:
                return replacement
            node.replace(replacement)
    return predicate


def _unqualified(expression: exp.Expression) -> exp.Expression:
    """A copy with column qualifiers removed (a predicate as the relation itself sees it)."""
    copy = expression.copy()
    for column in copy.find_all(exp.Column):
        for arg in ("table", "db", "catalog"):
            column.set(arg, None)
    return copy


class _Planner:
    def __init__(self, sql: str, read_dialect: str, relations: dict[str, ForeignRelation],
                 schemas: dict[str, list[str]], view_prefix: str,
                 evaluate_scalar: ScalarEvaluator | None = None) -> None:
        self.read = read_dialect
        self.dialect = Dialect.get_or_raise(read_dialect)
        self.tree = self._parse(sql)
        self.foreign = {self._table_key(self._to_table(text, read_dialect)): rel
                        for text, rel in relations.items()}
        self.schemas = {key: {_fold(c): c for c in cols} for key, cols in schemas.items()}
        self.schema_lists = schemas
        self.view_prefix = view_prefix
        self.evaluated: list[EvaluatedScalar] = []
        self.scopes = self._traverse()
        if evaluate_scalar is not None and self._evaluate_scalars(evaluate_scalar):
            self.scopes = self._traverse()  # the evaluated subqueries are gone
        self.occ: dict[int, _Occurrence] = {}
        for scope in self.scopes:
            for table in self._scope_tables(scope):
                # views are numbered in the order the relations appear in the SQL text
                order = table.this.meta.get("start", 0) if table.this.meta else 0
                self.occ[id(table)] = self._occurrence(table, scope, order)
        self.demand: dict[int, _Demand] = {}

    # -- setup ---------------------------------------------------------------------
    def _parse(self, sql: str) -> exp.Expression:
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.read) if s is not None]
        except SqlglotError as exc:
            raise FederationError(
                f"cannot parse the model SQL as {self.read}: {exc}",
                hint="federated models must be a single SELECT that sqlglot can parse",
            ) from None
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise FederationError("a federated model must compile to exactly one SELECT statement")
        return statements[0]

    def _traverse(self) -> list[Scope]:
        try:
            return traverse_scope(self.tree)
        except SqlglotError as exc:
            raise FederationError(f"cannot analyse the model SQL for federation: {exc}") from None

    def _to_table(self, text: str, dialect: str) -> exp.Table:
        try:
            return exp.to_table(text, dialect=dialect)
        except SqlglotError as exc:
            raise FederationError(f"cannot parse relation name {text!r} as {dialect}: {exc}") from None

    def _table_key(self, table: exp.Table) -> tuple[str, ...]:
        return tuple(self.dialect.normalize_identifier(p.copy()).name for p in table.parts)

    def _column_table_key(self, column: exp.Column) -> tuple[str, ...]:
        parts = [column.args.get(a) for a in ("catalog", "db", "table")]
        return tuple(self.dialect.normalize_identifier(p.copy()).name for p in parts if p is not None)

    def _scope_tables(self, scope: Scope) -> Iterator[exp.Table]:
        """Table nodes that are real relations read in this scope (not CTE references)."""
        for table in scope.tables:
            if not isinstance(table.this, exp.Identifier):
                continue  # table functions (range(5), read_parquet(...)) stay in the SQL
            if scope.sources.get(table.alias_or_name) is table:
                yield table

    def _relation_key(self, table: exp.Table) -> str:
        """ForeignRelation.key, or for a local relation its table text in the target's dialect."""
        foreign = self.foreign.get(self._table_key(table))
        if foreign is not None:
            return foreign.key
        bare = table.copy()
        for arg in list(bare.args):
            if arg not in ("this", "db", "catalog"):
                bare.set(arg, None)
        return bare.sql(dialect=self.read)

    def _occurrence(self, table: exp.Table, scope: Scope, order: int) -> _Occurrence:
        foreign = self.foreign.get(self._table_key(table))
        return _Occurrence(table=table, scope=scope, key=self._relation_key(table),
                           foreign=foreign, order=order)

    # -- sources and ownership -----------------------------------------------------------
    @staticmethod
    def _lookup(mapping: dict[str, object], name: str) -> str | None:
        if name in mapping:
            return name
        folded = _fold(name)
        return next((k for k in mapping if _fold(k) == folded), None)

    def _selected(self, scope: Scope) -> dict[str, exp.Table | Scope]:
        try:
            return {name: src for name, (_, src) in scope.selected_sources.items()}
        except SqlglotError as exc:
            raise FederationError(f"cannot analyse the model SQL for federation: {exc}") from None

    def _schema_of(self, source: exp.Table | Scope) -> dict[str, str] | None:
        if isinstance(source, exp.Table):
            occ = getattr(self, "occ", {}).get(id(source))  # none yet while evaluating scalars
            if occ is not None:
                return self.schemas.get(occ.key)
            return self.schemas.get(self._relation_key(source)) \
                if isinstance(source.this, exp.Identifier) else None
        return None

    def _outputs(self, scope: Scope) -> set[str] | None:
        """Output column names of a derived table / CTE, None when a star hides them."""
        query = scope.expression
        while isinstance(query, exp.SetOperation):
            query = query.left
        if not isinstance(query, exp.Select):
            return None
        names: set[str] = set()
        for select in query.selects:
            if isinstance(select, exp.Star) or (isinstance(select, exp.Column)
                                               and isinstance(select.this, exp.Star)):
                return None
            names.add(_fold(select.alias_or_name))
        return names

    def _owns(self, source: exp.Table | Scope, name: str) -> bool | None:
        """Whether `source` has column `name`: True, False, or None (unknown)."""
        if isinstance(source, Scope):
            outputs = self._outputs(source)
        else:
            schema = self._schema_of(source)
            outputs = set(schema) if schema is not None else None
        return None if outputs is None else _fold(name) in outputs

    def _owners(self, sources: Iterable[exp.Table | Scope], name: str
                ) -> tuple[list[exp.Table | Scope], bool]:
        """Sources that own `name` for sure (True), else all that might (False)."""
        definite, possible = [], []
        for src in sources:
            owns = self._owns(src, name)
            if owns:
                definite.append(src)
            elif owns is None:
                possible.append(src)
        return (definite, True) if definite else (possible, False)

    def _resolve(self, scope: Scope, name: str) -> tuple[list[exp.Table | Scope], bool]:
        """Candidate owners of an unqualified column, walking out of correlated subqueries."""
        current: Scope | None = scope
        while current is not None:
            owners, definite = self._owners(self._selected(current).values(), name)
            if owners:
                return owners, definite
            if current.scope_type not in (ScopeType.SUBQUERY, ScopeType.UDTF):
                break
            current = current.parent
        return [], False

    def _source_named(self, scope: Scope, name: str) -> exp.Table | Scope | None:
        current: Scope | None = scope
        while current is not None:
            found = self._lookup(current.sources, name)  # type: ignore[arg-type]
            if found is not None:
                return current.sources[found]
            current = current.parent
        return None

    # -- scalar subqueries over the target ---------------------------------------------
    def _evaluate_scalars(self, evaluate: ScalarEvaluator) -> bool:
        """Replace each outermost local scalar subquery by its value; True if any was."""
        candidates = [(s.expression, self._scalar_wrapper(s)) for s in self.scopes
                      if self._is_local_scalar(s)]
        found = {id(w) for _, w in candidates}
        replaced = False
        for query, wrapper in candidates:
            if wrapper is None or any(id(a) in found for a in _ancestors(wrapper)):
                continue  # evaluated with the subquery that contains it
            literal = scalar_literal(evaluate(query.sql(dialect=self.read)))
            if literal is None:
                continue  # no portable literal: Spark computes it as before
            literal.meta[_SCALAR_META] = len(self.evaluated)
            self.evaluated.append(EvaluatedScalar(query.sql(dialect=self.read),
                                                  literal.sql(dialect=self.read)))
            wrapper.replace(literal)
            replaced = True
        return replaced

    @staticmethod
    def _scalar_wrapper(scope: Scope) -> exp.Expression | None:
        """The outermost parenthesis around a subquery in a one-value position."""
        wrapper = scope.expression.parent
        if not isinstance(wrapper, exp.Subquery) or wrapper.alias:
            return None
        while isinstance(wrapper.parent, (exp.Subquery, exp.Paren)) and not wrapper.parent.alias:
            wrapper = wrapper.parent
        return None if isinstance(wrapper.parent, _SET_CONTEXTS) else wrapper

    def _is_local_scalar(self, scope: Scope) -> bool:
        """An uncorrelated one-column subquery reading only relations on the target."""
        if scope.scope_type != ScopeType.SUBQUERY or self._scalar_wrapper(scope) is None:
            return False
        query = scope.expression
        first = query
        while isinstance(first, exp.SetOperation):
            first = first.left
        if not isinstance(first, exp.Select) or len(first.selects) != 1:
            return False
        projection = first.selects[0]
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                and isinstance(projection.this, exp.Star)):
            return False  # `select *` / `select t.*`: one value only by accident
        if _VOLATILE and query.find(*_VOLATILE):
            return False
        tables = [t for t in query.find_all(exp.Table) if isinstance(t.this, exp.Identifier)]
        if not tables or any(self._table_key(t) in self.foreign for t in tables):
            return False
        inner = list(scope.traverse())
        by_expr = {id(s.expression): s for s in inner}
        for s in inner:
            for source in self._selected(s).values():
                if isinstance(source, Scope) and id(source.expression) not in by_expr:
                    return False  # a CTE of the outer query (it may read other connections)
        return all(self._resolves_inside(column, by_expr, query)
                   for column in query.find_all(exp.Column)
                   if not isinstance(column.this, exp.Star))

    def _resolves_inside(self, column: exp.Column, by_expr: dict[int, Scope],
                         root: exp.Expression) -> bool:
        """Whether `column` refers to a source inside `root` (not to the outer query)."""
        node: exp.Expression | None = column.parent
        while node is not None:
            scope = by_expr.get(id(node))
            if scope is not None:
                selected = self._selected(scope)
                if column.table:
                    if self._lookup(selected, column.table) is not None:  # type: ignore[arg-type]
                        return True
                elif _projection_alias(node, column) or any(
                        self._owns(src, column.name) is not False for src in selected.values()):
                    return True  # owned, or possibly owned (no schema known): SQL's rule
            if node is root:
                return False
            node = node.parent
        return False

    # -- column usage ------------------------------------------------------------------
    def _use(self, source: exp.Table | Scope, ident: exp.Identifier, ambiguous: bool) -> None:
        if isinstance(source, Scope):
            key = id(source.expression)
            demand = self.demand.setdefault(key, {})
            if demand is not None:
                demand.setdefault(_fold(ident.name), ident)
            return
        occ = self.occ.get(id(source))
        if occ is None:
            return
        occ.columns.setdefault(_fold(ident.name), ident)
        if ambiguous:
            occ.ambiguous.add(_fold(ident.name))

    def _use_all(self, source: exp.Table | Scope) -> None:
        if isinstance(source, Scope):
            self.demand[id(source.expression)] = None
        elif (occ := self.occ.get(id(source))) is not None:
            occ.all_columns = True

    def _use_name(self, sources: list[exp.Table | Scope], ident: exp.Identifier) -> None:
        owners, definite = self._owners(sources, ident.name)
        for owner in owners:
            self._use(owner, ident, ambiguous=not definite and len(owners) > 1)

    def _effective_demand(self, scope: Scope) -> _Demand:
        """What a star in this scope must deliver: demand-driven only for CTEs/derived tables."""
        query = scope.expression
        if scope.scope_type not in _DEMAND_DRIVEN or not isinstance(query, exp.Select):
            return None
        if query.args.get("distinct"):
            return None  # DISTINCT over fewer columns would change the rows
        return self.demand.get(id(query), {})

    def _alias_names(self, query: exp.Select) -> set[str]:
        return {_fold(s.alias) for s in query.selects
                if isinstance(s, exp.Alias) and not (isinstance(s.this, exp.Column)
                                                     and _fold(s.this.name) == _fold(s.alias))}

    def _is_alias_ref(self, scope: Scope, column: exp.Column, aliases: set[str]) -> bool:
        """An unqualified name that (probably) means a projection alias of this scope."""
        if _fold(column.name) not in aliases:
            return False
        defining = column.find_ancestor(exp.Alias)
        while defining is not None and defining.parent is not scope.expression:
            defining = defining.find_ancestor(exp.Alias)
        if defining is not None and _fold(defining.alias) == _fold(column.name):
            return False  # `amount * 2 as amount`: inside its own definition, a real column
        owners, _ = self._owners(self._selected(scope).values(), column.name)
        # a known schema settles it; otherwise assume the alias (never invent a column)
        return not any(self._owns(o, column.name) for o in owners)

    def _collect_columns(self, scope: Scope) -> None:
        query = scope.expression
        if not isinstance(query, exp.Select):
            return
        aliases = self._alias_names(query)
        # sqlglot lists a subquery's outer references in the parent too; the subquery
        # itself resolves them (walking out), so the parent skips them
        inner = {id(c) for child in (*scope.subquery_scopes, *scope.udtf_scopes,
                                     *scope.derived_table_scopes)
                 for c in child.external_columns}
        for column in scope.columns:
            if isinstance(column.this, exp.Star) or id(column) in inner:
                continue
            ident = column.this if isinstance(column.this, exp.Identifier) else exp.to_identifier(column.name)
            if column.table:
                source = self._source_named(scope, column.table)
                if source is not None:
                    self._use(source, ident, ambiguous=False)
                    continue
                # `s.f` with no source `s`: a struct field of column `s`
                ident = column.args["table"]
            elif self._is_alias_ref(scope, column, aliases):
                continue
            owners, definite = self._resolve(scope, ident.name)
            for owner in owners:
                self._use(owner, ident, ambiguous=not definite and len(owners) > 1)
        self._collect_stars(scope, query)
        self._collect_joins(scope, query)

    def _collect_stars(self, scope: Scope, query: exp.Select) -> None:
        selected = self._selected(scope)
        for projection in query.selects:
            if isinstance(projection, exp.Star):
                targets = list(selected.values())
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                found = self._lookup(selected, projection.table)  # type: ignore[arg-type]
                targets = [selected[found]] if found is not None else []
            else:
                continue
            demand = self._effective_demand(scope)
            if demand is None or projection.args.get("except_") or projection.args.get("replace"):
                for target in targets:
                    self._use_all(target)
                continue
            for ident in demand.values():
                self._use_name(targets, ident)

    def _collect_joins(self, scope: Scope, query: exp.Select) -> None:
        from_ = query.args.get("from_")
        if from_ is None:
            return
        selected = self._selected(scope)
        before = [selected[n] for n in [from_.this.alias_or_name] if n in selected]
        for join in query.args.get("joins") or []:
            name = join.this.alias_or_name
            right = selected.get(name) or scope.sources.get(name)
            if right is None:
                continue
            if join.method == "NATURAL":
                for source in [*before, right]:
                    self._use_all(source)
            for ident in join.args.get("using") or []:
                ident = ident.this if isinstance(ident, exp.Column) else ident
                self._use(right, ident, ambiguous=False)
                self._use_name(before, ident)
            before.append(right)

    # -- predicates ----------------------------------------------------------------------
    def _single_owner(self, scope: Scope, conjunct: exp.Expression, aliases: set[str]) -> str | None:
        """The one FROM/JOIN source (name) a conjunct refers to, if it is a plain row filter."""
        if conjunct.find(*_NOT_PUSHABLE):
            return None
        selected = self._selected(scope)
        owner: str | None = None
        columns = list(conjunct.find_all(exp.Column))
        for column in columns:
            if column.table:
                name = self._lookup(selected, column.table)  # type: ignore[arg-type]
            else:
                if self._is_alias_ref(scope, column, aliases):
                    return None
                owners, _ = self._owners(selected.values(), column.name)
                if len(owners) != 1:
                    return None
                name = next(n for n, s in selected.items() if s is owners[0])
            if name is None or (owner is not None and name != owner):
                return None
            owner = name
        return owner

    def _collect_predicates(self, scope: Scope) -> None:
        query = scope.expression
        if not isinstance(query, exp.Select) or query.args.get("from_") is None:
            return
        joins = query.args.get("joins") or []
        if any(j.side not in _SIDES or j.kind not in (*_INNER_KINDS, "OUTER")
               or not isinstance(j.this, (exp.Table, exp.Subquery)) for j in joins):
            return  # semi/anti/asof/lateral joins: keep every filter in Spark
        nullable = self._nullable(query)
        selected = self._selected(scope)
        aliases = self._alias_names(query)

        def push(conjunct: exp.Expression, allowed: set[str] | None) -> None:
            owner = self._single_owner(scope, conjunct, aliases)
            if owner is None or (allowed is not None and owner not in allowed):
                return
            if allowed is None and owner in nullable:
                return
            occ = self.occ.get(id(selected[owner]))
            if occ is not None:
                occ.predicates.append(conjunct)

        where = query.args.get("where")
        for conjunct in _conjuncts(where.this if where else None):
            push(conjunct, None)
        for join in joins:
            on = join.args.get("on")
            if join.side == "LEFT":
                # ON of a LEFT JOIN filters the right side's rows before matching
                for conjunct in _conjuncts(on):
                    push(conjunct, {join.this.alias_or_name})
            elif join.side == "" and join.kind in _INNER_KINDS:
                for conjunct in _conjuncts(on):
                    push(conjunct, None)

    @staticmethod
    def _nullable(query: exp.Select) -> set[str]:
        """Sources on the nullable side of an outer join in this SELECT."""
        seen = [query.args["from_"].this.alias_or_name]
        nullable: set[str] = set()
        for join in query.args.get("joins") or []:
            name = join.this.alias_or_name
            if join.side in ("RIGHT", "FULL"):
                nullable.update(seen)
            if join.side in ("LEFT", "FULL"):
                nullable.add(name)
            seen.append(name)
        return nullable

    # -- limit -----------------------------------------------------------------------------
    def _pushable_limit(self, pushed: int) -> int | None:
        """A LIMIT for the only relation of a plain single-table SELECT, else None."""
        root = self.scopes[-1]
        query = root.expression
        if len(self.scopes) != 1 or len(self.occ) != 1 or not isinstance(query, exp.Select):
            return None
        allowed = {"expressions", "from_", "where", "limit", "kind", "hint"}
        if any(v for k, v in query.args.items() if k not in allowed):
            return None  # joins, group, having, order, distinct, offset, qualify, ...
        if any(s.find(exp.AggFunc, exp.Window) for s in query.selects):
            return None
        where = query.args.get("where")
        if where is not None and len(list(_conjuncts(where.this))) != pushed:
            return None  # an unpushed filter must run before the limit
        limit = query.args.get("limit")
        value = limit.expression if limit is not None else None
        if not isinstance(value, exp.Literal) or value.is_string or not value.this.isdigit():
            return None
        return int(value.this)

    # -- output ------------------------------------------------------------------------------
    def plan(self) -> FederatedQuery:
        for scope in reversed(self.scopes):  # parents before children: demand flows down
            self._collect_columns(scope)
            self._collect_predicates(scope)
        by_key: dict[str, list[_Occurrence]] = {}
        for occ in sorted(self.occ.values(), key=lambda o: o.order):
            by_key.setdefault(occ.key, []).append(occ)
        extractions: list[Extraction] = []
        views: dict[str, str] = {}
        for n, (key, occs) in enumerate(by_key.items(), start=1):
            views[key] = f"{self.view_prefix}{n}"
            extractions.append(self._extraction(key, occs, views[key]))
        spark_sql = self._spark_sql(views)
        return FederatedQuery(
            read_dialect=self.read,
            extractions=[e for e in extractions if not e.local],
            local_extractions=[e for e in extractions if e.local],
            spark_sql=spark_sql,
            evaluated=self.evaluated,
        )

    def _common_predicates(self, occs: list[_Occurrence]) -> list[exp.Expression]:
        """Predicates that filter every occurrence of the relation (else the view needs all rows)."""
        keyed = [{_unqualified(p).sql(dialect=self.read): p for p in o.predicates} for o in occs]
        common = [k for k in keyed[0] if all(k in other for other in keyed[1:])]
        return [_unqualified(keyed[0][k]) for k in common]

    def _extraction(self, key: str, occs: list[_Occurrence], view: str) -> Extraction:
        foreign = occs[0].foreign
        dialect = foreign.dialect if foreign else self.read
        if foreign is not None:
            table = self._to_table(foreign.relation_sql, foreign.dialect)
        else:
            source = occs[0].table
            table = exp.Table(**{k: source.args[k].copy() for k in ("this", "db", "catalog")
                                 if source.args.get(k) is not None})
        schema = self.schemas.get(key)
        all_columns = any(o.all_columns for o in occs)
        columns: dict[str, exp.Identifier] = {}
        ambiguous: set[str] = set()
        for occ in occs:
            for folded, ident in occ.columns.items():
                columns.setdefault(folded, ident)
            ambiguous |= occ.ambiguous
        if schema is not None:
            # the catalog's spelling, quoted (exact in every dialect), in the catalog's order
            position = {f: n for n, f in enumerate(schema)}
            columns = {f: exp.to_identifier(schema[f], quoted=True) if f in schema else i
                       for f, i in sorted(columns.items(),
                                          key=lambda item: position.get(item[0], len(position)))}
        predicates = self._common_predicates(occs)
        if foreign is not None:
            for predicate in predicates:
                for node in predicate.walk():
                    if _SCALAR_META in node.meta:
                        self.evaluated[node.meta[_SCALAR_META]].pushed = True
        predicates = [_literals_for(p, dialect) for p in predicates]
        limit = self._pushable_limit(len(predicates)) if len(occs) == 1 else None
        projections: list[exp.Expression]
        if all_columns:
            projections = [exp.Star()]
        elif columns:
            projections = [exp.column(i.copy()) for i in columns.values()]
        else:
            projections = [exp.alias_(exp.Literal.number(1), DUMMY_COLUMN, quoted=True)]
        query = exp.select(*projections).from_(table)
        if predicates:
            query = query.where(exp.and_(*(p.copy() for p in predicates)))
        if limit is not None:
            query = query.limit(limit)
        try:
            sql = query.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
            pushed = [p.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE) for p in predicates]
        except SqlglotError as exc:
            raise FederationError(f"cannot write the extraction of {key} in {dialect}: {exc}") from None
        schema_list = self.schema_lists.get(key)
        return Extraction(
            key=key,
            view_name=view,
            sql=sql,
            columns=list(schema_list) if all_columns and schema_list else
            ([] if all_columns else [i.name for i in columns.values()]),
            pushed_predicates=pushed,
            dialect=dialect,
            relation_sql=table.sql(dialect=dialect),
            all_columns=all_columns,
            limit=limit,
            ambiguous_columns=[] if all_columns else
            [columns[f].name for f in columns if f in ambiguous],
            local=foreign is None,
            connection=foreign.connection if foreign else None,
            total_columns=len(schema_list) if schema_list is not None else None,
        )

    def _spark_sql(self, views: dict[str, str]) -> str:
        """The model SQL over temp views, in Spark SQL (mutates the parsed tree: call last)."""
        # the schema-qualified spellings a column may use for an unaliased relation
        qualified = {key[i:] for o in self.occ.values() if not o.table.alias
                     for key in [self._table_key(o.table)] for i in range(len(key) - 1)}
        for occ in self.occ.values():
            table = occ.table
            alias = table.args.get("alias")
            if alias is None:
                # keep the table's own name as alias so `orders.id` still resolves
                alias = exp.TableAlias(this=exp.to_identifier(table.name, quoted=table.this.quoted))
            table.replace(exp.Table(this=exp.to_identifier(views[occ.key]), alias=alias,
                                    pivots=table.args.get("pivots")))
        for column in self.tree.find_all(exp.Column):
            # `main.orders.id` -> `orders.id`: views have no schema (but `c.addr.city`,
            # a struct field, keeps its qualifier)
            if column.args.get("db") is not None and self._column_table_key(column) in qualified:
                column.set("db", None)
                column.set("catalog", None)
        try:
            return self.tree.sql(dialect=SPARK_DIALECT, unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:
            raise FederationError(
                f"the model SQL cannot be written as Spark SQL: {exc}",
                hint="federated models run in Spark; use functions both engines know",
            ) from None
