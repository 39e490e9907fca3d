"""run-operation MACRO --args YAML: call one macro with the database connected.

Like dbt: nothing is printed on success but what the macro logs with
`log(..., info=True)`; a missing macro or an error inside it is one error line and
exit 1. run_results.json records the call (a `macro.<package>.<name>` result), so
`retry` can re-run a failed operation.
"""

from __future__ import annotations

import time
from typing import Any

from dvt_engine import artifacts
from dvt_engine.commands.base import write_manifest
from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.invocation import Invocation
from dvt_engine.jinja.context import RenderState
from dvt_engine.manifest import Manifest
from dvt_engine.results import EXIT_FAILURE, EXIT_OK, OperationResult
from dvt_engine.runner import NodeResult


def run(inv: Invocation) -> OperationResult:
    manifest = inv.manifest  # parse errors propagate: execute makes them exit 2
    name = str(inv.options.macro)
    macro_args = dict(inv.options.macro_args)
    started = time.perf_counter()
    unique_id = find_macro(manifest, name)  # unknown macro: an error, exit 2 (as dbt)
    try:
        value = _call(inv, manifest.macros[unique_id].package_name, name.rpartition(".")[2],
                      macro_args)
        result = NodeResult(unique_id, "success", message="OK")
    except Exception as exc:  # noqa: BLE001 - any failure of the macro is reported, exit 1
        text = _error_text(exc)
        inv.events.log(f"Encountered an error while running operation: {text}", "error")
        result = NodeResult(f"macro.{inv.project.name}.{name}", "error", message=text,
                            error=text)
        value = exc
    result.execution_time = time.perf_counter() - started
    _record(inv, result)
    ok = result.status == "success"
    return OperationResult("run-operation", ok, results=[result], value=value,
                           exit_code=EXIT_OK if ok else EXIT_FAILURE,
                           elapsed=result.execution_time)


def find_macro(manifest: Manifest, name: str) -> str:
    """unique_id of the macro `name` or `package.name`; the root project's wins."""
    package, _, short = name.rpartition(".")
    package = "dvt" if package == "dbt" else package  # dbt's builtins are DVT's here
    matches = [m for m in manifest.macros.values()
               if m.name == short and (not package or m.package_name == package)]
    if not matches:
        raise CompilationError(
            f"No macro named '{name}' found",
            hint="Macros live in your macro-paths (macros/ by default) or in installed "
                 "packages (`dvt deps`); `package.macro` calls one of a package.",
        )
    root = [m for m in matches if m.package_name == manifest.project_name]
    return (root or matches)[0].unique_id


def _call(inv: Invocation, package: str, name: str, macro_args: dict[str, Any]) -> Any:
    """The macro through its package's namespace: `dvt run-operation generate_source`
    runs codegen's macro, which a bare name in the root project's context does not see."""
    ctx = inv.compiler.context(RenderState(node=None, execute=True))
    namespace = ctx["dbt"] if package == "dvt" else ctx[package]
    return namespace[name](**macro_args)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DvtError):
        return str(exc)
    # a Python error raised inside the macro (bad argument, ...): name its type
    return f"{type(exc).__name__}: {exc}"


def _record(inv: Invocation, result: NodeResult) -> None:
    artifacts.write_json(inv.target_dir / "run_results.json",
                         artifacts.run_results_json([result], result.execution_time,
                                                    inv.options.to_json()))
    write_manifest(inv)
