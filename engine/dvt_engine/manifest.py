"""Nodes of a project and the DAG between them.

A Node is one resource: model, seed, test, snapshot, analysis, source or operation.
Configs are plain dicts (as dbt's are dict-like) merged from dbt_project.yml, YAML
files and `config()` calls; the keys a node needs are read through properties.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dvt_engine.errors import DvtError

EXECUTABLE_TYPES = ("model", "seed", "snapshot", "test")


@dataclass
class Column:
    """A column documented in YAML."""

    name: str
    description: str = ""
    data_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    quote: bool | None = None


@dataclass(eq=False, repr=False)  # an entity: compared by identity, named by its id
class Node:
    """A model, seed, snapshot, test, analysis or source."""

    def __repr__(self) -> str:
        return f"Node({self.unique_id!r})"

    unique_id: str
    resource_type: str
    name: str
    package_name: str
    original_file_path: str  # relative to the project root
    path: str  # relative to its resource folder (models/, seeds/, ...)
    fqn: list[str]
    raw_code: str = ""
    language: str = "sql"
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    columns: dict[str, Column] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    # calls found while parsing: ref(name[, package]) and source(source, table)
    refs: list[tuple[str, str | None]] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    depends_on_nodes: list[str] = field(default_factory=list)
    depends_on_macros: list[str] = field(default_factory=list)
    # the relation this node builds or reads
    database: str | None = None
    schema: str | None = None
    alias: str | None = None
    # tests
    test_metadata: dict[str, Any] | None = None
    column_name: str | None = None
    attached_node: str | None = None
    # sources
    source_name: str | None = None
    source_description: str = ""
    identifier: str | None = None
    loader: str = ""
    quoting: dict[str, bool] = field(default_factory=dict)
    loaded_at_field: str | None = None
    freshness: dict[str, Any] | None = None
    # seeds: absolute path of the data file
    root_path: str | None = None
    patch_path: str | None = None
    docs_blocks: list[str] = field(default_factory=list)
    # snapshots, compiled state
    compiled_code: str | None = None
    extra_ctes: list[dict[str, str]] = field(default_factory=list)
    checksum: str = ""

    # -- config views -------------------------------------------------------
    @property
    def tags(self) -> list[str]:
        return list(self.config.get("tags") or [])

    @property
    def materialized(self) -> str:
        mat = self.config.get("materialized") or ""
        return {"f_table": "table", "f_incremental": "incremental"}.get(mat, mat)

    @property
    def enabled(self) -> bool:
        return bool(self.config.get("enabled", True))

    @property
    def target(self) -> str | None:
        """The profile output this node runs on (DVT); None means the run's default."""
        return self.config.get("target")

    @property
    def relation_name(self) -> str | None:
        return self.config.get("_relation_name")

    @property
    def is_ephemeral(self) -> bool:
        return self.resource_type == "model" and self.materialized == "ephemeral"

    @property
    def search_name(self) -> str:
        return self.name if self.resource_type != "source" else f"{self.source_name}.{self.name}"

    def describe(self) -> str:
        """How a node is named in messages: `model demo.orders (models/orders.sql)`."""
        return f"{self.resource_type} {self.unique_id} ({self.original_file_path})"


@dataclass
class Macro:
    """A macro and where it comes from."""

    unique_id: str
    name: str
    package_name: str
    original_file_path: str
    macro_sql: str
    description: str = ""
    arguments: list[dict[str, Any]] = field(default_factory=list)
    depends_on_macros: list[str] = field(default_factory=list)


@dataclass
class Doc:
    """A `{% docs %}` block."""

    unique_id: str
    name: str
    package_name: str
    original_file_path: str
    block_contents: str


@dataclass(eq=False, repr=False)
class Manifest:
    """Every node, source, macro and doc of a project, and the DAG."""

    def __repr__(self) -> str:
        return f"Manifest({self.project_name!r}, {len(self.nodes)} nodes)"

    project_name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    sources: dict[str, Node] = field(default_factory=dict)
    macros: dict[str, Macro] = field(default_factory=dict)
    docs: dict[str, Doc] = field(default_factory=dict)
    disabled: dict[str, Node] = field(default_factory=dict)
    selectors: dict[str, Any] = field(default_factory=dict)
    _parents: dict[str, list[str]] | None = None
    _children: dict[str, list[str]] | None = None

    # -- lookup -------------------------------------------------------------
    def all_nodes(self) -> Iterator[Node]:
        yield from self.nodes.values()
        yield from self.sources.values()

    def get(self, unique_id: str) -> Node:
        node = self.nodes.get(unique_id) or self.sources.get(unique_id)
        if node is None:
            raise KeyError(unique_id)
        return node

    def add(self, node: Node) -> None:
        store = self.sources if node.resource_type == "source" else self.nodes
        if node.unique_id in store:
            other = store[node.unique_id]
            raise DvtError(
                f"dbt found two {node.resource_type}s with the name \"{node.name}\": "
                f"{other.original_file_path} and {node.original_file_path}",
                hint="Rename one of them, or disable one with enabled: false.",
            )
        store[node.unique_id] = node
        self.invalidate()

    def invalidate(self) -> None:
        self._parents = None
        self._children = None

    # -- graph --------------------------------------------------------------
    @property
    def parent_map(self) -> dict[str, list[str]]:
        if self._parents is None:
            self._build_maps()
        assert self._parents is not None
        return self._parents

    @property
    def child_map(self) -> dict[str, list[str]]:
        if self._children is None:
            self._build_maps()
        assert self._children is not None
        return self._children

    def _build_maps(self) -> None:
        parents: dict[str, list[str]] = {}
        children: dict[str, list[str]] = defaultdict(list)
        for node in self.all_nodes():
            parents[node.unique_id] = list(dict.fromkeys(node.depends_on_nodes))
            children.setdefault(node.unique_id, [])
        for uid, ps in parents.items():
            for p in ps:
                children[p].append(uid)
        self._parents = parents
        self._children = dict(children)

    def ancestors(self, unique_id: str, depth: int | None = None) -> set[str]:
        return walk(self.parent_map, [unique_id], depth) - {unique_id}

    def descendants(self, unique_id: str, depth: int | None = None) -> set[str]:
        return walk(self.child_map, [unique_id], depth) - {unique_id}

    def topological_order(self, unique_ids: Iterable[str] | None = None) -> list[str]:
        """Kahn's order over the whole graph (restricted to unique_ids if given).

        A cycle raises an error naming the nodes in it.
        """
        parents = self.parent_map
        wanted = set(parents) if unique_ids is None else set(unique_ids)
        indeg = {u: 0 for u in wanted}
        for u in wanted:
            for p in parents.get(u, ()):
                if p in wanted:
                    indeg[u] += 1
        ready = deque(sorted(u for u, d in indeg.items() if d == 0))
        order: list[str] = []
        children = self.child_map
        while ready:
            u = ready.popleft()
            order.append(u)
            for c in children.get(u, ()):
                if c in indeg:
                    indeg[c] -= 1
                    if indeg[c] == 0:
                        ready.append(c)
        if len(order) != len(wanted):
            raise DvtError(
                "Found a cycle: " + " --> ".join(self.find_cycle(set(wanted) - set(order))),
                hint="Remove one of the ref() calls that close the loop.",
            )
        return order

    def find_cycle(self, among: set[str]) -> list[str]:
        parents = self.parent_map
        start = sorted(among)[0]
        seen: dict[str, int] = {}
        path: list[str] = []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = next(p for p in parents[node] if p in among)
        cycle = path[seen[node]:]
        cycle.reverse()  # report in data-flow order
        return cycle + [cycle[0]]


def walk(edges: Mapping[str, list[str]], starts: Iterable[str], depth: int | None) -> set[str]:
    """Nodes reachable from any of `starts` within `depth` steps (None: any), starts excluded
    unless reached again."""
    seen: set[str] = set()
    frontier = list(starts)
    level = 0
    while frontier and (depth is None or level < depth):
        nxt = []
        for u in frontier:
            for v in edges.get(u, ()):
                if v not in seen:
                    seen.add(v)
                    nxt.append(v)
        frontier = nxt
        level += 1
    return seen
