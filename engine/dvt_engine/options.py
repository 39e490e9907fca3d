"""One frozen options object per invocation.

Built by the CLI's parser (`cli.parse_options`) or from Python (`Options(command="run",
select=("orders+",))`, or a Session's typed methods). A command reads its options and
nothing else: nothing one command sets is seen by the next.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# commands that walk the DAG and build (their results are node results)
BUILD_COMMANDS = ("run", "seed", "test", "build", "snapshot")


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A selection argument as a tuple: 'a b' stays one spec, as a CLI word would."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass(frozen=True, eq=False, repr=False)  # eq and repr by hand: import time
class Options:
    """Everything one command is asked to do. Fields a command does not use are ignored.

    Flat, as dbt's flags are: run_results.json records them as `args` and `retry` reads
    them back (`Options.from_recorded`).
    """

    command: str
    # -- where: the project, the profile, the default target, vars
    project_dir: str | None = None
    profiles_dir: str | None = None
    target: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    threads: int | None = None
    # -- what: dbt's selection
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    selector: str | None = None
    resource_types: tuple[str, ...] = ()
    indirect_selection: str | None = None
    # -- how to build
    full_refresh: bool = False
    fail_fast: bool = False
    empty: bool = False
    store_failures: bool = False
    warn_error: bool = False
    state: str | None = None
    defer: bool = False
    favor_state: bool = False
    # -- output
    debug: bool = False
    quiet: bool = False
    log_format: str = "text"
    log_path: str | None = None
    output: str | None = None  # ls: name|path|json|selector; show/compile: text|json
    output_keys: tuple[str, ...] = ()
    raise_on_failure: bool = False
    # -- command specific
    show: bool = False  # seed --show
    inline: str | None = None  # show/compile --inline
    limit: int | None = 5  # show --limit (negative: no limit)
    macro: str | None = None  # run-operation
    macro_args: Mapping[str, Any] = field(default_factory=dict)
    action: str | None = None  # docs generate|serve, source freshness
    no_compile: bool = False
    static: bool = False
    port: int = 8080
    host: str = "127.0.0.1"
    no_browser: bool = False
    config_dir: bool = False  # debug --config-dir
    connection: bool = False  # debug --connection
    all_targets: bool = False  # debug --all-targets: every output, not only the target
    project_name: str | None = None  # init
    skip_profile_setup: bool = False
    dry_run: bool = False  # sync

    def __post_init__(self) -> None:
        # tuples and private dicts: an Options never changes after it is made
        for name in ("select", "exclude", "resource_types", "output_keys"):
            object.__setattr__(self, name, _names(getattr(self, name)))
        object.__setattr__(self, "vars", dict(self.vars or {}))
        object.__setattr__(self, "macro_args", dict(self.macro_args or {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # vars and args are dicts

    def __repr__(self) -> str:
        # what was asked, not 45 defaults
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if f.name == "command" or getattr(self, f.name) != _DEFAULTS.get(f.name)]
        return f"Options({', '.join(changed)})"

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)

    def unsupported(self) -> list[str]:
        """Flags given that DVT does not act on yet (said aloud, never ignored quietly)."""
        flags = [("--defer", self.defer), ("--favor-state", self.favor_state),
                 ("--empty", self.empty),
                 ("--state", self.state is not None and self.command != "clone")]
        return [flag for flag, given in flags if given]

    @property
    def has_selection(self) -> bool:
        return bool(self.select or self.exclude or self.selector)

    # -- run_results.json `args` ------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """dbt's `args` block: the flags by name, `which` the command."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            out[_RECORDED_AS.get(f.name, f.name)] = value
        out["which"] = self.command
        return out

    @classmethod
    def from_recorded(cls, recorded: Mapping[str, Any]) -> Options:
        """Options from a recorded `args` block (ours, or dbt's: unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        by_field = {_RECORDED_FROM.get(k, k): v for k, v in recorded.items()}
        kwargs = {k: v for k, v in by_field.items() if k in known and k != "command"}
        for key in ("select", "exclude", "resource_types", "output_keys"):
            if kwargs.get(key) is None:
                kwargs.pop(key, None)
        command = str(recorded.get("which") or recorded.get("command") or "")
        return cls(command=command, **kwargs)


# names dbt records (and retry reads) that differ from the field names
_RECORDED_AS = {"resource_types": "resource_type", "macro_args": "args"}
_RECORDED_FROM = {v: k for k, v in _RECORDED_AS.items()}


_DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
             else f.default) for f in fields(Options)}
