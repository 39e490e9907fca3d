"""target/manifest.json and target/run_results.json in dbt's shapes."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from dvt_engine.jinja.context import INVOCATION_ID, RUN_STARTED_AT
from dvt_engine.manifest import Column, Manifest, Node
from dvt_engine.runner import NodeResult

DBT_VERSION = "1.10.0"
MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def metadata(schema: str, adapter_type: str | None = None) -> dict[str, Any]:
    return {
        "dbt_schema_version": schema, "dbt_version": DBT_VERSION, "dvt_version": "0.1.0",
        "generated_at": _now(), "invocation_id": INVOCATION_ID,
        "invocation_started_at": _iso(RUN_STARTED_AT), "env": {},
        "adapter_type": adapter_type,
    }


def _iso(ts: datetime.datetime) -> str:
    return ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _column_json(col: Column) -> dict[str, Any]:
    return {"name": col.name, "description": col.description, "meta": col.meta,
            "data_type": col.data_type, "constraints": [], "quote": col.quote,
            "config": {"meta": col.meta, "tags": col.tags}, "tags": col.tags,
            "granularity": None, "doc_blocks": []}


def _relation_name(node: Node) -> str | None:
    """`"db"."schema"."alias"` as dbt writes it (None for ephemerals and plain tests)."""
    if node.relation_name:
        return node.relation_name
    if node.is_ephemeral or node.resource_type in ("analysis", "operation"):
        return None
    if node.resource_type == "test" and not node.config.get("store_failures"):
        return None
    ident = node.identifier if node.resource_type == "source" else (node.alias or node.name)
    parts = [p for p in (node.database, node.schema, ident) if p]
    return ".".join(f'"{p}"' for p in parts) if parts else None


def _common(node: Node) -> dict[str, Any]:
    return {
        "database": node.database,
        "schema": node.schema,
        "name": node.name,
        "resource_type": node.resource_type,
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
    }


def _source_json(node: Node) -> dict[str, Any]:
    freshness = node.freshness or {"warn_after": {"count": None, "period": None},
                                   "error_after": {"count": None, "period": None},
                                   "filter": None}
    return {
        **_common(node),
        "source_name": node.source_name, "source_description": node.source_description,
        "loader": node.loader, "identifier": node.identifier,
        "quoting": {"database": None, "schema": None, "identifier": None, "column": None,
                    **node.quoting},
        "loaded_at_field": node.loaded_at_field, "loaded_at_query": None,
        "freshness": freshness, "external": None,
        "description": node.description,
        "columns": {k: _column_json(c) for k, c in node.columns.items()},
        "meta": node.meta, "source_meta": node.meta, "tags": node.tags,
        "config": _config_json(node.config),
        "patch_path": None, "unrendered_config": {}, "relation_name": _relation_name(node),
        "created_at": 0.0, "unrendered_database": None, "unrendered_schema": None,
        "doc_blocks": [],
        # DVT: the profile output the source is read from (None: the default target)
        "connection": node.config.get("connection"),
    }


def node_json(node: Node, execution: dict[str, Any] | None = None) -> dict[str, Any]:
    """One manifest entry, with dbt's keys (v12) in dbt's order."""
    if node.resource_type == "source":
        return _source_json(node)
    base: dict[str, Any] = {
        **_common(node),
        "alias": node.alias,
        "checksum": {"name": "sha256", "checksum": node.checksum} if node.checksum
        else {"name": "none", "checksum": ""},
        "config": _config_json(node.config),
        "tags": node.tags,
        "description": node.description,
        "columns": {k: _column_json(c) for k, c in node.columns.items()},
        "meta": node.meta,
        "group": node.config.get("group"),
        "docs": node.config.get("docs") or {"show": True, "node_color": None},
        "patch_path": f"{node.package_name}://{node.patch_path}" if node.patch_path else None,
        "build_path": None,
        "unrendered_config": node.config.get("_unrendered_config") or {},
        "created_at": 0.0,
        "relation_name": _relation_name(node),
        "raw_code": node.raw_code,
        "doc_blocks": [],
        "language": node.language,
    }
    if node.resource_type == "seed":
        base["root_path"] = str(Path(node.root_path).parent) if node.root_path else None
        base["depends_on"] = {"macros": node.depends_on_macros}
    else:
        base.update(
            refs=[{"name": n, "package": p, "version": None} for n, p in node.refs],
            sources=[[s, t] for s, t in node.sources],
            metrics=[],
            depends_on={"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
            compiled_path=None,
            contract={"enforced": False, "alias_types": True, "checksum": None},
        )
        if node.compiled_code is not None:
            base.update(
                compiled_path=_compiled_path(node), compiled=True,
                compiled_code=node.compiled_code, extra_ctes_injected=True,
                extra_ctes=node.extra_ctes,
            )
    if node.resource_type == "model":
        base.update(access=node.config.get("access") or "protected", constraints=[],
                    version=None, latest_version=None, deprecation_date=None,
                    primary_key=[], time_spine=None)
    if node.resource_type == "test":
        base.update(column_name=node.column_name, file_key_name=_file_key_name(node),
                    attached_node=node.attached_node)
        if node.test_metadata is not None:
            base["test_metadata"] = node.test_metadata
    # DVT: the profile output the node runs on (None: the run's default target)
    base["target"] = node.target
    if execution is not None:
        base["execution"] = execution
    return base


def _compiled_path(node: Node) -> str:
    if node.resource_type == "test" and node.test_metadata is not None:
        return (f"target/compiled/{node.package_name}/{node.original_file_path}/"
                f"{node.alias}.sql")
    return f"target/compiled/{node.package_name}/{node.original_file_path}"


def _file_key_name(node: Node) -> str | None:
    """dbt's 'models.orders' / 'sources.app': the YAML section and entry a test came from."""
    if node.test_metadata is None or node.attached_node is None and not node.sources:
        return None
    if node.attached_node:
        rtype, _, name = node.attached_node.split(".", 2)
        section = {"model": "models", "seed": "seeds", "snapshot": "snapshots",
                   "analysis": "analyses"}.get(rtype, rtype + "s")
        return f"{section}.{name.split('.')[-1]}"
    return f"sources.{node.sources[0][0]}"


def _config_json(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def manifest_json(manifest: Manifest, adapter_type: str | None = None,
                  executions: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    executions = executions or {}
    name = manifest.project_name
    return {
        "metadata": {**metadata(MANIFEST_SCHEMA, adapter_type),
                     "project_name": name,
                     "project_id": hashlib.md5(name.encode()).hexdigest(),
                     "user_id": None, "send_anonymous_usage_stats": False,
                     "quoting": {"database": True, "schema": True, "identifier": True,
                                 "column": None}},
        "nodes": {u: node_json(n, executions.get(u)) for u, n in manifest.nodes.items()},
        "sources": {u: node_json(n) for u, n in manifest.sources.items()},
        "macros": {
            u: {"name": m.name, "resource_type": "macro", "package_name": m.package_name,
                "path": m.original_file_path, "original_file_path": m.original_file_path,
                "unique_id": u, "macro_sql": m.macro_sql,
                "depends_on": {"macros": m.depends_on_macros}, "description": m.description,
                "meta": {}, "docs": {"show": True, "node_color": None}, "patch_path": None,
                "arguments": m.arguments, "created_at": 0.0, "supported_languages": None}
            for u, m in manifest.macros.items()
        },
        "docs": {u: {"name": d.name, "resource_type": "doc", "package_name": d.package_name,
                     "path": d.original_file_path, "original_file_path": d.original_file_path,
                     "unique_id": u, "block_contents": d.block_contents}
                 for u, d in manifest.docs.items()},
        "exposures": {}, "metrics": {}, "groups": {},
        "selectors": manifest.selectors,
        "disabled": {u: [node_json(n)] for u, n in manifest.disabled.items()},
        "parent_map": {u: sorted(ps) for u, ps in manifest.parent_map.items()},
        "child_map": {u: sorted(cs) for u, cs in manifest.child_map.items()},
        "group_map": {}, "saved_queries": {}, "semantic_models": {}, "unit_tests": {},
    }


def result_json(r: NodeResult) -> dict[str, Any]:
    skipped = r.status == "skipped"
    relation = r.relation_name
    if relation is None and r.node is not None and r.node.resource_type != "test":
        relation = _relation_name(r.node)
    return {
        "status": r.status,
        "timing": [] if skipped else r.timing,
        "thread_id": _thread_id(r.thread_id),
        "execution_time": 0 if skipped else r.execution_time,
        "adapter_response": _adapter_response(r.adapter_response),
        # dbt: a skipped node has no message and was not compiled
        "message": None if skipped else r.message,
        "failures": r.failures,
        "unique_id": r.unique_id,
        "compiled": False if skipped else r.compiled_code is not None,
        "compiled_code": None if skipped else r.compiled_code,
        "relation_name": relation,
        "batch_results": None,
    }


def _thread_id(name: str) -> str:
    """dbt names worker threads 'Thread-1 (worker)'; the pool's are 'Thread_0', ..."""
    m = re.fullmatch(r"Thread([_-])(\d+)", name or "")
    if m is None:
        return name
    n = int(m.group(2)) + (1 if m.group(1) == "_" else 0)
    return f"Thread-{n} (worker)"


def _adapter_response(resp: dict[str, Any]) -> dict[str, Any]:
    """dbt's AdapterResponse dict: `_message`, then `code`/`rows_affected` when meaningful."""
    if not resp or "_message" in resp:
        return resp
    out: dict[str, Any] = {"_message": resp.get("message", "OK")}
    code = resp.get("code")
    if code and code != "OK":
        out["code"] = code
        if resp.get("rows_affected") is not None:
            out["rows_affected"] = resp["rows_affected"]
    return out


def run_results_json(results: list[NodeResult], elapsed: float, args: dict[str, Any]
                     ) -> dict[str, Any]:
    return {
        "metadata": metadata(RUN_RESULTS_SCHEMA),
        "results": [result_json(r) for r in results],
        "elapsed_time": elapsed,
        "args": args,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:  # orjson is ~10x faster on a 2,000-node manifest; json is the fallback
        import orjson

        tmp.write_bytes(orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS))
    except ImportError:
        tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    tmp.replace(path)


def read_run_results(target_dir: Path) -> dict[str, Any] | None:
    path = target_dir / "run_results.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
