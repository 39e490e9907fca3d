"""The dbt render context: ref, source, config, var, this, target, adapter, run_query, ...

Two modes, as in dbt: at parse time (`execute` false) calls are recorded and return
placeholders; at execution time they resolve against the manifest and the adapters.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from dvt_engine.adapters.column import Column
from dvt_engine.adapters.relation import Relation
from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.jinja.agate_like import ResultTable
from dvt_engine.jinja.macros import MacroCallable, MacroRegistry, MacroReturn
from dvt_engine.jinja.static import Piece, cached_pieces
from dvt_engine.manifest import Manifest, Node
from dvt_engine.project.yaml_io import env_var, is_secret_key

if TYPE_CHECKING:
    from dvt_engine.adapters.base import Adapter
    from dvt_engine.events import EventBus
    from dvt_engine.project.profiles import Output

INVOCATION_ID = str(uuid.uuid4())
# adapters whose SQL is close enough to reuse another adapter's dispatched macros
# an adapter's parents in dispatch (dbt's plugin dependencies); dbt-duckdb declares none,
# so DuckDB gets duckdb__ then default__ macros, never a package's postgres__ ones
_ADAPTER_FALLBACKS: dict[str, tuple[str, ...]] = {}


def _internal(package: str) -> str:
    """dbt's own macros (`dbt`, and an adapter's `dbt_<type>`) are DVT's built-ins."""
    return "dvt" if package == "dbt" or package.startswith("dbt_") and package[4:] in (
        "duckdb", "postgres", "snowflake", "databricks", "spark", "sqlite") else package
RUN_STARTED_AT = datetime.datetime.now(datetime.timezone.utc)


@dataclass(eq=False, repr=False)
class RenderState:
    """What one render of one node needs and collects."""

    node: Node | None
    execute: bool
    ctes: dict[str, str] = field(default_factory=dict)  # ephemeral id -> compiled sql
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    # config() calls seen while parsing, in order: YAML configs sit below them
    configs: list[dict[str, Any]] = field(default_factory=list)
    # the output the SQL runs on when not the node's own: an ephemeral model is inlined
    # into its consumer, so `target`/`adapter` in it are the consumer's
    run_on: str | None = None
    # the nodes ref()/source() resolved to when executing (ephemeral models included):
    # inline SQL has no parsed depends_on, so this is how its inputs are planned
    resolved: list[Node] = field(default_factory=list)


class ConfigAccessor:
    """`config(...)` in a model, plus `config.get` / `config.require` in macros."""

    def __init__(self, node: Node | None, parsing: bool,
                 recorded: list[dict[str, Any]] | None = None) -> None:
        self._node = node
        self._parsing = parsing
        self._recorded = recorded

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        if args and isinstance(args[0], dict):
            kwargs = {**args[0], **kwargs}
        if self._parsing and self._node is not None:
            from dvt_engine.project.configs import merge_config

            self._node.config = merge_config(self._node.config, kwargs)
            if self._recorded is not None:
                self._recorded.append(kwargs)
        return ""

    def get(self, key: str, default: Any = None, validator: Any = None) -> Any:
        if self._node is None:
            return default
        value = self._node.config.get(key.replace("_hook", "-hook") if key.endswith("_hook")
                                      else key)
        return default if value is None else value

    def require(self, key: str, validator: Any = None) -> Any:
        if self._parsing:
            return ""  # dbt checks required configs at execution, not while parsing
        value = self.get(key)
        if value is None:
            uid = self._node.unique_id if self._node else "this node"
            raise CompilationError(
                f"Model '{uid}' does not define a required config parameter '{key}'.",
                node=uid, path=self._node.original_file_path if self._node else None,
                hint=f"Set it with {{{{ config({key}=...) }}}} or in the model's YAML config.")
        return value

    def meta_get(self, key: str, default: Any = None) -> Any:
        meta = self._node.config.get("meta") or {} if self._node is not None else {}
        return meta.get(key, default)

    def meta_require(self, key: str) -> Any:
        value = self.meta_get(key)
        if value is None and not self._parsing:
            raise CompilationError(f"missing meta config: {key}",
                                   node=self._node.unique_id if self._node else None)
        return "" if value is None else value

    def set(self, key: str, value: Any) -> str:
        if self._node is not None:
            self._node.config[key] = value
        return ""


class TargetInfo(dict):
    """`target` in Jinja: the output's settings without secrets, plus name/profile_name."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def target_info(output: Output, profile_name: str, adapter: Adapter | None) -> TargetInfo:
    info = TargetInfo({k: v for k, v in output.settings.items() if not is_secret_key(k)})
    info.update(name=output.name, target_name=output.name, type=output.type,
                profile_name=profile_name, schema=output.schema,
                threads=output.threads)
    if adapter is not None:
        info["database"] = adapter.database
    return info


class AdapterProxy:
    """`adapter` in Jinja: the node's adapter with dbt's method names."""

    def __init__(self, compiler: Compiler, adapter: Adapter | None, state: RenderState,
                 ctx: dict[str, Any]) -> None:
        self._compiler = compiler
        self._adapter = adapter
        self._state = state
        self._ctx = ctx

    def type(self) -> str:
        return self._adapter.type if self._adapter else "unknown"

    def dispatch(self, macro_name: str, macro_namespace: str | None = None,
                 packages: Any = None) -> Callable[..., Any]:
        """dbt's dispatch: for each package to search (the `dispatch:` config's
        search_order for the namespace, else the root project then the namespace), the
        adapter's own `<type>__name`, its parents', then `default__name`."""
        registry = self._compiler.registry
        adapter_type = self.type()
        prefixes = [adapter_type, *_ADAPTER_FALLBACKS.get(adapter_type, ()), "default"]
        for package in self._search_packages(macro_namespace):
            for prefix in prefixes:
                name = f"{prefix}__{macro_name}"
                if package is None:  # the node's own lookup: local, root, built-ins
                    found = self._ctx.get(name)
                    if isinstance(found, MacroCallable):
                        return found
                    continue
                mf = registry.find(name, package)
                if mf is not None:
                    return registry.package_namespace(mf.package, self._ctx)[name]
        raise CompilationError(
            f"In dispatch: No macro named '{macro_name}' found within namespace: "
            f"'{macro_namespace}'",
            hint="Searched for: " + ", ".join(f"{p}__{macro_name}" for p in prefixes),
        )

    def _search_packages(self, namespace: str | None) -> list[str | None]:
        if namespace is None:
            return [None]
        for entry in self._compiler.dispatch_config:
            if entry.get("macro_namespace") == namespace and entry.get("search_order"):
                return [_internal(p) for p in entry["search_order"]]
        known = self._compiler.registry.by_package
        if _internal(namespace) in known:
            return [self._compiler.project_name, _internal(namespace)]
        return [None]

    def quote(self, identifier: str) -> str:
        return self._adapter.quote(identifier) if self._adapter else f'"{identifier}"'

    def get_relation(self, database: str | None = None, schema: str | None = None,
                     identifier: str | None = None) -> Relation | None:
        if not self._state.execute or self._adapter is None:
            return None
        return self._adapter.get_relation(database, schema or self._adapter.schema,
                                          identifier or "")

    def _live(self, method: str, **relations: Any) -> Adapter | None:
        """The adapter when executing (while parsing, dbt's methods do nothing), once
        each relation argument is checked to be one."""
        if not self._state.execute or self._adapter is None:
            return None
        for arg, value in relations.items():
            _relation_arg(method, arg, value)
        return self._adapter

    def load_relation(self, relation: Relation) -> Relation | None:
        if self._live("load_relation", relation=relation) is None:
            return None
        return self.get_relation(relation.database, relation.schema, relation.identifier)

    def get_columns_in_relation(self, relation: Relation) -> list[Any]:
        adapter = self._live("get_columns_in_relation", relation=relation)
        return adapter.get_columns(relation) if adapter is not None else []

    def get_missing_columns(self, from_relation: Relation, to_relation: Relation) -> list[Any]:
        """The columns of `from_relation` that `to_relation` lacks (names compared
        exactly, as dbt does)."""
        adapter = self._live("get_missing_columns", from_relation=from_relation,
                             to_relation=to_relation)
        if adapter is None:
            return []
        have = {c.name for c in adapter.get_columns(to_relation)}
        return [c for c in adapter.get_columns(from_relation) if c.name not in have]

    def expand_target_column_types(self, from_relation: Relation,
                                   to_relation: Relation) -> str:
        adapter = self._live("expand_target_column_types", from_relation=from_relation,
                             to_relation=to_relation)
        if adapter is not None:
            adapter.expand_column_types(from_relation, to_relation)
        return ""

    def execute(self, sql: str, auto_begin: bool = False, fetch: bool = False) -> Any:
        if not self._state.execute or self._adapter is None:
            return None, None
        resp, table = self._adapter.execute(str(sql), fetch=fetch)
        return resp, ResultTable(table) if table is not None else None

    def create_schema(self, relation: Relation) -> str:
        if self._state.execute and self._adapter is not None:
            self._adapter.create_schema(relation.database, relation.schema or "")
        return ""

    def drop_relation(self, relation: Relation) -> str:
        adapter = self._live("drop_relation", relation=relation)
        if adapter is not None:
            adapter.drop_relation(relation)
        return ""

    def rename_relation(self, from_relation: Relation, to_relation: Relation) -> str:
        adapter = self._live("rename_relation", from_relation=from_relation,
                             to_relation=to_relation)
        if adapter is not None:
            adapter.rename_relation(from_relation, to_relation.identifier or "")
        return ""

    def already_exists(self, schema: str, name: str) -> bool:
        return self.get_relation(None, schema, name) is not None

    def check_schema_exists(self, database: str, schema: str) -> bool:
        if not self._state.execute or self._adapter is None:
            return False
        # the adapter knows its catalog (SQLite has no information_schema)
        return self._adapter.schema_exists(database, schema)

    def list_relations_without_caching(self, schema_relation: Relation) -> list[Relation]:
        if not self._state.execute or self._adapter is None:
            return []
        return list(self._adapter.list_relations_uncached(
            schema_relation.database or self._adapter.database, schema_relation.schema or ""))

    def commit(self) -> str:
        return ""

    @property
    def Relation(self) -> RelationFactory:  # noqa: N802 - dbt's name
        return RelationFactory(self._adapter)

    @property
    def Column(self) -> type[Column]:  # noqa: N802 - dbt's name
        return self._adapter.Column if self._adapter is not None else Column


def _relation_arg(method: str, arg: str, value: Any) -> None:
    """dbt's check of an adapter method's relation argument (a string is not one)."""
    if not isinstance(value, Relation):
        raise CompilationError(
            f"'adapter.{method}' expects argument '{arg}' to be of type 'Relation', "
            f"instead got {value} ({type(value).__name__})",
            hint="Pass ref(...), source(...) or api.Relation.create(...), not a name.")


class RelationFactory:
    """`api.Relation` / `adapter.Relation`: dbt's Relation class, bound to the adapter so
    that a created relation quotes and renders as the adapter's own do."""

    def __init__(self, adapter: Adapter | None) -> None:
        self._adapter = adapter

    def __getattr__(self, name: str) -> Any:
        # the class-level API: Table, View, CTE ..., add_ephemeral_prefix
        return getattr(Relation, name)

    def create(self, database: str | None = None, schema: str | None = None,
               identifier: str | None = None, type: str | None = None,
               **kwargs: Any) -> Relation:
        if self._adapter is not None:
            rel = self._adapter.relation(database, schema, identifier, type)
        else:
            rel = Relation(database, schema, identifier, type)
        return rel.incorporate(**kwargs)

    def create_from(self, quoting: Any, relation_config: Any, **kwargs: Any) -> Relation:
        """A node's relation (`model`, a graph node). `quoting` is the project's, which
        the adapter applies already."""
        get = relation_config.get if isinstance(relation_config, dict) else \
            (lambda key: getattr(relation_config, key, None))
        ident = get("identifier") if get("resource_type") == "source" else get("alias")
        return self.create(get("database"), get("schema"), ident or get("name"), **kwargs)


class Compiler:
    """Renders nodes, inline SQL and macros with dbt's context."""

    def __init__(
        self,
        manifest: Manifest,
        registry: MacroRegistry,
        *,
        project_name: str,
        profile_name: str,
        cli_vars: dict[str, Any],
        project_vars: Callable[[str], dict[str, Any]],
        output_for: Callable[[str | None], Output],
        adapter_for: Callable[[str | None], Adapter] | None,
        events: EventBus | None = None,
        flags: dict[str, Any] | None = None,
        dispatch_config: list[dict[str, Any]] | None = None,
    ) -> None:
        self.manifest = manifest
        self.registry = registry
        self.project_name = project_name
        self.profile_name = profile_name
        self.cli_vars = cli_vars
        self.project_vars = project_vars
        self.output_for = output_for
        self.adapter_for = adapter_for
        self.events = events
        # the session's dict itself: commands update it (full_refresh, which) after creation
        self.flags = flags if flags is not None else {}
        self.dispatch_config = dispatch_config or []
        # the unique_ids a run/build/test selected (dbt's `selected_resources`): set by the
        # command on its own compiler
        self.selected_resources: list[str] = []
        self._name_index: dict[str, list[Node]] | None = None

    # -- lookup ---------------------------------------------------------------------
    def forget_names(self) -> None:
        """The manifest's nodes changed (parsing): ref() looks them up afresh."""
        self._name_index = None

    def name_index(self) -> dict[str, list[Node]]:
        if self._name_index is None:
            idx: dict[str, list[Node]] = {}
            for n in self.manifest.nodes.values():
                if n.resource_type in ("model", "seed", "snapshot"):
                    idx.setdefault(n.name, []).append(n)
            self._name_index = idx
        return self._name_index

    def find_ref(self, name: str, package: str | None, by: Node | None) -> Node:
        candidates = self.name_index().get(name, [])
        if package:
            candidates = [c for c in candidates if c.package_name == package]
        if not candidates:
            disabled = [d for d in self.manifest.disabled.values() if d.name == name]
            where = by.describe() if by else "inline SQL"
            reason = "which is disabled" if disabled else "which was not found"
            raise CompilationError(
                f"{where[0].upper()}{where[1:]} depends on a node named '{name}' {reason}",
                path=by.original_file_path if by else None,
                hint="Check the name in ref(); `dvt ls --resource-type model` lists them.",
            )
        own = [c for c in candidates if by is not None and c.package_name == by.package_name]
        return (own or candidates)[0]

    def find_source(self, source_name: str, table_name: str, by: Node | None) -> Node:
        node = self.manifest.sources.get(f"source.{self.project_name}.{source_name}.{table_name}")
        if node is None:
            node = next((s for s in self.manifest.sources.values()
                         if s.source_name == source_name and s.name == table_name), None)
        if node is None:
            where = by.describe() if by else "inline SQL"
            raise CompilationError(
                f"{where[0].upper()}{where[1:]} depends on a source named "
                f"'{source_name}.{table_name}' which was not found",
                path=by.original_file_path if by else None,
                hint="Declare it under `sources:` in a .yml file in your model paths.",
            )
        return node

    def relation_of(self, node: Node) -> Relation:
        adapter = self._adapter(node)
        identifier = node.identifier if node.resource_type == "source" else node.alias
        if adapter is None:
            return Relation(node.database, node.schema, identifier or node.name)
        rel = adapter.relation(node.database, node.schema, identifier or node.name)
        if node.resource_type == "source" and node.quoting:
            rel = rel.quote(**{k: v for k, v in node.quoting.items()
                               if k in ("database", "schema", "identifier")})
        return rel

    def _adapter(self, node: Node | None) -> Adapter | None:
        if self.adapter_for is None:
            return None
        target = node.target if node is not None else None
        if node is not None and node.resource_type == "source":
            target = node.config.get("connection") or None
        try:
            return self.adapter_for(target)
        except DvtError:
            return None

    def _target_adapter(self, node: Node | None) -> Adapter | None:
        """The target's adapter at parse time too: `target.database` must be known then
        (an adapter object does not connect until used)."""
        if self.adapter_for is None:
            return None
        try:
            return self.adapter_for(node.target if node is not None else None)
        except DvtError:
            return None

    # -- context ------------------------------------------------------------------
    def context(self, state: RenderState, extra: dict[str, Any] | None = None,
                with_macros: bool = True, minimal: bool = False) -> dict[str, Any]:
        node = state.node
        parsing = not state.execute
        adapter = self._adapter(node) if state.execute else None
        if state.run_on is not None and self.adapter_for is not None and state.execute:
            adapter = self.adapter_for(state.run_on)
        if adapter is None and self.adapter_for is not None and state.execute:
            adapter = self.adapter_for(None)
        output = self.output_for(state.run_on or (node.target if node is not None else None))
        ctx: dict[str, Any] = {}
        package = node.package_name if node is not None else self.project_name

        def ref(*args: Any, **kwargs: Any) -> Relation:
            if len(args) == 1:
                pkg, name = None, str(args[0])
            elif len(args) == 2:
                pkg, name = str(args[0]), str(args[1])
            else:
                raise CompilationError("ref() takes one or two arguments",
                                       path=node.original_file_path if node else None)
            if parsing:
                if node is not None:
                    node.refs.append((name, pkg))
                return Relation(None, None, name)
            target = self.find_ref(name, pkg, node)
            state.resolved.append(target)
            if target.is_ephemeral:
                self._compile_ephemeral(target, state)
                return Relation(None, None, f"__dbt__cte__{target.name}", type="cte")
            return self.relation_of(target)

        def source(source_name: str, table_name: str) -> Relation:
            if parsing:
                if node is not None:
                    node.sources.append((str(source_name), str(table_name)))
                return Relation(None, None, f"{source_name}__{table_name}")
            found = self.find_source(source_name, table_name, node)
            state.resolved.append(found)
            return self.relation_of(found)

        if minimal:  # a static template (jinja/static.py) calls nothing else
            return {"ref": ref, "source": source,
                    "config": ConfigAccessor(node, parsing, state.configs)}

        def var(name: str, default: Any = _MISSING) -> Any:
            scope = self.project_vars(package)
            if name in scope:
                return scope[name]
            if default is not _MISSING:
                return default
            if parsing:
                return None
            raise CompilationError(
                f"Required var '{name}' not found in config:\nVars supplied to "
                f"{node.name if node else 'this command'} = {json.dumps(scope, default=str)}",
                path=node.original_file_path if node else None,
                hint=f"Define it under `vars:` in dbt_project.yml or pass --vars '{{{name}: ...}}'.",
            )

        def is_incremental() -> bool:
            if parsing or node is None or adapter is None:
                return False
            if node.materialized != "incremental":
                return False
            if self.flags.get("full_refresh") and node.config.get("full_refresh") is not False:
                return False
            if node.config.get("full_refresh") is True:
                return False
            rel = adapter.get_relation(node.database, node.schema or "", node.alias or node.name)
            return rel is not None and rel.type == "table"

        def run_query(sql: str) -> ResultTable | None:
            if parsing or adapter is None:
                return None
            _, table = adapter.execute(str(sql), fetch=True)
            return ResultTable(table)

        def statement(name: str | None = None, fetch_result: bool = False, auto_begin: bool = True,
                      language: str = "sql", caller: Any = None) -> str:
            if parsing or adapter is None or caller is None:
                return ""
            sql = str(caller())
            resp, table = adapter.execute(sql, fetch=fetch_result)
            if name:
                data = ResultTable(table) if table is not None else None
                state.statements[name] = {"response": resp, "data": data.rows if data else [],
                                          "table": data}
            return ""

        def load_result(name: str) -> dict[str, Any] | None:
            return state.statements.get(name)

        def store_result(name: str, response: Any = None, agate_table: Any = None) -> str:
            state.statements[name] = {"response": response, "table": agate_table,
                                      "data": agate_table.rows if agate_table else []}
            return ""

        def log(msg: Any, info: bool = False) -> str:
            if self.events is not None and not parsing:
                self.events.log(str(msg), "info" if info else "debug")
            return ""

        def do_return(value: Any = None) -> None:
            raise MacroReturn(value)

        def local_md5(value: str) -> str:
            return hashlib.md5(value.encode()).hexdigest()

        target_adapter = adapter if adapter is not None else self._target_adapter(node)
        this = None
        if node is not None and node.resource_type != "source":
            this = self.relation_of(node)

        ctx.update(
            ref=ref, source=source, var=var, env_var=env_var,
            config=ConfigAccessor(node, parsing, state.configs), this=this,
            target=target_info(output, self.profile_name, target_adapter),
            is_incremental=is_incremental, run_query=run_query, statement=statement,
            load_result=load_result, store_result=store_result, log=log,
            execute=state.execute, modules=_MODULES, fromjson=_fromjson, tojson=_tojson,
            fromyaml=_fromyaml, toyaml=_toyaml, exceptions=_EXCEPTIONS,
            invocation_id=INVOCATION_ID, run_started_at=RUN_STARTED_AT,
            project_name=self.project_name, dbt_version="1.10.0", dvt_version="0.1.0",
            flags=_Flags(self.flags), local_md5=local_md5, zip=zip, set=set,
            print=lambda *a: print(*a) or "", selected_resources=list(self.selected_resources),
            model=node_dict(node) if node is not None else {},
            graph=_LazyGraph(self.manifest), database=getattr(adapter, "database", None),
            schema=node.schema if node is not None else output.schema,
            # the target's Column while parsing too (no adapter is used then)
            api={"Relation": RelationFactory(adapter),
                 "Column": target_adapter.Column if target_adapter is not None else Column},
            builtins={"ref": ref, "source": source, "config": ctx.get("config")},
        )
        ctx["return"] = do_return
        ctx["adapter"] = AdapterProxy(self, adapter, state, ctx)
        if extra:
            ctx.update(extra)
        ctx["builtins"]["config"] = ctx["config"]
        if not with_macros:
            return ctx
        macros = self.registry.bind(ctx, package, self.project_name)
        ctx.update(macros)
        # macros by package: dbt.x, dvt.x, <project>.x
        for pkg in self.registry.by_package:
            ns = self.registry.package_namespace(pkg, ctx)
            ctx.setdefault(pkg, _Namespace(ns))
        builtin_ns = _Namespace(self.registry.package_namespace("dvt", ctx))
        ctx.setdefault("dbt", builtin_ns)
        return ctx

    # -- rendering ----------------------------------------------------------------
    def render(self, template_src: str, state: RenderState, path: str,
               extra: dict[str, Any] | None = None) -> str:
        pieces = cached_pieces(template_src)  # shared with the parser
        if pieces is not None:
            return self._render_static(pieces, state, extra)
        from dvt_engine.jinja.environment import template_error

        template = _template_cache(template_src, path, not state.execute)
        # most models only call ref/source/config: binding every macro for them costs more
        # than the render itself
        ctx = self.context(state, extra, with_macros=self._uses_macros(template_src))
        try:
            return template.render(ctx)
        except MacroReturn as ret:
            return ret.value
        except DvtError:
            raise
        except Exception as exc:  # Jinja or Python error inside the template
            error = template_error(exc, path)
            error.hint = error.hint or self.registry.package_hint(error.message)
            raise error from None

    def _render_static(self, pieces: list[Piece], state: RenderState,
                       extra: dict[str, Any] | None) -> str:
        """What Jinja would render for a template of text and literal ref/source/config
        calls (see jinja/static.py), without compiling it."""
        ctx = self.context(state, extra, with_macros=False, minimal=extra is None)
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:
                fn, args, kwargs = piece
                out.append(str(ctx[fn](*args, **kwargs)))
        return "".join(out)

    def _uses_macros(self, source: str) -> bool:
        names = _referenced_names(source)
        if names is None:
            return True
        registry = self.registry
        return any(n in registry.by_name or n in registry.by_package or n in _MACRO_GATES
                   for n in names)

    def compile_node(self, node: Node, extra: dict[str, Any] | None = None) -> str:
        """Compile a node's SQL for execution; ephemeral refs become leading CTEs."""
        state = RenderState(node=node, execute=True)
        sql = self.render(node.raw_code, state, node.original_file_path, extra)
        return inject_ctes(sql, state.ctes)

    def _compile_ephemeral(self, target: Node, state: RenderState) -> None:
        cte_id = f"__dbt__cte__{target.name}"
        if cte_id in state.ctes:
            return
        consumer = state.node
        run_on = state.run_on or (consumer.target if consumer is not None else None) or \
            self.output_for(None).name
        inner = RenderState(node=target, execute=True, ctes=state.ctes, run_on=run_on)
        sql = self.render(target.raw_code, inner, target.original_file_path)
        state.ctes[cte_id] = sql
        if target.compiled_code is None:  # dbt's manifest shows an ephemeral's SQL too
            target.compiled_code = sql

    def call_macro(self, name: str, args: dict[str, Any], node: Node | None = None,
                   execute: bool = True) -> Any:
        state = RenderState(node=node, execute=execute)
        ctx = self.context(state)
        macro = ctx.get(name)
        if macro is None:
            raise CompilationError(
                f"No macro named '{name}' found",
                hint="Macros live in your macro-paths (macros/ by default).",
            )
        return macro(**args)


_MISSING = object()
_template_cache_store: dict[tuple[str, str, bool], Any] = {}
# names through which a template can reach macros without naming one
_MACRO_GATES = frozenset({"adapter", "dbt", "dvt", "context", "builtins"})
_names_cache: dict[str, frozenset[str] | None] = {}


def _referenced_names(source: str) -> frozenset[str] | None:
    """The free names a template uses (None if it cannot be told)."""
    if source in _names_cache:
        return _names_cache[source]
    from jinja2 import TemplateSyntaxError, meta

    from dvt_engine.jinja.environment import get_environment

    try:
        names: frozenset[str] | None = frozenset(
            meta.find_undeclared_variables(get_environment().parse(source)))
    except TemplateSyntaxError:
        names = None
    _names_cache[source] = names
    return names




def _template_cache(source: str, path: str, parsing: bool = False) -> Any:
    from dvt_engine.jinja.environment import compile_template

    key = (path, source, parsing)
    tmpl = _template_cache_store.get(key)
    if tmpl is None:
        tmpl = compile_template(source, path, parsing)
        _template_cache_store[key] = tmpl
    return tmpl


_WITH = re.compile(r"^(\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*)with\b", re.I | re.S)


# an argument that is one call (`ref('x')`, dbt's `{{ get_where_subquery(ref('x')) }}`):
# rendered natively, so the test gets a Relation
_CALL_VALUE = re.compile(
    r"^\s*(?:\{\{\s*)?((?:ref|source|get_where_subquery)\s*\(.*\))\s*(?:\}\})?\s*$", re.S)


def generic_test_kwargs(compiler: Compiler, node: Node, state: RenderState
                        ) -> dict[str, Any]:
    """A generic test's arguments rendered natively, as dbt does: `model` is a Relation
    (or the where-subquery), so a test may call adapter.get_columns_in_relation(model)."""
    out = {}
    for key, value in dict((node.test_metadata or {}).get("kwargs") or {}).items():
        call = _CALL_VALUE.match(value) if isinstance(value, str) else None
        if call is not None:
            box: list[Any] = []
            compiler.render("{% do __dvt_box.append(" + call.group(1) + ") %}", state,
                            node.original_file_path, {"__dvt_box": box})
            out[key] = box[0] if box else None
        elif isinstance(value, str) and "{{" in value:
            out[key] = compiler.render(value, state, node.original_file_path)
        else:  # a copy: a test may change its list (dbt_utils.at_least_one appends to
            out[key] = copy.deepcopy(value)  # group_by_columns), and renders twice
    return out


def inject_ctes(sql: str, ctes: dict[str, str]) -> str:
    """Prepend ephemeral models as CTEs, merging into the model's own WITH if it has one."""
    if not ctes:
        return sql
    defs = ",\n".join(f"{name} as (\n{body}\n)" for name, body in ctes.items())
    m = _WITH.match(sql)
    if m:
        return f"{m.group(1)}with {defs},{sql[m.end():]}"
    return f"with {defs}\n{sql}"


class _Namespace:
    def __init__(self, items: dict[str, Any]) -> None:
        self.__dict__.update(items)

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__


class _Flags:
    def __init__(self, flags: dict[str, Any]) -> None:
        self._flags = flags

    def __getattr__(self, key: str) -> Any:
        return self._flags.get(key.lower(), self._flags.get(key))


class _LazyGraph(dict):
    """`graph` in Jinja: nodes/sources as dicts, built only if a macro reads it."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__()
        self._manifest = manifest

    def __getitem__(self, key: str) -> Any:
        if not super().__contains__(key):
            if key == "nodes":
                self["nodes"] = {u: node_dict(n) for u, n in self._manifest.nodes.items()}
            elif key == "sources":
                self["sources"] = {u: node_dict(n) for u, n in self._manifest.sources.items()}
            else:
                self[key] = {}
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in ("nodes", "sources", "exposures", "metrics") else default


def node_dict(node: Node) -> dict[str, Any]:
    return {
        "unique_id": node.unique_id, "name": node.name, "resource_type": node.resource_type,
        "package_name": node.package_name, "original_file_path": node.original_file_path,
        "path": node.path, "fqn": node.fqn, "config": node.config, "tags": node.tags,
        "description": node.description, "database": node.database, "schema": node.schema,
        "alias": node.alias, "identifier": node.identifier, "source_name": node.source_name,
        "raw_code": node.raw_code, "depends_on": {"nodes": node.depends_on_nodes},
        "columns": {k: {"name": c.name, "description": c.description} for k, c in
                    node.columns.items()},
        "meta": node.meta, "test_metadata": node.test_metadata,
    }


def _fromjson(s: str, default: Any = None) -> Any:
    try:
        return json.loads(s)
    except (ValueError, TypeError):
        return default


def _tojson(v: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(v, sort_keys=sort_keys, default=str)
    except (ValueError, TypeError):
        return default


def _fromyaml(s: str, default: Any = None) -> Any:
    try:
        return yaml.safe_load(s)
    except yaml.YAMLError:
        return default


def _toyaml(v: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return yaml.safe_dump(v, sort_keys=sort_keys)
    except yaml.YAMLError:
        return default


class _Exceptions:
    @staticmethod
    def raise_compiler_error(msg: str, node: Any = None) -> None:
        raise CompilationError(str(msg))

    @staticmethod
    def warn(msg: str, node: Any = None) -> str:
        import warnings

        warnings.warn(str(msg), stacklevel=2)
        return ""

    @staticmethod
    def raise_not_implemented(msg: str) -> None:
        raise CompilationError(f"not implemented: {msg}")

    @staticmethod
    def raise_database_error(msg: str) -> None:
        from dvt_engine.errors import DatabaseError

        raise DatabaseError(str(msg))


_EXCEPTIONS = _Exceptions()


class _Modules:
    datetime = datetime
    re = re
    itertools = itertools
    json = json
    hashlib = hashlib

    @property
    def pytz(self) -> Any:
        """dbt's modules.pytz (dbt_date calls pytz.timezone); zoneinfo where pytz is not
        installed."""
        try:
            import pytz
        except ImportError:
            import zoneinfo

            return zoneinfo
        return pytz


_MODULES = _Modules()
