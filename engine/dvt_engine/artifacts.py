"""target/manifest.json and target/run_results.json in dbt's shapes."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dvt_engine.jinja.context import INVOCATION_ID
from dvt_engine.manifest import Manifest, Node
from dvt_engine.runner import NodeResult

DBT_VERSION = "1.10.0"
MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def metadata(schema: str, adapter_type: str | None = None) -> dict[str, Any]:
    return {
        "dbt_schema_version": schema, "dbt_version": DBT_VERSION, "dvt_version": "0.1.0",
        "generated_at": _now(), "invocation_id": INVOCATION_ID, "env": {},
        "adapter_type": adapter_type,
    }


def node_json(node: Node, execution: dict[str, Any] | None = None) -> dict[str, Any]:
    """One manifest entry, with dbt's keys."""
    base: dict[str, Any] = {
        "database": node.database,
        "schema": node.schema,
        "name": node.name,
        "resource_type": node.resource_type,
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "description": node.description,
        "columns": {k: asdict(c) for k, c in node.columns.items()},
        "meta": node.meta,
        "tags": node.tags,
        "config": _config_json(node.config),
        "patch_path": f"{node.package_name}://{node.patch_path}" if node.patch_path else None,
        "unrendered_config": {},
        "created_at": 0.0,
    }
    if node.resource_type == "source":
        base.update(
            source_name=node.source_name, source_description=node.source_description,
            loader=node.loader, identifier=node.identifier, quoting=node.quoting,
            loaded_at_field=node.loaded_at_field, freshness=node.freshness,
            source_meta=node.meta, relation_name=None,
            connection=node.config.get("connection"),
        )
        return base
    base.update(
        alias=node.alias,
        checksum={"name": "sha256", "checksum": node.checksum},
        raw_code=node.raw_code,
        language=node.language,
        refs=[{"name": n, "package": p, "version": None} for n, p in node.refs],
        sources=[[s, t] for s, t in node.sources],
        metrics=[],
        depends_on={"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
        compiled_path=None,
        build_path=None,
        docs=node.config.get("docs") or {"show": True, "node_color": None},
        contract={"enforced": False, "alias_types": True, "checksum": None},
        target=node.target,
    )
    if node.resource_type == "seed":
        base["root_path"] = str(Path(node.root_path).parent) if node.root_path else None
    if node.resource_type == "test":
        base.update(column_name=node.column_name, attached_node=node.attached_node,
                    file_key_name=None)
        if node.test_metadata is not None:
            base["test_metadata"] = {k: v for k, v in node.test_metadata.items()}
    if execution is not None:
        base["execution"] = execution
    return base


def _config_json(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def manifest_json(manifest: Manifest, adapter_type: str | None = None,
                  executions: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    executions = executions or {}
    return {
        "metadata": {**metadata(MANIFEST_SCHEMA, adapter_type),
                     "project_name": manifest.project_name},
        "nodes": {u: node_json(n, executions.get(u)) for u, n in manifest.nodes.items()},
        "sources": {u: node_json(n) for u, n in manifest.sources.items()},
        "macros": {
            u: {"name": m.name, "package_name": m.package_name, "unique_id": u,
                "original_file_path": m.original_file_path, "path": m.original_file_path,
                "resource_type": "macro", "macro_sql": m.macro_sql,
                "description": m.description, "arguments": m.arguments,
                "depends_on": {"macros": m.depends_on_macros}}
            for u, m in manifest.macros.items()
        },
        "docs": {u: {"name": d.name, "package_name": d.package_name, "unique_id": u,
                     "original_file_path": d.original_file_path, "path": d.original_file_path,
                     "resource_type": "doc", "block_contents": d.block_contents}
                 for u, d in manifest.docs.items()},
        "exposures": {}, "metrics": {}, "groups": {}, "semantic_models": {},
        "saved_queries": {}, "unit_tests": {},
        "selectors": manifest.selectors,
        "disabled": {u: [node_json(n)] for u, n in manifest.disabled.items()},
        "parent_map": manifest.parent_map,
        "child_map": manifest.child_map,
        "group_map": {},
    }


def result_json(r: NodeResult) -> dict[str, Any]:
    return {
        "status": r.status,
        "timing": r.timing,
        "thread_id": r.thread_id,
        "execution_time": round(r.execution_time, 6),
        "adapter_response": r.adapter_response,
        "message": r.message,
        "failures": r.failures,
        "unique_id": r.unique_id,
        "compiled": r.compiled_code is not None,
        "compiled_code": r.compiled_code,
        "relation_name": r.relation_name,
        "batch_results": None,
    }


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
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    tmp.replace(path)


def read_run_results(target_dir: Path) -> dict[str, Any] | None:
    path = target_dir / "run_results.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
