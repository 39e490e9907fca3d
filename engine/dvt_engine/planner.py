"""The execution path of each node, decided before anything runs (DESIGN §3 step 4, §6).

A node runs on its *target* (config `target`, else the run's default target). It is
`pushdown` when every relation it reads (through ref/source, and through ephemeral models,
which are inlined) lives on that target's connection; otherwise it is `federation`, and the
relations on other connections are its foreign inputs.

Two outputs are the same connection when they are the same output, or when their type and
location are equal (host/port/database, or the DuckDB file): two outputs that differ only
in schema reach the same relations.

Everything here is pure: the Manifest and the profile's outputs in, plans out. `list`,
`compile` and manifest.json show the plans; `run`/`build` act on them; federation (the
`federation/` package) consumes the foreign inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvt_engine.errors import DvtError
from dvt_engine.manifest import Manifest, Node
from dvt_engine.project.profiles import Output

PUSHDOWN, FEDERATION = "pushdown", "federation"

# ports a driver uses when the profile names none: `port: 5432` and no port are equal
_DEFAULT_PORTS = {"postgres": 5432, "redshift": 5439, "sqlserver": 1433, "mysql": 3306}


@dataclass(frozen=True)
class ForeignInput:
    """A relation a node reads from a connection other than its target's."""

    unique_id: str
    connection: str  # the profile output it lives on
    relation_name: str  # rendered for that connection (its quoting and database)

    def to_json(self) -> dict[str, str]:
        return {"unique_id": self.unique_id, "connection": self.connection,
                "relation_name": self.relation_name}


@dataclass(frozen=True)
class ExecutionPlan:
    """A node's route (pushdown or federation), target and foreign inputs."""

    path: str  # PUSHDOWN | FEDERATION
    target: str  # the profile output the node runs on
    foreign_inputs: tuple[ForeignInput, ...] = ()

    @property
    def is_federated(self) -> bool:
        return self.path == FEDERATION

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "target": self.target,
                "foreign_inputs": [f.to_json() for f in self.foreign_inputs]}


class FederationUnavailable(DvtError):
    kind = "Federation Error"


# -- connections ---------------------------------------------------------------------


def home_output(node: Node, default_target: str) -> str:
    """The output a node lives on: a source's connection, anything else's target."""
    name = node.config.get("connection") if node.resource_type == "source" else node.target
    return str(name) if name else default_target


def connection_key(output: Output, project_dir: Path) -> tuple[Any, ...]:
    """What makes two outputs reach the same relations (schema is deliberately absent)."""
    s = output.settings
    if output.type in ("duckdb", "sqlite"):
        # the file, as the adapters read it (`database:` is a catalog name, not a file)
        raw = str(s.get("path") or (s.get("schemas_and_paths") or {}).get("main") or
                  ":memory:")
        if raw.startswith(":memory:"):
            return (output.type, raw, output.name)  # each in-memory output is its own db
        if raw.startswith("md:"):
            return (output.type, raw)
        p = Path(raw).expanduser()
        return (output.type, str((p if p.is_absolute() else project_dir / p).resolve()))
    host = s.get("host") or s.get("server") or s.get("account")
    port = s.get("port") or _DEFAULT_PORTS.get(output.type)
    database = s.get("database") or s.get("dbname") or s.get("catalog")
    return (output.type, str(host or "").lower(), str(port or ""), str(database or ""),
            str(s.get("http_path") or ""))


def same_connection(a: Output, b: Output, project_dir: Path) -> bool:
    return a.name == b.name or connection_key(a, project_dir) == connection_key(b, project_dir)


# -- inputs ----------------------------------------------------------------------------


def read_inputs(manifest: Manifest, node: Node) -> list[Node]:
    """The relations a node reads: its parents, with ephemeral models replaced by what
    they read (they are inlined as CTEs, so their own target does not matter)."""
    out: dict[str, Node] = {}
    seen: set[str] = set()
    stack = list(reversed(node.depends_on_nodes))
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        parent = manifest.nodes.get(uid) or manifest.sources.get(uid)
        if parent is None:
            continue
        if parent.is_ephemeral:
            stack.extend(reversed(parent.depends_on_nodes))
        else:
            out[uid] = parent
    return list(out.values())


def _default_relation_name(node: Node) -> str:
    ident = node.identifier if node.resource_type == "source" else (node.alias or node.name)
    quoting = node.quoting if node.resource_type == "source" else {}
    parts = [(part, value) for part, value in
             (("database", node.database), ("schema", node.schema), ("identifier", ident))
             if value]
    return ".".join(f'"{v}"' if quoting.get(p, True) else str(v) for p, v in parts)


# -- planning --------------------------------------------------------------------------


def plan_node(manifest: Manifest, node: Node, outputs: Mapping[str, Output],
              default_target: str, project_dir: Path,
              relation_of: Callable[[Node], str] | None = None,
              _keys: ConnectionKeys | None = None) -> ExecutionPlan:
    target = home_output(node, default_target)
    if node.resource_type == "seed":
        return ExecutionPlan(PUSHDOWN, target)  # reads a file, not a relation
    keys = _keys if _keys is not None else ConnectionKeys(outputs, project_dir)
    if node.resource_type == "test" and not node.target:
        target = _test_home(manifest, node, default_target, keys) or target
    render = relation_of or _default_relation_name
    foreign: list[ForeignInput] = []
    for parent in read_inputs(manifest, node):
        home = home_output(parent, default_target)
        if home == target or keys.same(home, target):
            continue
        foreign.append(ForeignInput(parent.unique_id, home, render(parent)))
    if foreign:
        return ExecutionPlan(FEDERATION, target, tuple(foreign))
    return ExecutionPlan(PUSHDOWN, target)


def _test_home(manifest: Manifest, node: Node, default_target: str,
               keys: ConnectionKeys) -> str | None:
    """A test without a target runs where what it reads lives (a singular test on a
    PostgreSQL model runs on PostgreSQL); None when its inputs span connections."""
    homes = {home_output(p, default_target) for p in read_inputs(manifest, node)}
    if not homes:
        return None
    # the default target when it is one of the homes, else a stable choice
    first = default_target if default_target in homes else sorted(homes)[0]
    if all(h == first or keys.same(h, first) for h in homes):
        return first
    return None


class ConnectionKeys:
    """Each output's connection_key, computed the first time a plan compares it: reading
    an output renders it (Profile.outputs), and an output no node uses must not need
    its env vars."""

    def __init__(self, outputs: Mapping[str, Output], project_dir: Path) -> None:
        self._outputs = outputs
        self._project_dir = project_dir
        self._keys: dict[str, tuple[Any, ...]] = {}

    def same(self, a: str, b: str) -> bool:
        """Whether two defined outputs reach the same relations (an undefined name
        matches nothing)."""
        return a in self._outputs and b in self._outputs and self._key(a) == self._key(b)

    def _key(self, name: str) -> tuple[Any, ...]:
        if name not in self._keys:  # once: DuckDB paths are resolved
            self._keys[name] = connection_key(self._outputs[name], self._project_dir)
        return self._keys[name]


def plan_nodes(manifest: Manifest, outputs: Mapping[str, Output], default_target: str,
               project_dir: Path, unique_ids: Iterable[str] | None = None,
               relation_of: Callable[[Node], str] | None = None) -> dict[str, ExecutionPlan]:
    """A plan for each node (all of manifest.nodes by default; sources have none)."""
    ids = manifest.nodes.keys() if unique_ids is None else unique_ids
    keys = ConnectionKeys(outputs, project_dir)  # shared by the nodes' plans
    plans = {}
    for uid in ids:
        node = manifest.nodes.get(uid)
        if node is not None:
            plans[uid] = plan_node(manifest, node, outputs, default_target, project_dir,
                                   relation_of, keys)
    return plans


# -- words -----------------------------------------------------------------------------


def _input_label(manifest: Manifest, unique_id: str) -> str:
    node = manifest.nodes.get(unique_id) or manifest.sources.get(unique_id)
    if node is None:
        return unique_id
    return f"{node.resource_type} {node.search_name}"


def describe(manifest: Manifest, node: Node, plan: ExecutionPlan) -> str:
    """The line `compile` prints: `model x: pushdown on pg` or
    `model x: federation -> pg; foreign inputs: source a.b (crm)`."""
    head = f"{node.resource_type} {node.name}"
    if not plan.is_federated:
        return f"{head}: pushdown on {plan.target}"
    inputs = ", ".join(f"{_input_label(manifest, f.unique_id)} ({f.connection})"
                       for f in plan.foreign_inputs)
    return f"{head}: federation -> {plan.target}; foreign inputs: {inputs}"


def federation_unavailable(manifest: Manifest, node: Node, plan: ExecutionPlan
                           ) -> FederationUnavailable:
    """The error a federated node fails with until the federation engine is available."""
    reads = " and ".join(f"{_input_label(manifest, f.unique_id)} on connection "
                         f"'{f.connection}'" for f in plan.foreign_inputs)
    homes = sorted({f.connection for f in plan.foreign_inputs})
    return FederationUnavailable(
        f"{node.resource_type} {node.name} reads {reads} but runs on target "
        f"'{plan.target}': federation is not available yet",
        node=node.unique_id, path=node.original_file_path,
        hint=(f"Run it where its inputs live (config(target='{homes[0]}')) or bring the "
              f"inputs to '{plan.target}'; `dvt ls -s {node.name} --output json` shows "
              "the plan."),
    )
