"""Node selection: dbt's --select / --exclude / --selector grammar over a Manifest.

A spec is parsed into a tree of criteria (`+tag:nightly+2`) and set operations
(space = union, comma = intersection, --exclude = difference), then evaluated the
way dbt-core 1.10 does: each criterion collects its nodes, adds graph neighbours and
expands to the tests attached to them (indirect selection); set operations combine
the results; finally the nodes are filtered to the command's resource types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase, translate
from typing import Any

from dvt_engine.errors import SelectionError
from dvt_engine.manifest import Manifest, Node, walk

ALL_TYPES: tuple[str, ...] = ("model", "seed", "snapshot", "test", "source", "analysis")
# dbt resource types DVT has no nodes for: accepted as --resource-type, select nothing
_EMPTY_TYPES = ("exposure", "metric", "semantic_model", "saved_query", "unit_test", "operation")
INDIRECT_MODES: tuple[str, ...] = ("eager", "cautious", "buildable", "empty")
# dbt methods that exist but can never match in DVT (no such resources)
_NO_MATCH_METHODS = ("exposure", "metric", "semantic_model", "saved_query", "unit_test", "version")
# dbt methods that need artifacts of a previous run (--state), not supported yet
_STATE_METHODS = ("state", "result", "source_status")
_FILE_SUFFIXES = (".sql", ".py", ".csv")
_GLOB_CHARS = ("*", "?", "[")

_SPEC_RE = re.compile(
    r"\A(?P<childrens_parents>@)?"
    r"(?P<parents>(?P<parents_depth>\d*)\+)?"
    r"(?:(?P<method>[\w.]+):)?"
    r"(?P<value>.*?)"
    r"(?P<children>\+(?P<children_depth>\d*))?\Z"
)


@dataclass
class Selection:
    """The selected unique_ids, and the criteria that matched no enabled node."""

    unique_ids: set[str]
    unmatched: list[str] = field(default_factory=list)


# -- spec tree -------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One `method:value` with its graph operators."""

    raw: str
    method: str
    args: tuple[str, ...]
    value: Any
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None
    childrens_parents: bool = False
    indirect: str = "eager"


@dataclass(frozen=True)
class SetOp:
    """union / intersection / difference of specs; `expect` is reported if empty."""

    op: str
    parts: tuple[Spec, ...]
    indirect: str = "eager"
    expect: str | None = None


Spec = Criterion | SetOp


# -- public entry point -------------------------------------------------------------


def select(
    manifest: Manifest,
    *,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    selector: str | None = None,
    resource_types: Sequence[str] | None = None,
    default_types: Sequence[str] = ALL_TYPES,
    indirect_selection: str = "eager",
) -> Selection:
    """Select enabled nodes of `manifest` as dbt's --select/--exclude/--selector do.

    `select` items are space-separated lists of specs (union); commas inside one spec
    intersect. `selector` names an entry of manifest.selectors and takes precedence
    over select/exclude. With nothing to select, all enabled nodes are taken (or the
    selector marked `default: true`). The result keeps nodes whose type is in
    `default_types` and, if given, in `resource_types`.
    """
    mode = _check_mode(indirect_selection)
    allowed = _allowed_types(default_types, resource_types)
    ctx = _Context(manifest)
    spec = _build_spec(manifest, select, exclude, selector, mode)
    unmatched: list[str] = []
    if spec is None:
        ids = set(ctx.known)
    else:
        ids, _ = _Evaluator(ctx, unmatched).run(spec)
        ids &= ctx.known
    kept = {u for u in ids if ctx.node(u).resource_type in allowed}
    return Selection(kept, list(dict.fromkeys(unmatched)))


def parse_spec(raw: str, indirect: str = "eager") -> Criterion:
    """Parse one CLI spec such as `2+tag:nightly+`, `@model` or `config.materialized:view`."""
    match = _SPEC_RE.match(raw)
    if match is None or not match.group("value"):
        raise SelectionError(f"Invalid selector spec '{raw}': no value to search for")
    if match.group("childrens_parents") and match.group("parents"):
        raise SelectionError(
            f"Invalid selector spec '{raw}': '@' and '+' prefixes are not compatible",
            hint="Use either @model or +model.",
        )
    value = match.group("value")
    method = match.group("method")
    if "+" in value or (method is None and ":" in value):
        raise SelectionError(f"Invalid selector spec '{raw}'", hint=_method_hint())
    name, args = _parse_method(method, value, raw)
    return Criterion(
        raw=raw,
        method=name,
        args=args,
        value=value,
        parents=bool(match.group("parents")),
        parents_depth=_depth(match.group("parents_depth"), raw),
        children=bool(match.group("children")),
        children_depth=_depth(match.group("children_depth"), raw),
        childrens_parents=bool(match.group("childrens_parents")),
        indirect=indirect,
    )


# -- building the spec tree ------------------------------------------------------------


def _check_mode(mode: str) -> str:
    if mode not in INDIRECT_MODES:
        raise SelectionError(
            f"Invalid indirect selection mode '{mode}'",
            hint="Use one of: " + ", ".join(INDIRECT_MODES),
        )
    return mode


def _allowed_types(default_types: Sequence[str], resource_types: Sequence[str] | None) -> set[str]:
    allowed = set(default_types)
    wanted = set(resource_types or ())
    unknown = wanted - set(ALL_TYPES) - set(_EMPTY_TYPES) - {"all", "default"}
    if unknown:
        raise SelectionError(
            f"Invalid resource type(s): {', '.join(sorted(unknown))}",
            hint="Use one of: " + ", ".join(ALL_TYPES),
        )
    if wanted and not wanted & {"all", "default"}:
        allowed &= wanted
    return allowed


def _tokens(items: Sequence[str] | None) -> list[str]:
    return [tok for item in items or () for tok in item.split(" ") if tok]


def _build_spec(
    manifest: Manifest,
    select: Sequence[str] | None,
    exclude: Sequence[str] | None,
    selector: str | None,
    mode: str,
) -> Spec | None:
    if selector:
        return _SelectorResolver(manifest, mode).resolve(selector)
    included, excluded = _tokens(select), _tokens(exclude)
    if not included and not excluded:
        default = _default_selector(manifest)
        return _SelectorResolver(manifest, mode).resolve(default) if default else None
    include_spec = _cli_union(included, mode) if included else _everything(mode)
    # dbt always expands exclusions eagerly: excluding a model excludes its tests
    exclude_spec = _cli_union(excluded, "eager")
    return SetOp("difference", (include_spec, exclude_spec), mode)


def _cli_union(tokens: list[str], mode: str) -> SetOp:
    parts = tuple(
        SetOp(
            "intersection",
            tuple(parse_spec(p, mode) for p in tok.split(",")),
            mode,
            expect=tok,
        )
        for tok in tokens
    )
    return SetOp("union", parts, mode)


def _everything(mode: str) -> SetOp:
    return SetOp("union", (parse_spec("fqn:*", mode), parse_spec("source:*", mode)), mode)


def _depth(text: str | None, raw: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except (TypeError, ValueError):
        raise SelectionError(f"Invalid graph depth '{text}' in selector '{raw}'") from None


def _parse_method(method: str | None, value: Any, raw: str) -> tuple[str, tuple[str, ...]]:
    if method is None:
        return _default_method(str(value)), ()
    name, *args = method.split(".")
    if name not in _METHODS and name not in _NO_MATCH_METHODS:
        if name in _STATE_METHODS:
            raise SelectionError(
                f"The '{name}' selection method is not supported by DVT (in '{raw}')",
                hint="It compares against artifacts of a previous run (--state).",
            )
        raise SelectionError(
            f"'{name}' is not a valid method name (in selector '{raw}')", hint=_method_hint()
        )
    if name == "config" and not args:
        raise SelectionError(
            f"The config method needs a key, e.g. config.materialized:table (in '{raw}')"
        )
    return name, tuple(args)


def _default_method(value: str) -> str:
    if "/" in value or "\\" in value:
        return "path"
    if value.lower().endswith(_FILE_SUFFIXES):
        return "file"
    return "fqn"


def _method_hint() -> str:
    names = sorted({*_METHODS, "config.<key>"} - {"config"})
    return "Valid selector methods: " + ", ".join(names)


def _default_selector(manifest: Manifest) -> str | None:
    for name, entry in (manifest.selectors or {}).items():
        if isinstance(entry, Mapping) and "definition" in entry and entry.get("default") is True:
            return str(name)
    return None


class _SelectorResolver:
    """Turns YAML selector definitions (selectors.yml) into a spec tree."""

    def __init__(self, manifest: Manifest, mode: str) -> None:
        self.selectors: Mapping[str, Any] = manifest.selectors or {}
        self.mode = mode
        self.stack: list[str] = []

    def resolve(self, name: str) -> Spec:
        if name not in self.selectors:
            known = ", ".join(sorted(self.selectors)) or "(none defined)"
            raise SelectionError(
                f"Could not find selector named '{name}'", hint=f"Known selectors: {known}"
            )
        if name in self.stack:
            raise SelectionError(
                "Selector definitions refer to each other in a loop: "
                + " -> ".join([*self.stack, name])
            )
        entry = self.selectors[name]
        if isinstance(entry, Mapping) and "definition" in entry:
            entry = entry["definition"]
        self.stack.append(name)
        try:
            return self.definition(entry, root=True)
        finally:
            self.stack.pop()

    def definition(self, d: Any, root: bool = False) -> Spec:
        if isinstance(d, str):
            return parse_spec(d, self.mode)
        if not isinstance(d, Mapping):
            raise SelectionError(f"Invalid selector definition: {d!r}")
        if "union" in d or "intersection" in d:
            if root and len(d) > 1:
                raise SelectionError(
                    "Only a single 'union' or 'intersection' key is allowed in a root "
                    f"level selector definition; found {', '.join(map(str, d))}"
                )
            op = "union" if "union" in d else "intersection"
            return self.set_op(op, d[op])
        return self.criterion(d)

    def set_op(self, op: str, items: Any) -> Spec:
        if not isinstance(items, list):
            raise SelectionError(f"'{op}' in a selector definition must be a list")
        include: list[Spec] = []
        excluded: Spec | None = None
        for item in items:
            if isinstance(item, Mapping) and "exclude" in item:
                if excluded is not None:
                    raise SelectionError(
                        f"You cannot provide multiple exclude arguments to the same {op}"
                    )
                excluded = self.exclusions(item["exclude"])
            else:
                include.append(self.definition(item))
        base = SetOp(op, tuple(include), self.mode)
        return base if excluded is None else SetOp("difference", (base, excluded), self.mode)

    def exclusions(self, items: Any) -> Spec:
        if not isinstance(items, list):
            items = [items]
        parts = tuple(self.definition(i) for i in items)
        return parts[0] if len(parts) == 1 else SetOp("union", parts, self.mode)

    def criterion(self, d: Mapping[str, Any]) -> Spec:
        if len(d) == 1:
            key, value = next(iter(d.items()))
            d = {"method": key, "value": value}
        if d.get("method") == "selector":
            return self.resolve(str(d.get("value")))
        if "method" not in d or "value" not in d:
            raise SelectionError(
                f"Expected either 1 key or else 'method' and 'value' keys, but got {list(d)}"
            )
        raw = f"{d['method']}:{d['value']}"
        name, args = _parse_method(str(d["method"]), d["value"], raw)
        crit = Criterion(
            raw=raw,
            method=name,
            args=args,
            value=d["value"],
            parents=bool(d.get("parents")),
            parents_depth=_depth(_str_or_none(d.get("parents_depth")), raw),
            children=bool(d.get("children")),
            children_depth=_depth(_str_or_none(d.get("children_depth")), raw),
            childrens_parents=bool(d.get("childrens_parents")),
            indirect=_check_mode(str(d.get("indirect_selection") or self.mode)),
        )
        if "exclude" not in d:
            return crit
        return SetOp("difference", (crit, self.exclusions(d["exclude"])), self.mode)


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


# -- evaluation --------------------------------------------------------------------


class _Context:
    """The manifest plus indexes built lazily, once per select() call."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.nodes = manifest.nodes
        self.sources = manifest.sources
        self.known: set[str] = set(self.nodes) | set(self.sources)
        self.parents = manifest.parent_map
        self.children = manifest.child_map
        self._fqn_index: _FqnIndex | None = None
        self._tests_of: dict[str, list[str]] | None = None

    def node(self, unique_id: str) -> Node:
        return self.nodes.get(unique_id) or self.sources[unique_id]

    def all_nodes(self) -> Iterator[tuple[str, Node]]:
        yield from self.nodes.items()
        yield from self.sources.items()

    def tests_of(self) -> dict[str, list[str]]:
        """node id -> the tests that depend on it."""
        if self._tests_of is None:
            attached: dict[str, list[str]] = {}
            for uid, node in self.nodes.items():
                if node.resource_type == "test":
                    for parent in dict.fromkeys(node.depends_on_nodes):
                        attached.setdefault(parent, []).append(uid)
            self._tests_of = attached
        return self._tests_of

    def fqn_index(self) -> _FqnIndex:
        if self._fqn_index is None:
            self._fqn_index = _FqnIndex(self.nodes)
        return self._fqn_index

    def walk(
        self, edges: Mapping[str, list[str]], starts: Iterable[str], depth: int | None
    ) -> set[str]:
        """Nodes reachable from any of `starts` within `depth` steps (None: any)."""
        return walk(edges, starts, depth) & self.known


class _Evaluator:
    def __init__(self, ctx: _Context, unmatched: list[str]) -> None:
        self.ctx = ctx
        self.unmatched = unmatched

    def run(self, spec: Spec) -> tuple[set[str], set[str]]:
        """(direct, indirect): selected nodes, and tests held back pending their parents."""
        if isinstance(spec, Criterion):
            return self.criterion(spec)
        bundles = [self.run(part) for part in spec.parts]
        direct = _combine(spec.op, [d for d, _ in bundles])
        indirect = _combine(spec.op, [d | i for d, i in bundles])
        direct = self.incorporate(direct, indirect, spec.indirect)
        if spec.expect is not None and not direct:
            self.unmatched.append(spec.expect)
        return direct, indirect

    def criterion(self, crit: Criterion) -> tuple[set[str], set[str]]:
        collected = _search(self.ctx, crit)
        selected = collected | self.neighbours(crit, collected)
        if crit.indirect == "empty":
            return selected, set()
        return self.expand(selected, crit.indirect)

    def neighbours(self, crit: Criterion, selected: set[str]) -> set[str]:
        ctx = self.ctx
        extra: set[str] = set()
        if crit.childrens_parents:
            down = ctx.walk(ctx.children, selected, None) | selected
            extra |= ctx.walk(ctx.parents, down, None) | down
        if crit.parents:
            extra |= ctx.walk(ctx.parents, selected, crit.parents_depth)
        if crit.children:
            extra |= ctx.walk(ctx.children, selected, crit.children_depth)
        return extra

    def expand(self, selected: set[str], mode: str) -> tuple[set[str], set[str]]:
        """Add the tests attached to selected nodes (dbt's indirect selection)."""
        ctx = self.ctx
        direct, indirect = set(selected), set()
        buildable: set[str] | None = None
        for uid in _attached_tests(ctx.tests_of(), selected) - direct:
            deps = set(ctx.nodes[uid].depends_on_nodes)
            if mode == "eager" or deps <= selected:
                direct.add(uid)
                continue
            if mode == "buildable":
                if buildable is None:
                    buildable = selected | ctx.walk(ctx.parents, selected, None) | set(ctx.sources)
                if deps <= buildable:
                    direct.add(uid)
                    continue
            indirect.add(uid)
        return direct, indirect

    def incorporate(self, direct: set[str], indirect: set[str], mode: str) -> set[str]:
        """Tests held back by cautious/buildable whose parents are now all selected."""
        pending = indirect - direct
        if mode not in ("cautious", "buildable") or not pending:
            return direct
        selected = set(direct)
        pool = direct
        if mode == "buildable":
            pool = direct | self.ctx.walk(self.ctx.parents, direct, None)
        for uid in pending:
            node = self.ctx.nodes.get(uid)
            if node is not None and set(node.depends_on_nodes) <= pool:
                selected.add(uid)
        return selected


def _attached_tests(tests_of: dict[str, list[str]], selected: set[str]) -> set[str]:
    if len(selected) < len(tests_of):
        return {t for s in selected for t in tests_of.get(s, ())}
    return {t for parent, tests in tests_of.items() if parent in selected for t in tests}


def _combine(op: str, sets: list[set[str]]) -> set[str]:
    if not sets:
        return set()
    if op == "union":
        return set().union(*sets)
    if op == "intersection":
        return set(sets[0]).intersection(*sets[1:])
    return set(sets[0]).difference(*sets[1:])


# -- selector methods ----------------------------------------------------------------

Method = Callable[[_Context, Any, tuple[str, ...]], set[str]]


def _search(ctx: _Context, crit: Criterion) -> set[str]:
    method = _METHODS.get(crit.method)
    if method is None:  # exposure:, metric:, ... (no such resources in DVT)
        return set()
    return method(ctx, crit.value, crit.args)


def _has_glob(text: str) -> bool:
    return any(c in text for c in _GLOB_CHARS)


def _matcher(pattern: str) -> Callable[[str], bool]:
    if not _has_glob(pattern):
        return lambda s: s == pattern
    rx = re.compile(translate(pattern))
    return lambda s: rx.match(s) is not None


class _FqnIndex:
    """The non-source nodes by leaf name and by first two fqn parts (package, folder)."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self.names: dict[str, list[str]] = {}
        names = self.names
        for uid, node in nodes.items():
            fqn = node.fqn
            if not fqn:
                continue
            names.setdefault(fqn[-1], []).append(uid)
            if len(fqn) > 2:
                names.setdefault(fqn[1].split(".", 1)[0], []).append(uid)
            names.setdefault(fqn[0].split(".", 1)[0], []).append(uid)


class _FqnPattern:
    """dbt's fqn matching: the leaf name, or a dotted prefix of the fqn with or without
    its package (dots inside fqn parts count as separators); from the first part with a
    wildcard on, the rest of the fqn is fnmatched."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.parts = value.split(".")
        self.glob_at = next((i for i, p in enumerate(self.parts) if _has_glob(p)), None)
        self.rest: re.Pattern[str] | None = None
        self.literal = value + "."
        if self.glob_at is not None:
            self.rest = re.compile(translate(".".join(self.parts[self.glob_at :])))
            self.literal = "".join(p + "." for p in self.parts[: self.glob_at])
        # like dbt Fusion, a bare wildcard (`stg_*`) also matches names in subfolders
        bare = len(self.parts) == 1 and self.glob_at is not None
        self.leaf_glob = _matcher(value) if bare else None

    def matches(self, fqn: list[str]) -> bool:
        leaf = fqn[-1]
        if leaf == self.value or (self.leaf_glob is not None and self.leaf_glob(leaf)):
            return True
        joined = ".".join(fqn)
        if self._prefix(joined):
            return True
        return len(fqn) > 1 and self._prefix(joined[len(fqn[0]) + 1 :])

    def _prefix(self, joined: str) -> bool:
        if joined.count(".") + 1 < len(self.parts):
            return False
        if self.rest is None:
            return joined == self.value or joined.startswith(self.literal)
        literal = self.literal
        return joined.startswith(literal) and self.rest.match(joined[len(literal) :]) is not None


def _by_fqn(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    value = str(value)
    if value == "*":
        return set(ctx.nodes)
    pattern = _FqnPattern(value)
    candidates: Iterable[str]
    if pattern.glob_at == 0:
        candidates = ctx.nodes
    else:
        names = ctx.fqn_index().names
        candidates = {*names.get(value, ()), *names.get(pattern.parts[0], ())}
    nodes = ctx.nodes
    return {uid for uid in candidates if nodes[uid].fqn and pattern.matches(nodes[uid].fqn)}


def _by_tag(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    match = _matcher(str(value))
    return {uid for uid, n in ctx.all_nodes() if any(match(str(t)) for t in n.tags)}


def _by_source(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    parts = str(value).split(".")
    if len(parts) > 3:
        raise SelectionError(
            f"Invalid source selector value '{value}'",
            hint="Sources are selected as source:<source>, source:<source>.<table> "
            "or source:<package>.<source>.<table>.",
        )
    if len(parts) == 1:
        parts = ["*", parts[0], "*"]
    elif len(parts) == 2:
        parts = ["*", *parts]
    package, source, table = (_matcher(p) for p in parts)
    return {
        uid
        for uid, n in ctx.sources.items()
        if package(n.package_name) and source(n.source_name or "") and table(n.name)
    }


def _split_path(path: str) -> list[str]:
    parts = path.replace("\\", "/").split("/")
    if "" in parts or "." in parts:
        parts = [p for p in parts if p and p != "."]
    return parts


def _glob_parts(pattern: list[str], parts: list[str]) -> bool:
    """Whole-path glob where `*` stays within one segment and `**` spans several."""
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        return any(_glob_parts(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _glob_parts(pattern[1:], parts[1:])


class _PathPattern:
    """A path glob relative to the project root, as dbt's `path:` method uses it."""

    def __init__(self, value: str) -> None:
        self.parts = _split_path(value)
        self.deep = "**" in self.parts
        self.segments = [_matcher(p) for p in self.parts]
        literal = []
        for part in self.parts:
            if _has_glob(part):
                break
            literal.append(part)
        self.has_glob = len(literal) < len(self.parts)
        # the part before any wildcard, for a quick string test
        self.literal = "/".join(literal) + ("/" if self.has_glob and literal else "")

    def _fixed(self, parts: list[str]) -> bool:
        return all(m(p) for m, p in zip(self.segments, parts, strict=False))

    def contains(self, path: str) -> bool:
        """The file itself or one of its folders matches."""
        if path.startswith("./") or "\\" in path or "//" in path:
            path = "/".join(_split_path(path))
        literal = self.literal
        if not path.startswith(literal):
            return False
        if not self.has_glob:
            return len(path) == len(literal) or path[len(literal)] == "/"
        parts = path.split("/")
        if not self.deep:  # a fixed-length pattern can only match that long a prefix
            return len(parts) >= len(self.parts) and self._fixed(parts)
        return any(_glob_parts(self.parts, parts[:k]) for k in range(1, len(parts) + 1))

    def equals(self, path: str) -> bool:
        parts = _split_path(path)
        if not self.deep:
            return len(parts) == len(self.parts) and self._fixed(parts)
        return _glob_parts(self.parts, parts)


def _by_path(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    pattern = _PathPattern(str(value))
    if not pattern.parts:
        return set(ctx.known)
    return {uid for uid, n in ctx.all_nodes() if _node_in_path(n, pattern)}


def _node_in_path(node: Node, pattern: _PathPattern) -> bool:
    """The node's file is at or under the pattern, or its YAML patch file is the pattern."""
    if pattern.contains(node.original_file_path):
        return True
    patch = node.patch_path
    return bool(patch) and pattern.equals(str(patch).split("://")[-1])


def _by_file(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    match = _matcher(str(value))
    found = set()
    for uid, n in ctx.all_nodes():
        name = n.original_file_path.replace("\\", "/").rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
        if match(name) or match(stem):
            found.add(uid)
    return found


def _by_package(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    value = ctx.manifest.project_name if value == "this" else str(value)
    match = _matcher(value)
    return {uid for uid, n in ctx.all_nodes() if match(n.package_name)}


def _config_value(config: Any, keys: tuple[str, ...]) -> tuple[bool, Any]:
    value = config
    for key in keys:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif not isinstance(value, Mapping) and hasattr(value, key):
            value = getattr(value, key)
        else:
            return False, None
    return True, value


def _scalar_matches(wanted: Any, value: Any, case_insensitive: bool) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(wanted).lower() == str(value).lower()
    if wanted == value:
        return True
    if isinstance(value, (int, float)) or case_insensitive:
        return str(wanted).lower() == str(value).lower()
    return False


def _by_config(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    ci = args == ("severity",)
    found = set()
    for uid, n in ctx.all_nodes():
        ok, have = _config_value(n.config, args)
        if not ok:
            continue
        items = have if isinstance(have, (list, tuple, set)) else [have]
        if any(_scalar_matches(value, item, ci) for item in items):
            found.add(uid)
    return found


def _by_resource_type(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    value = str(value)
    if value not in ALL_TYPES and value not in _EMPTY_TYPES:
        raise SelectionError(
            f"Invalid resource_type selector '{value}'", hint="Use one of: " + ", ".join(ALL_TYPES)
        )
    return {uid for uid, n in ctx.all_nodes() if n.resource_type == value}


def _by_test_name(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    match = _matcher(str(value))
    return {
        uid
        for uid, n in ctx.nodes.items()
        if n.resource_type == "test"
        and n.test_metadata
        and match(str(n.test_metadata.get("name", "")))
    }


def _by_test_type(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
    kinds = {
        "generic": {True},
        "schema": {True},
        "singular": {False},
        "data": {True, False},
        "unit": set(),
    }.get(str(value))
    if kinds is None:
        raise SelectionError(
            f"Invalid test type selector '{value}'",
            hint='Expected "generic", "singular", "unit" or "data".',
        )
    return {
        uid
        for uid, n in ctx.nodes.items()
        if n.resource_type == "test" and (n.test_metadata is not None) in kinds
    }


def _by_config_key(key: str) -> Method:
    def search(ctx: _Context, value: Any, args: tuple[str, ...]) -> set[str]:
        return _by_config(ctx, value, (key,))

    return search


_METHODS: dict[str, Method] = {
    "fqn": _by_fqn,
    "tag": _by_tag,
    "source": _by_source,
    "path": _by_path,
    "file": _by_file,
    "package": _by_package,
    "config": _by_config,
    "resource_type": _by_resource_type,
    "test_name": _by_test_name,
    "test_type": _by_test_type,
    "group": _by_config_key("group"),
    "access": _by_config_key("access"),
}
