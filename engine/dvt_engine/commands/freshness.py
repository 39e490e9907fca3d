"""source freshness: max(loaded_at_field) of each selected source vs now -> sources.json.

Each source is queried on its own connection (DVT: sources live on several databases).
Statuses as dbt: pass, warn, error (stale) and runtime error; exit 1 when any is an
error. The query returns both max(loaded_at) and the database's current_timestamp, so
the age does not depend on this machine's clock.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvt_engine import artifacts
from dvt_engine.commands.base import (
    NOTHING_TO_DO,
    announce_found,
    announce_run,
    select_ids,
)
from dvt_engine.errors import DvtError
from dvt_engine.events import NodeProblem, RunFinished
from dvt_engine.execution.context import iso
from dvt_engine.invocation import Invocation
from dvt_engine.manifest import Node
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, RunResult
from dvt_engine.runner import NodeResult, Runner

SOURCES_SCHEMA = "https://schemas.getdbt.com/dbt/sources/v3.json"
PERIODS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass
class Criteria:
    """A source's freshness rules."""

    warn_after: dict[str, Any]
    error_after: dict[str, Any]
    filter: str | None

    def seconds(self, which: str) -> float | None:
        rule = self.warn_after if which == "warn" else self.error_after
        count, period = rule.get("count"), rule.get("period")
        if count is None or period is None:
            return None
        return float(count) * PERIODS[str(period)]

    def as_json(self) -> dict[str, Any]:
        return {"warn_after": self.warn_after, "error_after": self.error_after,
                "filter": self.filter}


def criteria(node: Node) -> Criteria | None:
    """The source's freshness rules, or None when it has none (dbt skips it)."""
    raw = node.config.get("freshness") if node.config.get("freshness") is not None \
        else node.freshness
    if not isinstance(raw, dict):
        return None
    rules: dict[str, dict[str, Any]] = {}
    for key in ("warn_after", "error_after"):
        rule = raw.get(key) or {}
        if not isinstance(rule, dict):
            raise DvtError(f"freshness.{key} must be a mapping with count and period",
                           node=node.unique_id, path=node.original_file_path,
                           hint="e.g. warn_after: {count: 12, period: hour}")
        period = rule.get("period")
        if rule.get("count") is not None and period not in PERIODS:
            raise DvtError(f"freshness.{key}.period must be minute, hour or day, got "
                           f"{period!r}", node=node.unique_id, path=node.original_file_path,
                           hint="e.g. warn_after: {count: 12, period: hour}")
        rules[key] = {"count": rule.get("count"), "period": period}
    crit = Criteria(rules["warn_after"], rules["error_after"], raw.get("filter"))
    if crit.seconds("warn") is None and crit.seconds("error") is None:
        return None
    return crit


def _loaded_at(node: Node) -> str | None:
    return node.config.get("loaded_at_field") or node.loaded_at_field


def _loaded_at_query(node: Node) -> str | None:
    return node.config.get("loaded_at_query")


def describe(node: Node) -> str:
    return f"freshness of {node.source_name}.{node.name}"


def _utc(value: Any) -> datetime.datetime | None:
    """Naive timestamps are UTC (dbt's rule); aware ones are converted."""
    if value is None:
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime.datetime):
        raise DvtError(f"loaded_at_field gave {type(value).__name__} {value!r}, not a "
                       "timestamp", hint="Point loaded_at_field at a timestamp column, or "
                                         "cast it in the expression.")
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


class FreshnessChecker:
    def __init__(self, inv: Invocation) -> None:
        self.inv = inv

    def query(self, node: Node, crit: Criteria) -> str:
        relation = self.inv.compiler.relation_of(node)
        custom = _loaded_at_query(node)
        if custom:
            return (f"select ({custom}) as max_loaded_at, "
                    "current_timestamp as snapshotted_at")
        where = f"\nwhere {crit.filter}" if crit.filter else ""
        return (f"select max({_loaded_at(node)}) as max_loaded_at,\n"
                f"  current_timestamp as snapshotted_at\nfrom {relation}{where}")

    def execute(self, node: Node) -> NodeResult:
        started = time.time()
        crit = criteria(node)
        assert crit is not None  # only sources with rules are selected
        try:
            adapter = self.inv.adapter(node.config.get("connection") or None)
            sql = self.query(node, crit)
            table = adapter.read_arrow(sql)
            row = table.to_pylist()[0] if table.num_rows else {}
            max_loaded = _utc(row.get("max_loaded_at"))
            snapshotted = _utc(row.get("snapshotted_at")) or \
                datetime.datetime.now(datetime.timezone.utc)
        except DvtError as exc:
            where = f"source {node.source_name}.{node.name} ({node.original_file_path})"
            detail = "\n  ".join(exc.message.splitlines())
            msg = f"{exc.kind} in {where}\n  {detail}"
            result = NodeResult(node.unique_id, "runtime error", msg, error=msg)
            result.data = {"criteria": crit}
            result.timing = _timing(started)
            return result
        if max_loaded is None:
            age = None
            status = "error"  # no rows: as stale as it gets
        else:
            age = (snapshotted - max_loaded).total_seconds()
            status = _status(age, crit)
        result = NodeResult(node.unique_id, status, status.upper() if status != "pass"
                            else "PASS", adapter_response={"_message": "OK", "code": "OK",
                                                           "rows_affected": 1},
                            compiled_code=sql)
        result.data = {"criteria": crit, "max_loaded_at": max_loaded,
                       "snapshotted_at": snapshotted, "age": age}
        result.timing = _timing(started)
        return result


def _status(age: float, crit: Criteria) -> str:
    err, warn = crit.seconds("error"), crit.seconds("warn")
    if err is not None and age > err:
        return "error"
    if warn is not None and age > warn:
        return "warn"
    return "pass"


def _timing(started: float) -> list[dict[str, Any]]:
    start, end = iso(started), iso(time.time())
    return [{"name": "compile", "started_at": start, "completed_at": start},
            {"name": "execute", "started_at": start, "completed_at": end}]


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def result_json(r: NodeResult) -> dict[str, Any]:
    data = r.data or {}
    crit: Criteria | None = data.get("criteria")
    if r.status == "runtime error":
        return {"unique_id": r.unique_id, "error": r.message, "status": "runtime error"}
    return {
        "unique_id": r.unique_id,
        "max_loaded_at": _iso(data.get("max_loaded_at")),
        "snapshotted_at": _iso(data.get("snapshotted_at")),
        "max_loaded_at_time_ago_in_s": data.get("age"),
        "status": r.status,
        "criteria": crit.as_json() if crit else {},
        "adapter_response": r.adapter_response,
        "timing": r.timing,
        "thread_id": r.thread_id,
        "execution_time": round(r.execution_time, 6),
    }


def sources_json(results: list[NodeResult], elapsed: float, adapter_type: str | None = None
                 ) -> dict[str, Any]:
    return {"metadata": artifacts.metadata(SOURCES_SCHEMA, adapter_type),
            "results": [result_json(r) for r in results],
            "elapsed_time": elapsed}


def run(inv: Invocation) -> RunResult:
    events = inv.events
    started = time.perf_counter()
    manifest = inv.manifest
    announce_found(inv)
    ids = [u for u in select_ids(inv, ("source",))
           if u in manifest.sources and criteria(manifest.sources[u]) is not None]
    missing = [u for u in ids if not _loaded_at(manifest.sources[u])
               and not _loaded_at_query(manifest.sources[u])]
    for uid in missing:
        node = manifest.sources[uid]
        events.warn(f"Source {node.source_name}.{node.name} has freshness rules but no "
                   f"loaded_at_field; skipping it ({node.original_file_path})")
    ids = [u for u in ids if u not in missing]
    out_path = Path(inv.options.output) if inv.options.output else \
        inv.target_dir / "sources.json"
    if not ids:
        events.log("")
        events.warn(NOTHING_TO_DO)
        return RunResult("source", True, exit_code=EXIT_OK)
    threads = announce_run(inv, "freshness", ids)
    runner = Runner(manifest, events, threads=threads)
    checker = FreshnessChecker(inv)
    results = runner.run(ids, checker.execute, describe)
    elapsed = time.perf_counter() - started
    artifacts.write_json(out_path, sources_json(results, elapsed, inv.output().type))
    errors = [r for r in results if r.status == "runtime error" and r.message]
    events.emit(RunFinished(
        command="freshness", elapsed=elapsed, results=results, kinds=(("source", len(results)),),
        problems=tuple(NodeProblem("error", "source", r.unique_id, "", r.message or "",
                                   plain=True) for r in errors),
        errored=len(errors), total=len(results)))
    ok = all(r.status in ("pass", "warn") for r in results)
    return RunResult("source", ok, results=results, exit_code=EXIT_OK if ok else EXIT_FAILURE,
                         elapsed=elapsed)
