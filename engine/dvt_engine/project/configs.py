"""Node configs: defaults per resource type, dbt_project.yml folder trees, merge rules."""

from __future__ import annotations

from typing import Any

# configs whose values accumulate across levels instead of replacing
_ADDITIVE_LISTS = ("tags", "pre-hook", "post-hook")
_MERGED_DICTS = ("meta", "column_types", "persist_docs", "docs", "quoting", "grants")

KNOWN_CONFIGS = frozenset(
    ["enabled", "materialized", "tags", "schema", "alias", "database", "pre-hook", "post-hook", "pre_hook", "post_hook", "persist_docs", "full_refresh", "unique_key", "incremental_strategy", "on_schema_change", "meta", "docs", "column_types", "quote_columns", "delimiter", "severity", "where", "limit", "warn_if", "error_if", "fail_calc", "store_failures", "store_failures_as", "target", "connection", "grants", "contract", "packages", "sql_header", "strategy", "updated_at", "check_cols", "target_schema", "target_database", "invalidate_hard_deletes", "hard_deletes", "snapshot_meta_column_names", "dbt_valid_to_current", "merge_update_columns", "merge_exclude_columns", "incremental_predicates", "batch_size", "lookback", "event_time", "begin", "concurrent_batches", "access", "group", "quoting", "label", "freshness", "loaded_at_field"]
)

# in dbt's order (manifest.json / `dbt ls --output json` print configs in this order)
_COMMON: dict[str, Any] = {
    "enabled": True,
    "alias": None,
    "schema": None,
    "database": None,
    "tags": [],
    "meta": {},
    "group": None,
    "materialized": "view",
    "incremental_strategy": None,
    "batch_size": None,
    "lookback": 1,
    "begin": None,
    "persist_docs": {},
    "post-hook": [],
    "pre-hook": [],
    "quoting": {},
    "column_types": {},
    "full_refresh": None,
    "unique_key": None,
    "on_schema_change": "ignore",
    "on_configuration_change": "apply",
    "grants": {},
    "packages": [],
    "docs": {"show": True, "node_color": None},
    "contract": {"enforced": False, "alias_types": True},
    "event_time": None,
    "concurrent_batches": None,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {**_COMMON, "access": "protected", "freshness": None},
    "analysis": {**_COMMON, "materialized": "view"},
    "seed": {**_COMMON, "materialized": "seed", "delimiter": ",", "quote_columns": None},
    "snapshot": {**_COMMON, "materialized": "snapshot", "strategy": None, "updated_at": None,
                 "check_cols": None, "target_schema": None, "target_database": None},
    "test": {
        "enabled": True, "tags": [], "meta": {}, "alias": None, "schema": "dbt_test__audit",
        "database": None, "materialized": "test", "severity": "ERROR", "store_failures": None,
        "store_failures_as": None, "where": None, "limit": None, "fail_calc": "count(*)",
        "warn_if": "!= 0", "error_if": "!= 0",
    },
    "operation": {},
    "source": {"enabled": True, "meta": {}, "tags": []},
}

# dbt_project.yml key holding each resource type's folder tree
PROJECT_KEYS = {
    "model": "models", "analysis": "analyses", "seed": "seeds", "snapshot": "snapshots",
    "test": "data_tests", "source": "sources",
}


def normalize_key(key: str) -> str:
    key = key[1:] if key.startswith("+") else key
    return {"pre_hook": "pre-hook", "post_hook": "post-hook"}.get(key, key)


def merge_config(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return base updated with `update` by dbt's rules (tags/hooks add up, meta merges)."""
    out = dict(base)
    for raw_key, value in update.items():
        key = normalize_key(raw_key)
        if key in _ADDITIVE_LISTS:
            items = value if isinstance(value, list) else [value]
            out[key] = list(out.get(key) or []) + [i for i in items if i is not None]
            if key == "tags":
                out[key] = list(dict.fromkeys(out[key]))
        elif key in _MERGED_DICTS and isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def defaults_for(resource_type: str) -> dict[str, Any]:
    # one level of copying is enough (values are flat lists/dicts) and 20x faster than
    # deepcopy, which matters at 2,000+ nodes; only the list and dict values need it
    base = DEFAULTS.get(resource_type, {})
    out = dict(base)
    for key in _mutable_keys(resource_type):
        out[key] = base[key].copy()
    return out


_MUTABLE: dict[str, tuple[str, ...]] = {}


def _mutable_keys(resource_type: str) -> tuple[str, ...]:
    keys = _MUTABLE.get(resource_type)
    if keys is None:
        keys = _MUTABLE[resource_type] = tuple(
            k for k, v in DEFAULTS.get(resource_type, {}).items() if isinstance(v, list | dict))
    return keys


def folder_configs(tree: Any, fqn: list[str]) -> list[dict[str, Any]]:
    """Config dicts that apply to a node with this fqn, outermost first.

    `tree` is e.g. dbt_project.yml's `models:` value. Keys starting with `+`, and known
    config names whose value is not a folder, are configs; other dict keys are folders.
    The first fqn part is the package name.
    """
    out: list[dict[str, Any]] = []
    level = tree if isinstance(tree, dict) else {}
    out.append(_configs_at(level))
    for part in fqn:  # dbt matches the node's own name too: `models: proj: orders: {...}`
        nxt = level.get(part)
        if not isinstance(nxt, dict):
            break
        level = nxt
        out.append(_configs_at(level))
    return [c for c in out if c]


def _configs_at(level: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for key, value in level.items():
        if not isinstance(key, str):
            continue
        if key.startswith("+") or (normalize_key(key) in KNOWN_CONFIGS and not _is_folder(key, value)):
            cfg[key] = value
    return cfg


def _is_folder(key: str, value: Any) -> bool:
    # `docs`, `meta`, `persist_docs`, ... take dicts; a dict under any other name is a folder
    return isinstance(value, dict) and normalize_key(key) not in _MERGED_DICTS and key not in (
        "freshness", "contract", "docs",
    )
