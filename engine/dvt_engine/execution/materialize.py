"""Materializations over any adapter: view, table, incremental, seed.

Tables are built aside (`<name>__dbt_tmp`) and swapped in inside one transaction, so a
failed build leaves the old relation as it was. `inside` (a model's post-hooks, as dbt
runs them by default) runs in that same transaction, before the commit: a failing
post-hook rolls the swap back too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dvt_engine.adapters import Adapter, AdapterResponse, Column, Relation
from dvt_engine.errors import CompilationError, DvtError

TMP_SUFFIX = "__dbt_tmp"
T = TypeVar("T")
# work run inside the final transaction of a build (post-hooks), or nothing
Inside = Callable[[], None] | None


@dataclass
class Built:
    """What a materialization did."""

    response: AdapterResponse
    relation: Relation
    message: str


def staging_name(relation: Relation) -> Relation:
    # keeps the relation's quoting and include policies (SQLite names no database)
    return relation.incorporate(path={"identifier": f"{relation.identifier}{TMP_SUFFIX}"},
                                type="table")


def _existing(adapter: Adapter, relation: Relation) -> Relation | None:
    return adapter.get_relation(relation.database, relation.schema or "",
                                relation.identifier or "")


def swap_in(adapter: Adapter, staging: Relation, target: Relation,
            inside: Inside = None) -> None:
    """Replace `target` with `staging` atomically (drop old + rename, one transaction)."""
    old = _existing(adapter, target)
    try:
        with adapter.transaction():
            if old is not None:
                adapter.drop_relation(old)
            adapter.rename_relation(staging, target.identifier or "")
            if inside is not None:
                inside()
    except BaseException:
        # rolled back: the catalog cache must forget the rename and the drop
        adapter.forget_cache()
        raise


def build_view(adapter: Adapter, relation: Relation, sql: str, inside: Inside = None) -> Built:
    old = _existing(adapter, relation)
    if (old is not None and old.type != "view") or inside is not None:
        try:
            with adapter.transaction():
                if old is not None and old.type != "view":
                    adapter.drop_relation(old)
                resp = adapter.create_view_as(relation, sql)
                if inside is not None:
                    inside()
        except BaseException:
            adapter.forget_cache()
            raise
    else:
        resp = adapter.create_view_as(relation, sql)
    adapter.cache_added(relation.incorporate(type="view"))
    return Built(resp, relation, f"{resp.message}")


def fresh_staging(adapter: Adapter, relation: Relation) -> Relation:
    """The staging relation for `relation`, with any leftover of a failed run dropped."""
    staging = staging_name(relation)
    old = _existing(adapter, staging)
    if old is not None:
        adapter.drop_relation(old)
    return staging


def build_aside(adapter: Adapter, relation: Relation, fill: Callable[[Relation], T],
                inside: Inside = None) -> T:
    """Fill a staging table with `fill(staging)`, then swap it in for `relation`.

    A failing fill, swap or `inside` leaves the old relation as it was and no staging table.
    """
    staging = fresh_staging(adapter, relation)
    result = fill(staging)
    adapter.cache_added(staging)
    try:
        swap_in(adapter, staging, relation, inside)
    except DvtError:
        adapter.drop_relation(staging)
        raise
    adapter.cache_added(relation.incorporate(type="table"))
    return result


def build_table(adapter: Adapter, relation: Relation, sql: str, inside: Inside = None) -> Built:
    resp = build_aside(adapter, relation, lambda staging: adapter.create_table_as(staging, sql),
                       inside)
    return Built(resp, relation, resp.message)


def build_incremental(adapter: Adapter, relation: Relation, sql: str, config: dict[str, Any],
                      full_refresh: bool, inside: Inside = None) -> Built:
    existing = _existing(adapter, relation)
    if existing is None or full_refresh or existing.type != "table":
        return build_table(adapter, relation, sql, inside)
    tmp = staging_name(relation)
    if _existing(adapter, tmp) is not None:
        adapter.drop_relation(tmp)
    adapter.create_table_as(tmp, sql)
    adapter.cache_added(tmp)
    try:
        with adapter.transaction():
            columns = reconcile_schema(adapter, tmp, relation,
                                        str(config.get("on_schema_change") or "ignore"))
            resp = apply_strategy(adapter, relation, tmp, columns, config)
            if inside is not None:
                inside()
    except BaseException:
        adapter.forget_cache()  # rolled back: columns added by on_schema_change are gone
        raise
    finally:
        adapter.drop_relation(tmp)
    return Built(resp, relation, resp.message)


def _unique_key(config: dict[str, Any]) -> list[str]:
    key = config.get("unique_key")
    if key is None:
        return []
    return [str(k) for k in key] if isinstance(key, list) else [str(key)]


def apply_strategy(adapter: Adapter, target: Relation, tmp: Relation, columns: list[str],
                    config: dict[str, Any]) -> AdapterResponse:
    keys = _unique_key(config)
    strategy = config.get("incremental_strategy") or ("delete+insert" if keys else "append")
    if strategy in ("delete+insert", "merge", "microbatch", "insert_overwrite") and not keys \
            and strategy != "insert_overwrite":
        if strategy == "merge":
            strategy = "append"  # dbt: merge without unique_key inserts everything
        else:
            raise CompilationError(f"incremental_strategy '{strategy}' needs a unique_key",
                                   hint="Set unique_key in the model's config.")
    if strategy == "append":
        return adapter.insert_into(target, tmp, columns)
    if strategy == "delete+insert":
        adapter.delete_matching(target, tmp, keys)
        return adapter.insert_into(target, tmp, columns)
    if strategy == "merge":
        update = config.get("merge_update_columns")
        exclude = set(config.get("merge_exclude_columns") or [])
        cols = [c for c in (update or columns) if c not in exclude]
        return adapter.merge(target, tmp, keys, columns, cols)
    raise CompilationError(
        f"Invalid incremental strategy provided: {strategy}",
        hint="Use one of: append, delete+insert, merge.",
    )


def reconcile_schema(adapter: Adapter, source: Relation, target: Relation, mode: str) -> list[str]:
    """Apply on_schema_change; return the columns to write."""
    src = adapter.get_columns(source)
    dst = adapter.get_columns(target)
    src_by = {c.name.lower(): c for c in src}
    dst_by = {c.name.lower(): c for c in dst}
    added = [c for c in src if c.name.lower() not in dst_by]
    removed = [c for c in dst if c.name.lower() not in src_by]
    changed = [c for c in src if c.name.lower() in dst_by and
               c.native_type.lower() != dst_by[c.name.lower()].native_type.lower()]
    if mode == "fail" and (added or removed or changed):
        raise CompilationError(
            "The source and target schemas on this incremental model are out of sync!\n"
            f"  Source columns not in target: {_names(added)}\n"
            f"  Target columns not in source: {_names(removed)}\n"
            f"  New column types: {[f'{c.name} {c.native_type}' for c in changed]}",
            hint="Run with --full-refresh, or set on_schema_change to append_new_columns "
                 "or sync_all_columns.",
        )
    if mode in ("append_new_columns", "sync_all_columns"):
        for c in added:
            adapter.add_column(target, c.name, c.native_type)
    if mode == "sync_all_columns":
        for c in removed:
            adapter.drop_column(target, c.name)
        for c in changed:
            adapter.alter_column_type(target, c.name, c.native_type)
    if mode in ("append_new_columns", "sync_all_columns"):
        return [c.name for c in src]
    # ignore: write the target's columns that the new rows have
    return [c.name for c in dst if c.name.lower() in src_by]


def _names(cols: list[Column]) -> list[str]:
    return [c.name for c in cols]


def build_seed(adapter: Adapter, relation: Relation, path: Path, config: dict[str, Any],
               full_refresh: bool = False, inside: Inside = None) -> Built:
    """Load the seed file into `relation`; `inside` (post-hooks) runs in the same
    transaction as the load, so a failing hook leaves the old rows."""
    column_types = {str(k): str(v) for k, v in (config.get("column_types") or {}).items()}
    delimiter = str(config.get("delimiter") or ",")
    # dbt quotes seed columns unless quote_columns is false
    quote_columns = config.get("quote_columns") is not False
    existing = _existing(adapter, relation)
    if existing is not None and existing.type == "table" and not full_refresh:
        # e.g. PostgreSQL: truncate + load in place keeps the views that read the seed
        reloaded = _reload_seed(adapter, relation, path, column_types, delimiter,
                                quote_columns, inside)
        if reloaded is not None:
            resp = AdapterResponse(f"INSERT {reloaded}", "INSERT", reloaded)
            return Built(resp, relation, resp.message)
    rows = build_aside(adapter, relation, lambda staging: adapter.load_seed(
        staging, path, column_types, delimiter, quote_columns), inside)
    resp = AdapterResponse(f"INSERT {rows}", "INSERT", rows)
    return Built(resp, relation, resp.message)


def _reload_seed(adapter: Adapter, relation: Relation, path: Path,
                 column_types: dict[str, str], delimiter: str, quote_columns: bool,
                 inside: Inside) -> int | None:
    if inside is None:
        return adapter.reload_seed(relation, path, column_types, delimiter, quote_columns)
    try:
        with adapter.transaction():  # the adapter's own transaction nests in this one
            rows = adapter.reload_seed(relation, path, column_types, delimiter, quote_columns)
            if rows is not None:
                inside()
    except BaseException:
        adapter.forget_cache()
        raise
    return rows
