"""What commands return: one typed result per kind of command.

Every result has `command`, `success` (also its truth value), `exit_code` (dbt's: 0, 1
for node failures, 2 for errors that stop the command, 130 for Ctrl-C), `elapsed` and,
when the command stopped on an error, `error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_engine.reprs import fields_repr
from dvt_engine.runner import NodeResult

if TYPE_CHECKING:
    import pyarrow as pa

    from dvt_engine.errors import DvtError
    from dvt_engine.manifest import Manifest

EXIT_OK, EXIT_FAILURE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(eq=False, repr=False)
class CommandResult:
    """What every command returns."""

    command: str
    success: bool
    exit_code: int = EXIT_OK
    elapsed: float = 0.0
    # node results (hooks included) of commands that run nodes; [] for the others
    results: list[NodeResult] = field(default_factory=list)
    # what stopped the command (a usage, project or compilation error): exit code 2
    error: BaseException | None = None

    def __bool__(self) -> bool:
        return self.success

    def __repr__(self) -> str:
        return fields_repr(self)


@dataclass(eq=False, repr=False)
class RunResult(CommandResult):
    """run, seed, test, build, snapshot, clone, retry, source freshness."""

    @property
    def failed(self) -> list[NodeResult]:
        return [r for r in self.results if r.status in ("error", "fail", "runtime error")]

    def by_name(self) -> dict[str, NodeResult]:
        return {r.node.name: r for r in self.results if r.node is not None}


@dataclass(eq=False, repr=False)
class ShowResult(CommandResult):
    """show: the previewed rows (nothing is materialized)."""

    table: pa.Table | None = None
    node: str | None = None  # the previewed node's name; None for --inline


@dataclass(eq=False, repr=False)
class CompileResult(CommandResult):
    """compile: each compiled node's SQL (unique_id -> SQL), or the inline SQL."""

    compiled: dict[str, str] = field(default_factory=dict)
    inline: str | None = None
    # the nodes dbt prints (named in the first --select argument)
    printed: list[str] = field(default_factory=list)

    @property
    def sql(self) -> str | None:
        """The one SQL a user asked for: the inline query, the printed node, or the only
        compiled node."""
        if self.inline is not None:
            return self.inline
        chosen = self.printed or list(self.compiled)
        return self.compiled[chosen[-1]] if len(chosen) == 1 else None


@dataclass(eq=False, repr=False)
class ListResult(CommandResult):
    """list/ls: the selected nodes (names) and, with --output json, their JSON."""

    names: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # as printed
    entries: list[dict[str, Any]] = field(default_factory=list)  # --output json


@dataclass(eq=False, repr=False)
class ParseResult(CommandResult):
    """parse: the manifest it read."""

    manifest: Manifest | None = None


@dataclass(eq=False, repr=False)
class OperationResult(CommandResult):
    """run-operation: what the macro returned."""

    value: Any = None


@dataclass(eq=False, repr=False)
class InfoResult(CommandResult):
    """debug, sync, docs, init, clean, deps: what the command found or did."""

    details: dict[str, Any] = field(default_factory=dict)


def error_result(command: str, error: DvtError | BaseException) -> CommandResult:
    """The result of a command stopped by an error before or while it ran."""
    return CommandResult(command, False, exit_code=EXIT_ERROR, error=error)
