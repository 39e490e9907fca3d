"""Snapshots (type-2 slowly changing dimensions) with dbt's semantics, over any adapter.

The first run creates the snapshot table from the query plus dbt's meta columns
(dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to). Later runs build a staging
table of changes (dbt's `snapshot_staging_table`: insertions, updates, deletes) and apply
it in one transaction: close out the current versions that changed (set dbt_valid_to),
insert the new versions. The SQL is plain ANSI (CTEs, UPDATE ... FROM, INSERT ... SELECT)
so DuckDB and PostgreSQL share it; an adapter with other needs can override the two
statements through `Adapter.snapshot_apply` if it ever defines one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from dvt_engine.adapters import Adapter, AdapterResponse, Relation
from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.execution.materialize import Inside, staging_name
from dvt_engine.manifest import Node

HARD_DELETES = ("ignore", "invalidate", "new_record")
META_KEYS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_is_deleted")


@dataclass
class SnapshotConfig:
    """The validated config of one snapshot node."""

    unique_key: list[str]  # SQL expressions, as dbt takes them
    strategy: str  # timestamp | check
    updated_at: str | None  # timestamp: the column; check: optional
    check_cols: list[str] | str | None  # check: list of columns or 'all'
    hard_deletes: str
    valid_to_current: str | None  # dbt_valid_to_current: SQL expression or None
    names: dict[str, str]  # snapshot_meta_column_names resolved

    @property
    def key_aliases(self) -> list[str]:
        if len(self.unique_key) == 1:
            return ["dbt_unique_key"]
        return [f"dbt_unique_key_{i}" for i in range(1, len(self.unique_key) + 1)]


def snapshot_config(node: Node) -> SnapshotConfig:
    """Read and validate a snapshot's config; errors name the file and say what to set."""
    cfg = node.config
    where = node.original_file_path

    def fail(message: str, hint: str) -> CompilationError:
        return CompilationError(f"Snapshot '{node.name}': {message}", path=where, hint=hint,
                                node=node.unique_id)

    raw_key = cfg.get("unique_key")
    if not raw_key:
        raise fail("unique_key is required",
                   "Set it in the block, e.g. {{ config(unique_key='id') }}.")
    keys = [str(k) for k in raw_key] if isinstance(raw_key, list) else [str(raw_key)]
    strategy = str(cfg.get("strategy") or "")
    updated_at = cfg.get("updated_at")
    check_cols = cfg.get("check_cols")
    if strategy == "timestamp":
        if not updated_at:
            raise fail("the timestamp strategy needs updated_at",
                       "Add updated_at='<timestamp column>' to the snapshot's config.")
    elif strategy == "check":
        if not check_cols:
            raise fail("the check strategy needs check_cols",
                       "Add check_cols=['col_a', 'col_b'] or check_cols='all'.")
        if isinstance(check_cols, str) and check_cols != "all":
            raise fail(f"check_cols must be a list or 'all', got {check_cols!r}",
                       "e.g. check_cols=['status'] or check_cols='all'.")
    else:
        raise fail(f"unknown strategy {strategy or '(none)'!r}",
                   "Use strategy='timestamp' with updated_at, or strategy='check' with "
                   "check_cols.")
    hard = cfg.get("hard_deletes")
    if hard is None:
        hard = "invalidate" if cfg.get("invalidate_hard_deletes") else "ignore"
    hard = str(hard)
    if hard not in HARD_DELETES:
        raise fail(f"hard_deletes must be one of {', '.join(HARD_DELETES)}, got {hard!r}",
                   "e.g. hard_deletes='invalidate'.")
    custom = cfg.get("snapshot_meta_column_names") or {}
    names = {k: str(custom.get(k) or k) for k in META_KEYS}
    current = cfg.get("dbt_valid_to_current")
    return SnapshotConfig(keys, strategy, str(updated_at) if updated_at else None,
                          check_cols, hard, str(current) if current else None, names)


# -- SQL building -----------------------------------------------------------------------
def _hash(args: list[str]) -> str:
    """dbt's snapshot_hash_arguments: md5 of the '|'-joined values."""
    parts = " || '|' || ".join(f"coalesce(cast({a} as varchar), '')" for a in args)
    return f"md5({parts})"


def _time_literal(adapter: Adapter, now: datetime.datetime) -> str:
    text = f"'{now.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    # SQLite: cast(... as timestamp) has NUMERIC affinity and yields the year alone
    return text if adapter.dialect == "sqlite" else f"cast({text} as timestamp)"


def _updated_at_expr(conf: SnapshotConfig, now_sql: str) -> str:
    if conf.strategy == "timestamp" or conf.updated_at:
        return str(conf.updated_at)
    return now_sql  # check strategy: the snapshot time


def _meta_select(conf: SnapshotConfig, now_sql: str) -> str:
    """Meta columns computed over one row of the snapshot query (dbt's order)."""
    n = conf.names
    upd = _updated_at_expr(conf, now_sql)
    valid_to = f"nullif({upd}, {upd})"
    if conf.valid_to_current:
        valid_to = f"coalesce({valid_to}, {conf.valid_to_current})"
    cols = [
        f"{_hash([*conf.unique_key, upd])} as {n['dbt_scd_id']}",
        f"{upd} as {n['dbt_updated_at']}",
        f"{upd} as {n['dbt_valid_from']}",
        f"{valid_to} as {n['dbt_valid_to']}",
    ]
    if conf.hard_deletes == "new_record":
        cols.append(f"'False' as {n['dbt_is_deleted']}")
    return ",\n    ".join(cols)


def build_sql(conf: SnapshotConfig, sql: str, now_sql: str) -> str:
    """The first run: the query plus meta columns."""
    return (f"select *,\n    {_meta_select(conf, now_sql)}\n"
            f"from (\n{sql}\n) as dbt_snapshot_sbq")


def _current_filter(conf: SnapshotConfig, alias: str | None = None) -> str:
    col = f"{alias}.{conf.names['dbt_valid_to']}" if alias else conf.names["dbt_valid_to"]
    if conf.valid_to_current:
        return f"({col} is null or {col} = {conf.valid_to_current})"
    return f"{col} is null"


def _row_changed(conf: SnapshotConfig, check_cols: list[str], quote: Any) -> str:
    n = conf.names
    if conf.strategy == "timestamp":
        return (f"(snapshotted_data.{n['dbt_valid_from']} < "
                f"source_data.{n['dbt_updated_at']})")
    parts = []
    for col in check_cols:
        q = quote(col)
        s, c = f"snapshotted_data.{q}", f"source_data.{q}"
        parts.append(f"{s} != {c} or ({s} is null and {c} is not null) "
                     f"or ({s} is not null and {c} is null)")
    return "(" + " or ".join(f"({p})" for p in parts) + ")" if parts else "(1 = 0)"


def staging_sql(conf: SnapshotConfig, sql: str, target: Relation, source_cols: list[str],
                target_cols: list[str], now_sql: str, quote: Any) -> str:
    """dbt's snapshot_staging_table: one row per change, with dbt_change_type."""
    n = conf.names
    keys = conf.key_aliases
    have = {c.lower() for c in target_cols}
    key_src = ", ".join(f"{k} as {a}" for k, a in zip(conf.unique_key, keys, strict=True))
    join = " and ".join(f"snapshotted_data.{a} = source_data.{a}" for a in keys)
    src_cols = ", ".join(f"source_data.{quote(c)}" for c in source_cols)
    # a column new in the query is not in the snapshot table yet: null for old rows
    old_cols = ", ".join(f"snapshotted_data.{quote(c)}" if c.lower() in have
                         else f"null as {quote(c)}" for c in source_cols)
    if conf.check_cols == "all":
        check_cols = [c for c in source_cols if c.lower() in have]
    else:
        check_cols = [str(c) for c in conf.check_cols or [] if str(c).lower() in have]
    changed = _row_changed(conf, check_cols, quote)
    new_record = conf.hard_deletes == "new_record"
    is_deleted = (f"snapshotted_data.{n['dbt_is_deleted']}"
                  if n["dbt_is_deleted"].lower() in have else "'False'")
    reappeared = f" or {is_deleted} = 'True'" if new_record else ""
    valid_to_new = f"nullif({now_sql}, {now_sql})"
    if conf.valid_to_current:
        valid_to_new = f"coalesce({valid_to_new}, {conf.valid_to_current})"
    meta = [n["dbt_scd_id"], n["dbt_updated_at"], n["dbt_valid_from"], n["dbt_valid_to"]]
    deleted_col = [n["dbt_is_deleted"]] if new_record else []
    src_meta = ", ".join(f"source_data.{c}" for c in meta + deleted_col)
    deleted_flag = f", {is_deleted} as {n['dbt_is_deleted']}" if new_record else ""
    deleted_scd = _hash([f"snapshotted_data.{n['dbt_scd_id']}", now_sql])
    parts = [
        f"with snapshot_query as (\n{sql}\n),",
        "snapshotted_data as (\n  select *, "
        + ", ".join(f"{k} as {a}" for k, a in zip(conf.unique_key, keys, strict=True))
        + f"\n  from {target}\n  where {_current_filter(conf)}\n),",
        f"source_data as (\n  select *, {key_src},\n    {_meta_select(conf, now_sql)}\n"
        "  from snapshot_query\n),",
        # new keys, and new versions of changed rows
        f"insertions as (\n  select 'insert' as dbt_change_type, {src_cols}, {src_meta}\n"
        f"  from source_data left outer join snapshotted_data on {join}\n"
        f"  where snapshotted_data.{keys[0]} is null or {changed}{reappeared}\n),",
        # the current versions those replace: closed at the new version's updated_at
        f"updates as (\n  select 'update' as dbt_change_type, {src_cols}, "
        f"snapshotted_data.{n['dbt_scd_id']}, source_data.{n['dbt_updated_at']}, "
        f"source_data.{n['dbt_updated_at']} as {n['dbt_valid_from']}, "
        f"source_data.{n['dbt_updated_at']} as {n['dbt_valid_to']}{deleted_flag}\n"
        f"  from source_data join snapshotted_data on {join}\n"
        f"  where {changed}{reappeared}\n)",
    ]
    selects = ["select * from insertions", "select * from updates"]
    if conf.hard_deletes in ("invalidate", "new_record"):
        not_yet = f" and not ({is_deleted} = 'True')" if new_record else ""
        parts[-1] += ","
        parts.append(
            f"deletes as (\n  select 'delete' as dbt_change_type, {old_cols}, "
            f"snapshotted_data.{n['dbt_scd_id']}, {now_sql} as {n['dbt_updated_at']}, "
            f"{now_sql} as {n['dbt_valid_from']}, {now_sql} as {n['dbt_valid_to']}"
            f"{deleted_flag}\n"
            f"  from snapshotted_data left join source_data on {join}\n"
            f"  where source_data.{keys[0]} is null{not_yet}\n)")
        selects.append("select * from deletes")
        if new_record:
            parts[-1] += ","
            parts.append(
                f"deletion_records as (\n  select 'insert' as dbt_change_type, {old_cols}, "
                f"{deleted_scd} as {n['dbt_scd_id']}, {now_sql} as {n['dbt_updated_at']}, "
                f"{now_sql} as {n['dbt_valid_from']}, {valid_to_new} as {n['dbt_valid_to']}, "
                f"'True' as {n['dbt_is_deleted']}\n"
                f"  from snapshotted_data left join source_data on {join}\n"
                f"  where source_data.{keys[0]} is null{not_yet}\n)")
            selects.append("select * from deletion_records")
    return "\n".join(parts) + "\n" + "\nunion all\n".join(selects)


# -- running ----------------------------------------------------------------------------
# dbt's snapshot_get_time per dialect: the session's local time without a zone (DuckDB,
# PostgreSQL: current_timestamp::timestamp); SQLite's clock is UTC text, read to the ms
_NOW_QUERY = {"sqlite": "select strftime('%Y-%m-%d %H:%M:%f', 'now') as dvt_now"}
_DEFAULT_NOW_QUERY = "select cast(current_timestamp as timestamp) as dvt_now"


def _snapshot_time(adapter: Adapter) -> str:
    """One timestamp for the whole run, read from the database (dbt's snapshot_get_time)."""
    table = adapter.read_arrow(_NOW_QUERY.get(adapter.dialect, _DEFAULT_NOW_QUERY))
    value = table.column(0).to_pylist()[0] if table.num_rows else None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.now()
    return _time_literal(adapter, value.replace(tzinfo=None))


def _query_columns(adapter: Adapter, sql: str) -> list[str]:
    return list(adapter.read_arrow(adapter.limit_query(sql, 0)).schema.names)


def _check_target(adapter: Adapter, node: Node, existing: Relation, conf: SnapshotConfig
                  ) -> list[str]:
    if existing.type == "view":
        raise DvtError(f"Snapshot target {existing} is a view, not a table",
                       node=node.unique_id, path=node.original_file_path,
                       hint="Drop the view, or point target_schema/alias elsewhere.")
    cols = [c.name for c in adapter.get_columns(existing)]
    have = {c.lower() for c in cols}
    missing = [conf.names[k] for k in ("dbt_scd_id", "dbt_valid_from", "dbt_valid_to")
               if conf.names[k].lower() not in have]
    if missing:
        raise DvtError(
            f"Snapshot target is not a snapshot table (missing {', '.join(missing)}): "
            f"{existing}", node=node.unique_id, path=node.original_file_path,
            hint="Drop the table so the next snapshot creates it, or pick another alias.")
    return cols


def _apply(adapter: Adapter, target: Relation, staging: Relation, conf: SnapshotConfig,
           columns: list[str]) -> tuple[int, AdapterResponse]:
    """Close the replaced versions, insert the new ones; returns (updated, insert response)."""
    n = conf.names
    update = (
        f"update {target} as dbt_internal_dest\n"
        f"set {n['dbt_valid_to']} = dbt_internal_source.{n['dbt_valid_to']}\n"
        f"from {staging} as dbt_internal_source\n"
        f"where dbt_internal_source.{n['dbt_scd_id']} = dbt_internal_dest.{n['dbt_scd_id']}\n"
        f"  and dbt_internal_source.dbt_change_type in ('update', 'delete')\n"
        f"  and {_current_filter(conf, 'dbt_internal_dest')}"
    )
    resp, _ = adapter.execute(update)
    cols = ", ".join(columns)
    insert = (f"insert into {target} ({cols})\nselect {cols} from {staging}\n"
              "where dbt_change_type = 'insert'")
    ins, _ = adapter.execute(insert)
    return resp.rows_affected or 0, ins


def build_snapshot(adapter: Adapter, node: Node, relation: Relation, sql: str,
                   inside: Inside = None) -> tuple[AdapterResponse, str, int | None]:
    """Snapshot `sql` (the node's query, as it runs on the target) into `relation`: the
    response, the SQL that ran and the rows it changed.

    `inside` (post-hooks) runs before the snapshot's changes commit (dbt's default), so
    a failing one leaves the snapshot as it was."""
    conf = snapshot_config(node)
    now_sql = _snapshot_time(adapter)
    existing = adapter.get_relation(relation.database, relation.schema or "",
                                    relation.identifier or "")
    try:
        if existing is None:
            run_sql = build_sql(conf, sql, now_sql)
            resp = _create_snapshot_table(adapter, relation, conf, run_sql, inside)
            adapter.cache_added(relation.incorporate(type="table"))
            rows = resp.rows_affected
        else:
            run_sql, resp, rows = _merge_changes(adapter, node, conf, sql, relation, existing,
                                                 now_sql, inside)
    except BaseException:
        adapter.forget_cache()  # a rolled-back create or added column
        raise
    return resp, run_sql, rows


def _create_snapshot_table(adapter: Adapter, relation: Relation, conf: SnapshotConfig,
                           run_sql: str, inside: Inside = None) -> AdapterResponse:
    """The first run: `create table as` the query plus meta columns.

    SQLite declares the type of a column reference only: an expression column (the hash,
    nullif(updated_at, ...), the snapshot time of the check strategy) would come out
    untyped, and readers take its ISO text for a string. There the table is created
    empty, its untyped meta columns declared (timestamps as dbt_valid_from's column, else
    `timestamp`; ids and flags `text`), then filled."""
    if adapter.dialect != "sqlite":
        if inside is None:
            return adapter.create_table_as(relation, run_sql)
        with adapter.transaction():
            resp = adapter.create_table_as(relation, run_sql)
            inside()
        return resp
    n = conf.names
    with adapter.transaction():
        adapter.create_table_as(relation, adapter.limit_query(run_sql, 0))
        types = {c.name.lower(): c.native_type for c in adapter.get_columns(relation)}
        stamp = types.get(n["dbt_valid_from"].lower()) or \
            types.get(n["dbt_updated_at"].lower()) or "timestamp"
        wanted = {n["dbt_scd_id"]: "text", n["dbt_is_deleted"]: "text",
                  **{n[k]: stamp for k in ("dbt_updated_at", "dbt_valid_from", "dbt_valid_to")}}
        for name, dtype in wanted.items():
            if types.get(name.lower()) == "":  # present (dbt_is_deleted may not be), untyped
                adapter.alter_column_type(relation, name, dtype)
        resp, _ = adapter.execute(f"insert into {relation}\n{run_sql}")
        if inside is not None:
            inside()
    return resp


def _merge_changes(adapter: Adapter, node: Node, conf: SnapshotConfig, sql: str,
                   relation: Relation, existing: Relation, now_sql: str,
                   inside: Inside = None) -> tuple[str, AdapterResponse, int]:
    target_cols = _check_target(adapter, node, existing, conf)
    source_cols = _query_columns(adapter, sql)
    stage_sql = staging_sql(conf, sql, relation, source_cols, target_cols, now_sql,
                            adapter.quote)
    staging = staging_name(relation)  # keeps the include policy (SQLite: no database)
    adapter.drop_relation(staging)
    with adapter.transaction():
        adapter.create_table_as(staging, stage_sql)
        have = {c.lower() for c in target_cols}
        skip = {"dbt_change_type", *conf.key_aliases}
        columns: list[str] = []
        for col in adapter.get_columns(staging):
            if col.name in skip:
                continue
            if col.name.lower() not in have:
                # a column new in the query (or dbt_is_deleted): dbt adds it to the snapshot
                adapter.add_column(relation, col.name, col.native_type)
            columns.append(adapter.quote(col.name))
        _, resp = _apply(adapter, relation, staging, conf, columns)
        adapter.drop_relation(staging)
        if inside is not None:
            inside()
    return stage_sql, resp, resp.rows_affected or 0
