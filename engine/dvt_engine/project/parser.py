"""Project files -> Manifest: macros, models, seeds, snapshots, tests, sources, docs.

Most model files only call ref/source/config with literal arguments; those are read by a
static extractor (as dbt's static parser does) and Jinja runs only for the others.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_engine.errors import CompilationError, DvtError, ParsingError
from dvt_engine.jinja.blocks import extract_docs
from dvt_engine.jinja.context import Compiler, RenderState
from dvt_engine.jinja.macros import MacroRegistry
from dvt_engine.jinja.static import ANY_JINJA, cached_pieces, literal_call
from dvt_engine.manifest import Column, Doc, Manifest, Node
from dvt_engine.project.configs import (
    PROJECT_KEYS,
    defaults_for,
    folder_configs,
    merge_config,
    normalize_key,
)
from dvt_engine.project.project import ProjectConfig
from dvt_engine.project.yaml_io import load_yaml_file, render_values

BUILTIN_MACROS = Path(__file__).resolve().parent.parent / "include" / "macros"
SEED_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".ndjson")
GENERIC_TESTS = ("unique", "not_null", "accepted_values", "relationships")
_TEST_CONFIG_KEYS = ("severity", "where", "limit", "warn_if", "error_if", "store_failures",
                     "store_failures_as", "enabled", "tags", "meta", "alias", "schema",
                     "database", "fail_calc", "target")


@dataclass(eq=False, repr=False)
class ParseContext:
    """What parsing a project needs from its session."""

    project: ProjectConfig
    compiler: Compiler
    registry: MacroRegistry
    manifest: Manifest
    render_yaml: Callable[[str], Any]
    default_schema: Callable[[str | None], str]
    default_database: Callable[[str | None], str]
    # root-project files defined in memory (notebook cells): relative path -> text; they
    # replace a file at that path or add one
    overlays: dict[str, str] = field(default_factory=dict)
    # (unique_id, checksum) -> (refs, sources, file config) from an earlier parse with the
    # same macros and vars: an unchanged file is not rendered again
    extraction_cache: dict[tuple[str, str], tuple[list[Any], list[Any], dict[str, Any]]] = \
        field(default_factory=dict)
    # `dvt seed --target X`: every seed (and the tests on it) goes to X, whatever its config
    seed_target: str | None = None


# -- files --------------------------------------------------------------------------


def iter_files(root: Path, rel_dirs: list[str], suffixes: tuple[str, ...]) -> Iterator[Path]:
    for rel in rel_dirs:
        base = root / rel
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in sorted(filenames):
                if fname.endswith(suffixes) and not fname.startswith("."):
                    yield Path(dirpath) / fname


# folders of an installed package that hold none of its project files
_NOT_PACKAGE_DIRS = frozenset({"target", "logs", "dbt_packages", "dvt_packages", "__pycache__"})


def iter_package_files(base: Path, project_root: Path) -> Iterator[Path]:
    """The files of the packages installed in `base`. deps links a local package, so each
    is walked through its link; links inside are not followed, and the project itself is
    left out where a package contains it (its integration_tests lists `local: ../`)."""
    root = os.path.realpath(project_root)
    for entry in sorted(base.iterdir()):
        if not entry.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(entry):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and d not in _NOT_PACKAGE_DIRS
                and os.path.realpath(os.path.join(dirpath, d)) != root)
            for fname in sorted(filenames):
                if not fname.startswith("."):
                    yield Path(dirpath) / fname


def _rel(path: Path, root: Path) -> str:
    # string slicing: pathlib's relative_to costs more than reading the file, at 2,000 files
    text, prefix = str(path), str(root)
    if text.startswith(prefix) and text[len(prefix):len(prefix) + 1] == os.sep:
        return text[len(prefix) + 1:].replace(os.sep, "/")
    return path.relative_to(root).as_posix()


def test_hash(name: str, metadata: dict[str, Any]) -> str:
    """The last 10 hex digits of md5(name + repr(metadata)), every leaf a string and every
    dict sorted by key: dbt's create_test_node, so unique_ids match dbt's."""

    def hashable(data: Any) -> Any:
        if type(data) is dict:
            return {k: hashable(data[k]) for k in sorted(data)}
        if type(data) is list:
            return [hashable(v) for v in data]
        return str(data)

    return hashlib.md5((name + repr(hashable(metadata))).encode()).hexdigest()[-10:]


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- static extraction ----------------------------------------------------------------


def static_extract(sql: str) -> tuple[list[tuple[str, str | None]], list[tuple[str, str]],
                                      dict[str, Any]] | None:
    """ref/source/config calls with literal args, or None if the file needs Jinja."""
    pieces = cached_pieces(sql)
    if pieces is None:
        return None
    refs: list[tuple[str, str | None]] = []
    sources: list[tuple[str, str]] = []
    config: dict[str, Any] = {}
    for piece in pieces:
        if isinstance(piece, str):
            continue
        fn, args, kwargs = piece
        if fn == "ref":
            if kwargs.keys() - {"version", "v"} or not 1 <= len(args) <= 2:
                return None
            refs.append((args[0], None) if len(args) == 1 else (args[1], args[0]))
        elif fn == "source":
            if len(args) != 2 or kwargs:
                return None
            sources.append((args[0], args[1]))
        else:
            if args:
                return None
            config = merge_config(config, kwargs)
    return refs, sources, config


# -- the parser --------------------------------------------------------------------------


def load_macros(project: ProjectConfig, registry: MacroRegistry, manifest: Manifest,
                packages: list[ProjectConfig]) -> None:
    for path in sorted(BUILTIN_MACROS.glob("*.sql")):
        for m in registry.add_file(path.read_text(), f"dvt/{path.name}", "dvt"):
            manifest.macros[m.unique_id] = m
    for proj in [*packages, project]:
        dirs = [*proj.macro_paths, *[f"{t}/generic" for t in proj.test_paths]]
        for path in iter_files(proj.root, dirs, (".sql",)):
            text = path.read_text(encoding="utf-8")
            rel = _rel(path, project.root) if proj is project else _rel(path, proj.root)
            for m in registry.add_file(text, rel, proj.name):
                m.macro_sql = text
                manifest.macros[m.unique_id] = m
            for name, body in extract_docs(text):
                _add_doc(manifest, proj.name, name, body, rel)
    registry.resolve_order(project.name)


def _add_doc(manifest: Manifest, package: str, name: str, body: str, path: str) -> None:
    uid = f"doc.{package}.{name}"
    manifest.docs[uid] = Doc(uid, name, package, path, body)


class ProjectParser:
    """Builds the Manifest of one project (and its installed packages)."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.project = ctx.project
        self.manifest = ctx.manifest
        # per node: config from dbt_project.yml, and from config() in the file; YAML
        # `config:` is merged between the two (dbt's precedence)
        self._project_configs: dict[str, dict[str, Any]] = {}
        self._file_configs: dict[str, dict[str, Any]] = {}
        # configs as written (Jinja unrendered), for the manifest's unrendered_config
        self._unrendered: dict[str, dict[str, Any]] = {}

    # entry point
    def parse(self, packages: list[ProjectConfig]) -> Manifest:
        for proj in [*packages, self.project]:
            self._parse_docs(proj)
            self._parse_sql_nodes(proj, "model", proj.model_paths)
            self._parse_sql_nodes(proj, "analysis", proj.analysis_paths)
            self._parse_seeds(proj)
            self._parse_snapshots(proj)
            self._parse_singular_tests(proj)
        pending_yaml: list[tuple[ProjectConfig, Path, dict[str, Any]]] = []
        for proj in [*packages, self.project]:
            dirs = [*proj.model_paths, *proj.seed_paths, *proj.snapshot_paths,
                    *proj.analysis_paths, *proj.macro_paths, *proj.test_paths]
            for path in iter_files(proj.root, dirs, (".yml", ".yaml")):
                data = load_yaml_file(path, self.project.root)
                if isinstance(data, dict):
                    pending_yaml.append((proj, path, data))
        # sources first: models' YAML may add tests that ref sources
        for proj, path, data in pending_yaml:
            self._parse_sources(proj, path, data.get("sources") or [])
        for proj, path, data in pending_yaml:
            for key in ("models", "seeds", "snapshots", "analyses"):
                self._patch_nodes(proj, path, key, data.get(key) or [])
            self._patch_macros(proj, path, data.get("macros") or [])
        self._finalize()
        return self.manifest

    # -- docs ---------------------------------------------------------------------
    def _parse_docs(self, proj: ProjectConfig) -> None:
        dirs = proj.docs_paths or [*proj.model_paths, *proj.seed_paths, *proj.analysis_paths,
                                   *proj.macro_paths, *proj.snapshot_paths, *proj.test_paths]
        for path in iter_files(proj.root, dirs, (".md",)):
            text = path.read_text(encoding="utf-8")
            for name, body in extract_docs(text):
                _add_doc(self.manifest, proj.name, name, body, _rel(path, proj.root))

    # -- models / analyses ---------------------------------------------------------
    def _base_node(self, proj: ProjectConfig, resource_type: str, path: Path, base_dir: str,
                   name: str, raw: str) -> Node:
        rel = _rel(path, proj.root)
        inner = rel[len(base_dir.rstrip("/")) + 1:] if rel.startswith(base_dir.rstrip("/") + "/") \
            else _rel(path, proj.root / base_dir)
        folders = inner.split("/")[:-1]
        fqn = [proj.name, *folders, name]
        config = defaults_for(resource_type)
        unrendered: dict[str, Any] = {}
        for level in folder_configs(proj.trees.get(PROJECT_KEYS[resource_type]), fqn):
            config = merge_config(config, self._render_config(level))
            unrendered = merge_config(unrendered, level)
        # a shallow copy: merge_config never mutates nested values in place, and config()
        # in the file replaces node.config rather than changing this dict's values
        self._project_configs[f"{resource_type}.{proj.name}.{name}"] = dict(config)
        self._unrendered[f"{resource_type}.{proj.name}.{name}"] = unrendered
        return Node(
            unique_id=f"{resource_type}.{proj.name}.{name}",
            resource_type=resource_type, name=name, package_name=proj.name,
            original_file_path=rel, path=inner, fqn=fqn, raw_code=raw,
            config=config, checksum=_checksum(raw),
        )

    def _render_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        # hooks stay raw: they render at run time, where {{ this }} exists (as in dbt)
        return {k: v if normalize_key(str(k)) in ("pre-hook", "post-hook")
                else render_values(v, self.ctx.render_yaml) for k, v in cfg.items()}

    def _parse_sql_nodes(self, proj: ProjectConfig, resource_type: str, dirs: list[str]) -> None:
        overlays = self.ctx.overlays if proj is self.project else {}
        for base in dirs:
            paths = list(iter_files(proj.root, [base], (".sql",)))
            on_disk = {_rel(p, proj.root) for p in paths}
            paths += [proj.root / rel for rel in sorted(overlays)
                      if rel not in on_disk and rel.endswith(".sql") and
                      rel.startswith(base.rstrip("/") + "/")]
            for path in paths:
                rel = _rel(path, proj.root)
                # dbt reads every file stripped: raw_code and its checksum have no
                # trailing newline (codegen.generate_model_import_ctes prints raw_code)
                raw = overlays[rel] if rel in overlays else path.read_text(encoding="utf-8")
                node = self._base_node(proj, resource_type, path, base, path.stem, raw.strip())
                self._extract_calls(node)
                self._add(node)

    def _extract_calls(self, node: Node) -> None:
        key = (node.unique_id, node.checksum)
        cached = self.ctx.extraction_cache.get(key)
        found = cached if cached is not None else static_extract(node.raw_code)
        if found is not None:
            refs, sources, config = found
            node.refs.extend(refs)
            node.sources.extend(sources)
            if config:
                node.config = merge_config(node.config, config)
                self._file_configs[node.unique_id] = config
            self.ctx.extraction_cache[key] = (list(refs), list(sources), config)
            return
        self._render_calls(node)
        self.ctx.extraction_cache[key] = (list(node.refs), list(node.sources),
                                          self._file_configs.get(node.unique_id, {}))

    def _render_calls(self, node: Node) -> None:
        state = RenderState(node=node, execute=False)
        try:
            self.ctx.compiler.render(node.raw_code, state, node.original_file_path)
        except DvtError as exc:
            exc.path = exc.path or node.original_file_path
            raise
        file_cfg: dict[str, Any] = {}
        for cfg in state.configs:
            file_cfg = merge_config(file_cfg, cfg)
        if file_cfg:
            self._file_configs[node.unique_id] = file_cfg

    def _add(self, node: Node) -> None:
        try:
            self.manifest.add(node)
        except DvtError as exc:
            raise ParsingError(exc.message, path=node.original_file_path, hint=exc.hint) from None

    # -- seeds ----------------------------------------------------------------------
    def _parse_seeds(self, proj: ProjectConfig) -> None:
        for base in proj.seed_paths:
            for path in iter_files(proj.root, [base], SEED_SUFFIXES):
                node = self._base_node(proj, "seed", path, base, path.stem, "")
                node.root_path = str(path)
                node.checksum = _file_checksum(path)
                self._add(node)

    # -- snapshots ------------------------------------------------------------------
    _SNAPSHOT = re.compile(r"{%-?\s*snapshot\s+(\w+)\s*-?%}(.*?){%-?\s*endsnapshot\s*-?%}", re.S)

    def _parse_snapshots(self, proj: ProjectConfig) -> None:
        for base in proj.snapshot_paths:
            for path in iter_files(proj.root, [base], (".sql",)):
                text = path.read_text(encoding="utf-8")
                for m in self._SNAPSHOT.finditer(text):
                    node = self._base_node(proj, "snapshot", path, base, m.group(1), m.group(2))
                    node.fqn = [*node.fqn[:-1], path.stem, m.group(1)]
                    self._extract_calls(node)
                    self._add(node)

    _RELATION = re.compile(r"\s*(ref|source)\s*\(.*\)\s*", re.S)

    def _yaml_snapshot(self, proj: ProjectConfig, path: Path, name: str,
                       entry: dict[str, Any]) -> Node:
        """dbt 1.9's snapshot defined in YAML alone: `relation: source('s', 't')` (or a
        ref) is what it snapshots, as `select * from` that relation."""
        relation = str(entry["relation"])
        rel = _rel(path, proj.root)
        if not self._RELATION.fullmatch(relation):
            raise ParsingError(
                f"snapshot '{name}': relation must be a ref() or source() call, not "
                f"{relation!r}", path=rel,
                hint="e.g. relation: source('jaffle_shop', 'orders')")
        base = next((d for d in [*proj.snapshot_paths, *proj.model_paths, *proj.seed_paths,
                                 *proj.analysis_paths, *proj.macro_paths, *proj.test_paths]
                     if rel.startswith(d.rstrip("/") + "/")), proj.snapshot_paths[0])
        node = self._base_node(proj, "snapshot", path, base, name,
                               f"select * from {{{{ {relation.strip()} }}}}")
        self._extract_calls(node)
        self._add(node)
        return node

    # -- singular tests ---------------------------------------------------------------
    def _parse_singular_tests(self, proj: ProjectConfig) -> None:
        for base in proj.test_paths:
            for path in iter_files(proj.root, [base], (".sql",)):
                inner = path.relative_to(proj.root / base)
                if inner.parts and inner.parts[0] == "generic":
                    continue
                raw = path.read_text(encoding="utf-8").strip()
                node = self._base_node(proj, "test", path, base, path.stem, raw)
                self._extract_calls(node)
                self._add(node)

    # -- sources ----------------------------------------------------------------------
    def _parse_sources(self, proj: ProjectConfig, path: Path, entries: list[Any]) -> None:
        rel = _rel(path, self.project.root)
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                raise ParsingError("each source needs a `name`", path=rel)
            entry = _render_entry(entry, self.ctx.render_yaml)
            sname = str(entry["name"])
            src_cfg = dict(entry.get("config") or {})
            src_meta = {**(entry.get("meta") or {}), **(src_cfg.get("meta") or {})}
            src_conn = entry.get("connection") or src_cfg.get("connection") or \
                src_meta.get("connection")
            for table in entry.get("tables") or []:
                if not isinstance(table, dict) or "name" not in table:
                    raise ParsingError(f"each table of source '{sname}' needs a `name`", path=rel)
                tname = str(table["name"])
                t_cfg = dict(table.get("config") or {})
                t_meta = {**(table.get("meta") or {}), **(t_cfg.get("meta") or {})}
                conn = table.get("connection") or t_cfg.get("connection") or \
                    t_meta.get("connection") or src_conn
                config = defaults_for("source")
                fqn = [proj.name, *Path(_rel(path, proj.root)).parent.parts[1:], sname, tname]
                for level in folder_configs(proj.trees.get("sources"), fqn):
                    config = merge_config(config, self._render_config(level))
                config = merge_config(config, src_cfg)
                config = merge_config(config, t_cfg)
                config["tags"] = list(dict.fromkeys([*config.get("tags", []),
                                                     *(entry.get("tags") or []),
                                                     *(table.get("tags") or [])]))
                config["connection"] = conn
                node = Node(
                    unique_id=f"source.{proj.name}.{sname}.{tname}", resource_type="source",
                    name=tname, package_name=proj.name, original_file_path=rel,
                    path=_rel(path, proj.root), fqn=fqn, config=config,
                    description=str(table.get("description") or ""),
                    meta={**src_meta, **t_meta}, source_name=sname,
                    source_description=str(entry.get("description") or ""),
                    identifier=str(table.get("identifier") or tname),
                    loader=str(entry.get("loader") or ""),
                    quoting={**(entry.get("quoting") or {}), **(table.get("quoting") or {})},
                    loaded_at_field=table.get("loaded_at_field") or entry.get("loaded_at_field"),
                    freshness=table.get("freshness", entry.get("freshness")),
                    database=table.get("database") or entry.get("database") or
                    entry.get("catalog"),
                    schema=str(entry.get("schema") or sname),
                )
                node.columns = _columns(table.get("columns"))
                if not config.get("enabled", True):
                    self.manifest.disabled[node.unique_id] = node
                    continue
                self._add(node)
                target_ref = f"source('{sname}', '{tname}')"
                self._add_tests(proj, rel, node, target_ref, table)

    # -- YAML patches -----------------------------------------------------------------
    def _patch_nodes(self, proj: ProjectConfig, path: Path, key: str, entries: list[Any]) -> None:
        rel = _rel(path, self.project.root)
        rtype = {"models": "model", "seeds": "seed", "snapshots": "snapshot",
                 "analyses": "analysis"}[key]
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                raise ParsingError(f"each entry under `{key}:` needs a `name`", path=rel)
            name = str(entry["name"])
            uid = f"{rtype}.{proj.name}.{name}"
            node = self.manifest.nodes.get(uid) or self.manifest.disabled.get(uid)
            if node is None and rtype == "snapshot" and entry.get("relation"):
                node = self._yaml_snapshot(proj, path, name, entry)
            if node is None:
                # dbt warns and carries on: a YAML entry for a file that doesn't exist
                if self.ctx.compiler.events is not None:
                    self.ctx.compiler.events.warn(
                        f"Did not find matching node for patch with name '{name}' in the "
                        f"'{key}' section of file '{rel}'", path=rel)
                continue
            if node.patch_path:
                raise ParsingError(
                    f"{rtype} '{name}' has properties defined in two files: "
                    f"{node.patch_path} and {rel}", path=rel,
                    hint="Keep one YAML entry per node.")
            node.patch_path = rel
            self._unrendered[uid] = merge_config(self._unrendered.get(uid, {}),
                                                 dict(entry.get("config") or {}))
            entry = _render_entry(entry, self.ctx.render_yaml)
            node.description = str(entry.get("description") or "")
            node.columns = _columns(entry.get("columns"))
            cfg = render_values(dict(entry.get("config") or {}), self.ctx.render_yaml)
            for extra in ("tags", "meta", "docs"):
                if extra in entry:
                    cfg = merge_config(cfg, {extra: entry[extra]})
            # YAML config sits between dbt_project.yml and config() in the file
            base = self._project_configs.get(uid)
            file_cfg = self._file_configs.get(uid, {})
            if base is None:  # a node added outside the files (notebook cell)
                base, file_cfg = node.config, {}
            node.config = merge_config(merge_config(base, cfg), file_cfg)
            node.meta = {**node.config.get("meta", {}), **(entry.get("meta") or {})}
            if rtype in ("model", "seed", "snapshot"):
                self._add_tests(proj, rel, node, f"ref('{name}')", entry)

    def _patch_macros(self, proj: ProjectConfig, path: Path, entries: list[Any]) -> None:
        for entry in entries:
            if isinstance(entry, dict) and "name" in entry:
                m = self.manifest.macros.get(f"macro.{proj.name}.{entry['name']}")
                if m is not None:
                    m.description = str(entry.get("description") or "")
                    m.arguments = list(entry.get("arguments") or [])

    # -- generic tests ------------------------------------------------------------------
    def _add_tests(self, proj: ProjectConfig, rel: str, parent: Node, target_ref: str,
                   entry: dict[str, Any]) -> None:
        model_name = parent.name if parent.resource_type != "source" else \
            f"{parent.source_name}_{parent.name}"
        for test in _as_list(entry.get("data_tests")) + _as_list(entry.get("tests")):
            self._add_test(proj, rel, parent, target_ref, model_name, test, None)
        for col in entry.get("columns") or []:
            if not isinstance(col, dict) or "name" not in col:
                continue
            for test in _as_list(col.get("data_tests")) + _as_list(col.get("tests")):
                self._add_test(proj, rel, parent, target_ref, model_name, test, str(col["name"]))

    def _add_test(self, proj: ProjectConfig, rel: str, parent: Node, target_ref: str,
                  model_name: str, spec: Any, column: str | None) -> None:
        name, args, cfg = _test_spec(spec, rel)
        namespace = None
        if "." in name:
            namespace, name = name.split(".", 1)
        if column is not None:
            args = {"column_name": column, **args}
        flat: list[str] = []
        for key in sorted(args):
            val = args[key]
            parts = list(val.values()) if isinstance(val, dict) else \
                list(val) if isinstance(val, list | tuple) else [val]
            flat.extend(str(p) for p in parts)
        unique = "__".join(re.sub(r"[^0-9a-zA-Z_]+", "_", a) for a in flat)
        # dbt's synthesize_generic_test_names: [namespace_][source_]test_target_args
        test_type = f"source_{name}" if parent.resource_type == "source" else name
        if namespace:
            test_type = f"{namespace}_{test_type}"
        identifier = f"{test_type}_{model_name}"
        # `name:` in the test's entry is dbt's custom test name (used as is, never hashed)
        custom = _custom_test_name(spec)
        full_name = custom or f"{identifier}_{unique}"
        alias = full_name
        if len(full_name) >= 64 and not custom:
            alias = identifier[:30] + "_" + hashlib.md5(full_name.encode()).hexdigest()
        config: dict[str, Any] = {}  # dbt_project.yml's, over the defaults and the body
        # dbt: the YAML file's folders under its resource path (models/, seeds/, ...)
        yaml_path = self.project.root / rel
        try:
            yaml_rel = yaml_path.relative_to(proj.root)
        except ValueError:
            yaml_rel = Path(rel)
        fqn = [proj.name, *yaml_rel.parent.parts[1:], full_name]
        for level in folder_configs(proj.trees.get("data_tests"), fqn):
            config = merge_config(config, self._render_config(level))
        call, macro_id, builtin = self._test_macro(name, namespace)
        # dbt's test_metadata, whose hash ends the unique_id
        metadata = {"namespace": namespace, "name": name,
                    "kwargs": {**args, "model": f"{{{{ get_where_subquery({target_ref}) }}}}"}}
        node = Node(
            unique_id=f"test.{proj.name}.{full_name}.{test_hash(full_name, metadata)}",
            resource_type="test",
            name=full_name, package_name=proj.name, original_file_path=rel,
            path=f"{alias}.sql", fqn=fqn,
            raw_code=f"{{{{ {call}(**_dbt_generic_test_kwargs) }}}}",
            config=defaults_for("test"), column_name=column, alias=alias,
            test_metadata=metadata,
            attached_node=parent.unique_id if parent.resource_type != "source" else None,
        )
        # config() in the test's body (dbt_utils' equal_rowcount sets fail_calc there) is
        # the most general: dbt_project.yml and the test's YAML config override it
        body = {} if builtin else self._test_body_config(node, rel)
        config = merge_config(merge_config(merge_config(defaults_for("test"), body), config),
                              cfg)
        if parent.target and not config.get("target"):
            config["target"] = parent.target
        if parent.resource_type == "source" and not config.get("target"):
            config["target"] = parent.config.get("connection")
        node.config = config
        # the relations a generic test reads are in its kwargs: the model, and `to` etc.
        for value in [target_ref, *[v for v in args.values() if isinstance(v, str)]]:
            for m in _CALL_IN_KWARG.finditer(value):
                parsed = literal_call(m.group(2))
                if parsed is None:
                    continue
                call_args = parsed[0]
                if m.group(1) == "ref" and call_args:
                    node.refs.append((call_args[-1], call_args[0] if len(call_args) == 2 else None))
                elif m.group(1) == "source" and len(call_args) == 2:
                    node.sources.append((call_args[0], call_args[1]))
        node.depends_on_macros.append(macro_id)
        if not config.get("enabled", True) or not parent.enabled:
            self.manifest.disabled[node.unique_id] = node
            return
        self._add(node)

    def _test_macro(self, name: str, namespace: str | None) -> tuple[str, str, bool]:
        """How to call generic test `name`'s macro, its unique_id, and whether it is a
        built-in: in the namespace given (`dbt_utils.equal_rowcount`), else dbt's order
        (the root project, then packages, then dbt's own), so a root test never shadows
        a package's namespaced one."""
        macro = f"test_{name}"
        by_package = self.ctx.registry.by_package
        root = self.project.name
        if namespace:
            package = "dvt" if namespace == "dbt" else namespace
            return (f"{namespace}.{macro}", f"macro.{namespace}.{macro}", package == "dvt")
        others = sorted(p for p in by_package if p not in (root, "dvt"))
        for package in (root, *others):
            if macro in by_package.get(package, {}):
                call = macro if package == root else f"{package}.{macro}"
                return call, f"macro.{package}.{macro}", False
        return macro, f"macro.dbt.{macro}", True

    def _test_body_config(self, node: Node, rel: str) -> dict[str, Any]:
        """The config() calls of a generic test's body, rendered at parse time as dbt
        does (execute is false: the macro's database work is skipped)."""
        from dvt_engine.jinja.context import generic_test_kwargs

        state = RenderState(node=node, execute=False)
        compiler = self.ctx.compiler
        try:
            extra = {"_dbt_generic_test_kwargs": generic_test_kwargs(compiler, node, state)}
            compiler.render(node.raw_code, state, rel, extra)
        except DvtError as exc:
            exc.path = exc.path or rel
            exc.message = f"test {node.name}: {exc.message}"
            raise
        body: dict[str, Any] = {}
        for cfg in state.configs:
            body = merge_config(body, cfg)
        return body

    # -- resolution ---------------------------------------------------------------------
    def _finalize(self) -> None:
        manifest = self.manifest
        self._resolve_descriptions()
        for uid, unrendered in self._unrendered.items():
            node = manifest.nodes.get(uid) or manifest.disabled.get(uid)
            if node is not None:
                node.config["_unrendered_config"] = merge_config(
                    unrendered, self._file_configs.get(uid, {}))
        for uid, node in list(manifest.nodes.items()):
            if not node.enabled:
                manifest.disabled[uid] = manifest.nodes.pop(uid)
        if self.ctx.seed_target:
            self._force_seed_target(self.ctx.seed_target)
        manifest.invalidate()
        compiler = self.ctx.compiler
        compiler.forget_names()
        custom_naming = {
            m: (mf := self.ctx.registry.find(m)) is not None and mf.package != "dvt"
            for m in ("generate_schema_name", "generate_alias_name", "generate_database_name")
        }
        for node in manifest.nodes.values():
            # tests too (dbt: <schema>_dbt_test__audit), since --store-failures can store any
            self._resolve_relation(node, custom_naming)
        for node in manifest.sources.values():
            node.database = node.database or self.ctx.default_database(
                node.config.get("connection"))
        for node in manifest.nodes.values():
            deps: list[str] = []
            for name, pkg in node.refs:
                deps.append(compiler.find_ref(name, pkg, node).unique_id)
            for sname, tname in node.sources:
                deps.append(compiler.find_source(sname, tname, node).unique_id)
            node.depends_on_nodes = list(dict.fromkeys(deps))
        manifest.invalidate()
        manifest.topological_order()  # raises on a cycle

    def _force_seed_target(self, target: str) -> None:
        """Before relations are resolved, so schema and database follow the new target."""
        nodes = self.manifest.nodes
        for node in nodes.values():
            if node.resource_type == "seed":
                node.config["target"] = target
        for node in nodes.values():
            parent = nodes.get(node.attached_node or "")
            if node.resource_type == "test" and parent is not None \
                    and parent.resource_type == "seed":
                node.config["target"] = target

    def _resolve_relation(self, node: Node, custom: dict[str, bool]) -> None:
        cfg = node.config
        target = node.target
        if node.resource_type == "snapshot" and cfg.get("target_schema"):
            node.schema = str(cfg["target_schema"])
        elif custom["generate_schema_name"]:
            node.schema = self._naming_macro("generate_schema_name", cfg.get("schema"), node)
        else:
            base = self.ctx.default_schema(target)
            node.schema = base if cfg.get("schema") is None else f"{base}_{str(cfg['schema']).strip()}"
        if custom["generate_alias_name"]:
            node.alias = self._naming_macro("generate_alias_name", cfg.get("alias"), node)
        elif node.resource_type != "test" or not node.alias:
            node.alias = str(cfg.get("alias") or node.name).strip()
        if node.resource_type == "snapshot" and cfg.get("target_database"):
            node.database = str(cfg["target_database"])
        elif custom["generate_database_name"]:
            node.database = self._naming_macro("generate_database_name", cfg.get("database"), node)
        else:
            node.database = str(cfg.get("database") or self.ctx.default_database(target))

    def _naming_macro(self, macro: str, value: Any, node: Node) -> str:
        from dvt_engine.jinja.context import node_dict

        try:
            out = self.ctx.compiler.call_macro(macro, {
                {"generate_schema_name": "custom_schema_name",
                 "generate_alias_name": "custom_alias_name",
                 "generate_database_name": "custom_database_name"}[macro]: value,
                "node": _NodeView(node_dict(node)),
            }, node=node, execute=False)
        except DvtError as exc:
            raise CompilationError(f"{macro} failed for {node.unique_id}: {exc.message}",
                                   path=node.original_file_path) from None
        return str(out).strip()


    # -- descriptions -------------------------------------------------------------------
    def _resolve_descriptions(self) -> None:
        """Render doc(), env_var() and var() in descriptions, as dbt's process_docs does."""
        nodes = [*self.manifest.nodes.values(), *self.manifest.sources.values(),
                 *self.manifest.disabled.values()]
        for node in nodes:
            where = node.patch_path or node.original_file_path
            node.description = self._render_description(node.description, node, where)
            node.source_description = self._render_description(node.source_description, node,
                                                               where)
            for col in node.columns.values():
                col.description = self._render_description(col.description, node, where)

    def _render_description(self, text: str, node: Node, where: str) -> str:
        if not text or not ANY_JINJA.search(text):
            return text
        from dvt_engine.jinja.environment import get_environment
        from dvt_engine.project.yaml_io import env_var

        docs = self.manifest.docs

        def doc(*args: str) -> str:
            if len(args) not in (1, 2):
                raise ParsingError("doc() takes a name, or a package and a name", path=where)
            name, package = args[-1], args[0] if len(args) == 2 else None
            found = docs.get(f"doc.{package or node.package_name}.{name}") or next(
                (d for d in docs.values() if d.name == name and package in (None, d.package_name)),
                None)
            if found is None:
                raise ParsingError(
                    f"Documentation for '{node.unique_id}' depends on doc '{name}' which was "
                    "not found", path=where,
                    hint="Define it in a .md file: {% docs " + name + " %}...{% enddocs %}")
            return found.block_contents

        scope = self.ctx.compiler.project_vars(node.package_name)

        def var(name: str, default: Any = None) -> Any:
            return scope.get(name, default)

        try:
            return get_environment().from_string(text).render(doc=doc, env_var=env_var, var=var)
        except DvtError as exc:
            exc.path = exc.path or where
            raise
        except Exception as exc:  # a Jinja error inside a description
            raise ParsingError(f"could not render description {text!r}: {exc}",
                               path=where) from None


# dbt renders these later (tests at compile, descriptions in process_docs, hooks at run)
_NORENDER_KEYS = ("description", "tests", "data_tests", "loaded_at_query", "pre_hook",
                  "post_hook", "pre-hook", "post-hook")


def _render_entry(value: Any, render: Callable[[str], Any]) -> Any:
    """Render a YAML properties entry except descriptions and tests (dbt renders those later)."""
    if isinstance(value, dict):
        return {k: v if k in _NORENDER_KEYS else _render_entry(v, render)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_render_entry(v, render) for v in value]
    return render_values(value, render)


_CALL_IN_KWARG = re.compile(r"\b(ref|source)\s*\(([^()]*)\)")


class _NodeView(dict):
    """A node dict that also answers attribute access (`node.name` in macros)."""

    def __getattr__(self, key: str) -> Any:
        return self.get(key)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _columns(raw: Any) -> dict[str, Column]:
    out: dict[str, Column] = {}
    for col in raw or []:
        if isinstance(col, dict) and "name" in col:
            name = str(col["name"])
            out[name] = Column(name=name, description=str(col.get("description") or ""),
                               data_type=col.get("data_type"), meta=col.get("meta") or {},
                               tags=col.get("tags") or [], quote=col.get("quote"))
    return out


def _test_spec(spec: Any, rel: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A YAML test entry -> (test name, arguments, config)."""
    if isinstance(spec, str):
        return spec, {}, {}
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ParsingError(f"test definition must be a name or a one-key mapping, got {spec!r}",
                           path=rel, hint="e.g. `- unique` or `- accepted_values: {values: [a]}`")
    name, body = next(iter(spec.items()))
    body = dict(body or {})
    if "test_name" in body:
        name = body.pop("test_name")
    cfg = dict(body.pop("config", None) or {})
    args = dict(body.pop("arguments", None) or {})
    for key in list(body):
        if key in _TEST_CONFIG_KEYS:
            cfg[key] = body.pop(key)
    args.update(body)
    args.pop("name", None)
    return str(name), args, cfg


def _custom_test_name(spec: Any) -> str | None:
    if isinstance(spec, dict) and len(spec) == 1:
        body = next(iter(spec.values()))
        if isinstance(body, dict) and body.get("name"):
            return str(body["name"])
    return None


def _file_checksum(path: Path) -> str:
    h = hashlib.sha256()
    st = path.stat()
    # seeds can be large: size and mtime identify a version well enough for state checks
    h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()
