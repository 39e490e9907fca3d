"""Adapter registry: profile output type -> adapter class (imported on first use)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.adapters.relation import Relation
from dvt_engine.errors import ProjectError

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.project.profiles import Output

_ADAPTERS = {
    "databricks": "dvt_engine.adapters.databricks:DatabricksAdapter",
    "duckdb": "dvt_engine.adapters.duckdb:DuckDBAdapter",
    "postgres": "dvt_engine.adapters.postgres:PostgresAdapter",
    "snowflake": "dvt_engine.adapters.snowflake:SnowflakeAdapter",
    "sqlite": "dvt_engine.adapters.sqlite:SQLiteAdapter",
}

__all__ = ["Adapter", "AdapterResponse", "Column", "ColumnInfo", "Relation", "create_adapter"]


def __getattr__(name: str) -> Any:
    # base pulls in sqlglot (~0.2 s); commands that never connect (parse, ls) skip it
    if name in ("Adapter", "AdapterResponse", "ColumnInfo"):
        from dvt_engine.adapters import base

        return getattr(base, name)
    if name == "Column":
        from dvt_engine.adapters.column import Column

        return Column
    raise AttributeError(name)


def create_adapter(output: Output, project_root: Path) -> Adapter:
    spec = _ADAPTERS.get(output.type)
    if spec is None:
        raise ProjectError(
            f"No adapter for type '{output.type}' (output '{output.name}')",
            hint="Supported types: " + ", ".join(sorted(_ADAPTERS)),
        )
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)(output, project_root)
