"""Relations (database.schema.identifier) rendered with a dialect's quoting."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

_PARTS = ("database", "schema", "identifier")


@dataclass(frozen=True)
class Relation:
    """A database relation: database, schema, identifier, quoting."""

    database: str | None
    schema: str | None
    identifier: str | None
    type: str | None = None  # table | view | cte | external
    quote_char: str = '"'
    quote_policy: dict[str, bool] = field(
        default_factory=lambda: {"database": True, "schema": True, "identifier": True}
    )
    include_policy: dict[str, bool] = field(
        default_factory=lambda: {"database": True, "schema": True, "identifier": True}
    )

    # dbt's Relation API, as macros use it ------------------------------------
    @property
    def name(self) -> str | None:
        return self.identifier

    @property
    def table(self) -> str | None:
        return self.identifier

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    @property
    def is_cte(self) -> bool:
        return self.type == "cte"

    def include(self, database: bool | None = None, schema: bool | None = None,
                identifier: bool | None = None) -> Relation:
        policy = dict(self.include_policy)
        for k, v in (("database", database), ("schema", schema), ("identifier", identifier)):
            if v is not None:
                policy[k] = v
        return replace(self, include_policy=policy)

    def quote(self, database: bool | None = None, schema: bool | None = None,
              identifier: bool | None = None) -> Relation:
        policy = dict(self.quote_policy)
        for k, v in (("database", database), ("schema", schema), ("identifier", identifier)):
            if v is not None:
                policy[k] = v
        return replace(self, quote_policy=policy)

    def incorporate(self, path: dict[str, Any] | None = None, type: str | None = None,
                    **_: Any) -> Relation:
        changes = dict(path) if path else {}
        if type:
            changes["type"] = type
        return replace(self, **changes) if changes else self

    def without_identifier(self) -> Relation:
        return self.include(identifier=False)

    def render(self) -> str:
        if self.type == "cte":
            return str(self.identifier)
        parts = []
        for part in _PARTS:
            value = getattr(self, part)
            if value is None or not self.include_policy.get(part, True):
                continue
            parts.append(self._quoted(value) if self.quote_policy.get(part, True) else value)
        return ".".join(parts)

    def _quoted(self, value: str) -> str:
        q = self.quote_char
        return f"{q}{value.replace(q, q + q)}{q}"

    def __str__(self) -> str:
        return self.render()

    def __html__(self) -> str:  # Jinja markup safety
        return self.render()

    def matches(self, database: str | None = None, schema: str | None = None,
                identifier: str | None = None) -> bool:
        for part, value in (("database", database), ("schema", schema), ("identifier", identifier)):
            mine = getattr(self, part)
            if value is not None and (mine or "").lower() != value.lower():
                return False
        return True
