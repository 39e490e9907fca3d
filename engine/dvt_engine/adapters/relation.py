"""Relations (database.schema.identifier) rendered with a dialect's quoting.

The API is dbt-adapters' BaseRelation, as package macros use it (dbt_utils, audit_helper,
codegen): hashable (a dict key in union_relations), a Mapping whose `get('metadata')`
names the class (dbt_utils._is_relation), create/incorporate/include/quote/render.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from dvt_engine.errors import CompilationError

_PARTS = ("database", "schema", "identifier")


class _Parts:
    """A value per part (database, schema, identifier), immutable and hashable, read by
    attribute or by key (dvt's policies were dicts; dbt's are Mapping-like objects)."""

    __slots__ = _PARTS
    database: Any
    schema: Any
    identifier: Any

    def __init__(self, database: Any, schema: Any, identifier: Any) -> None:
        object.__setattr__(self, "database", database)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "identifier", identifier)

    def replace(self, **changes: Any) -> Any:
        """A copy with the parts given (None leaves a part as it is)."""
        parts = self.to_dict(omit_none=False)
        parts.update({k: v for k, v in changes.items() if k in parts and v is not None})
        return type(self)(**parts)

    def get_part(self, key: str) -> Any:
        return getattr(self, str(key))

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _PARTS else default

    def __getitem__(self, key: str) -> Any:
        if key not in _PARTS:
            raise KeyError(key)
        return getattr(self, key)

    def to_dict(self, omit_none: bool = True) -> dict[str, Any]:
        d = {p: getattr(self, p) for p in _PARTS}
        return {k: v for k, v in d.items() if v is not None} if omit_none else d

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...)")

    def _key(self) -> tuple[Any, ...]:
        return (self.database, self.schema, self.identifier)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(database={self.database!r}, schema={self.schema!r}, " \
               f"identifier={self.identifier!r})"


class Policy(_Parts):
    """dbt's quote and include policies: a flag per part."""

    def __init__(self, database: bool = True, schema: bool = True,
                 identifier: bool = True) -> None:
        super().__init__(bool(database), bool(schema), bool(identifier))

    @classmethod
    def of(cls, value: Policy | Mapping[str, Any] | None, base: Policy | None = None) -> Policy:
        """`value` as a Policy; a mapping may name only some parts (the rest from `base`)."""
        if isinstance(value, Policy):
            return value
        return (base or _ALL).replace(**dict(value or {}))


class Path(_Parts):
    """dbt's relation path: `relation.path.schema` in macros."""

    def __init__(self, database: str | None = None, schema: str | None = None,
                 identifier: str | None = None) -> None:
        super().__init__(database, schema, identifier)

    def get_lowered_part(self, key: str) -> str | None:
        part = self.get_part(key)
        return part.lower() if part is not None else None


_ALL = Policy()


def _check_part(part: str, value: Any) -> None:
    # a Jinja Undefined (a misspelt variable) would render as "" and address the wrong
    # relation: dbt refuses it the same way
    if value is not None and not isinstance(value, str):
        raise CompilationError(f"Got an invalid path {part}: {value}")


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class Relation:
    """A database relation: database, schema, identifier, quoting; dbt's BaseRelation."""

    database: str | None
    schema: str | None
    identifier: str | None
    type: str | None = None  # table | view | cte | materialized_view | external ...
    quote_character: str = '"'
    # a mapping naming some parts is accepted too (the other parts stay True)
    quote_policy: Policy = _ALL
    include_policy: Policy = _ALL
    # `select * from (...) limit n` when set (dbt's render_limited)
    limit: int | None = None
    # render_limited's subquery alias: PostgreSQL requires one, DuckDB does not
    require_alias: bool = True

    # dbt's relation types, as `api.Relation.Table` etc. read them
    Table: ClassVar[str] = "table"
    View: ClassVar[str] = "view"
    CTE: ClassVar[str] = "cte"
    MaterializedView: ClassVar[str] = "materialized_view"
    External: ClassVar[str] = "external"
    Ephemeral: ClassVar[str] = "ephemeral"
    PointerTable: ClassVar[str] = "pointer_table"

    def __post_init__(self) -> None:
        for part in _PARTS:
            _check_part(part, getattr(self, part))
        if not isinstance(self.quote_policy, Policy):
            object.__setattr__(self, "quote_policy", Policy.of(self.quote_policy))
        if not isinstance(self.include_policy, Policy):
            object.__setattr__(self, "include_policy", Policy.of(self.include_policy))

    # -- construction -------------------------------------------------------------
    @classmethod
    def create(cls, database: str | None = None, schema: str | None = None,
               identifier: str | None = None, type: str | None = None,
               **kwargs: Any) -> Relation:
        return cls(database, schema, identifier, type).incorporate(**kwargs)

    @staticmethod
    def add_ephemeral_prefix(name: str) -> str:
        return f"__dbt__cte__{name}"

    def incorporate(self, path: Mapping[str, Any] | None = None, type: str | None = None,
                    **kwargs: Any) -> Relation:
        """A copy with `path` parts, `type`, policies (merged part by part) and other
        fields replaced, as dbt's deep merge does. dbt's fields that mean nothing to dvt
        (event_time_filter, catalog_name, dbt_created, ...) are accepted and dropped."""
        changes: dict[str, Any] = {k: v for k, v in (path or {}).items() if k in _PARTS}
        if type is not None:
            changes["type"] = str(type)
        for name in ("quote_policy", "include_policy"):
            if kwargs.get(name) is not None:
                changes[name] = Policy.of(kwargs[name], getattr(self, name))
        for name in ("quote_character", "limit", "require_alias"):
            if name in kwargs:
                changes[name] = kwargs[name]
        return replace(self, **changes) if changes else self

    def replace_path(self, **parts: str | None) -> Relation:
        return replace(self, **{k: v for k, v in parts.items() if k in _PARTS})

    def include(self, database: bool | None = None, schema: bool | None = None,
                identifier: bool | None = None) -> Relation:
        return replace(self, include_policy=self.include_policy.replace(
            database=database, schema=schema, identifier=identifier))

    def quote(self, database: bool | None = None, schema: bool | None = None,
              identifier: bool | None = None) -> Relation:
        return replace(self, quote_policy=self.quote_policy.replace(
            database=database, schema=schema, identifier=identifier))

    def without_identifier(self) -> Relation:
        """The schema only: rendered as database.schema."""
        return replace(self.include(identifier=False), identifier=None)

    def information_schema(self, view_name: str | None = None) -> Relation:
        """<database>.INFORMATION_SCHEMA[.<view>], rendered as dbt's InformationSchema
        (audit_helper reads `information_schema('columns')`); held as schema and
        identifier, unquoted, rather than in a subclass of its own."""
        view = view_name if isinstance(view_name, str) else None  # Jinja's Undefined
        return Relation(self.database, "INFORMATION_SCHEMA", view, "view",
                        self.quote_character,
                        self.quote_policy.replace(schema=False, identifier=False),
                        Policy(self.database is not None, True, True))

    # -- reading ------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return Path(self.database, self.schema, self.identifier)

    @property
    def name(self) -> str | None:
        return self.identifier

    @property
    def table(self) -> str | None:
        return self.identifier

    @property
    def quote_char(self) -> str:  # dvt's older name
        return self.quote_character

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    @property
    def is_cte(self) -> bool:
        return self.type == "cte"

    @property
    def is_materialized_view(self) -> bool:
        return self.type == "materialized_view"

    @property
    def is_pointer(self) -> bool:
        return self.type == "pointer_table"

    def get(self, key: str, default: Any = None) -> Any:
        if key == "metadata":  # what dbt_utils._is_relation checks
            return {"type": type(self).__name__}
        return getattr(self, key, default)

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __bool__(self) -> bool:
        return True

    # -- rendering ----------------------------------------------------------------
    def render(self) -> str:
        if self.type == "cte":
            return str(self.identifier)
        parts = []
        for part in _PARTS:
            value = getattr(self, part)
            if value is None or not self.include_policy.get_part(part):
                continue
            parts.append(self.quoted(value) if self.quote_policy.get_part(part) else value)
        return ".".join(parts)

    def quoted(self, identifier: str) -> str:
        q = self.quote_character
        return f"{q}{identifier.replace(q, q + q)}{q}"

    def render_limited(self) -> str:
        rendered = self.render()
        if self.limit is None:
            return rendered
        alias = f" _dbt_limit_subq_{self.table}" if self.require_alias else ""
        if self.limit == 0:
            return f"(select * from {rendered} where false limit 0){alias}"
        return f"(select * from {rendered} limit {self.limit}){alias}"

    def __str__(self) -> str:
        return self.render() if self.limit is None else self.render_limited()

    def __html__(self) -> str:  # Jinja markup safety
        return str(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.render()}>"

    # -- comparing ----------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (self.database, self.schema, self.identifier, self.type,
                self.quote_character, self.quote_policy, self.include_policy, self.limit)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Relation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self.render())  # as dbt: equal relations render alike

    def matches(self, database: str | None = None, schema: str | None = None,
                identifier: str | None = None) -> bool:
        """dbt's match: exact for a quoted part, any case for an unquoted one (the
        database folds it). A match only in another case raises, as dbt's
        ApproximateMatchError, rather than guess which relation is meant."""
        search = {k: v for k, v in (("database", database), ("schema", schema),
                                    ("identifier", identifier)) if v is not None}
        if not search:
            raise CompilationError("Tried to match relation, but no search path was passed!")
        exact = approximate = True
        q = self.quote_character
        for part, value in search.items():
            mine = getattr(self, part)
            if self.quote_policy.get_part(part):
                exact = exact and mine == value
            else:
                exact = exact and (mine or "").lower() == value.lower()
            approximate = approximate and \
                (mine or "").lower().strip(q) == value.lower().strip(q)
        if approximate and not exact:
            target = replace(self, **{**dict.fromkeys(_PARTS), **search})
            raise CompilationError(
                "When searching for a relation, dbt found an approximate match. Instead of "
                f"guessing \nwhich relation to use, dbt will move on. Please delete {self}, or "
                f"rename it to be less ambiguous.\nSearched for: {target}\nFound: {self}")
        return exact


# `obj is mapping` in Jinja, as dbt's relations are (dbt_utils._is_relation tests it);
# registered rather than inherited: Mapping's __eq__/__iter__ would read it as a dict
Mapping.register(Relation)
