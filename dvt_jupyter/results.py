"""What `%dvt run/build/test/seed` return: per-node results that behave like data."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from typing import Any

_PASSED = ("success", "pass")


class SqlText(str):
    """Compiled SQL that displays as SQL (not as an escaped Python string)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(frozen=True)
class NodeOutcome:
    name: str
    unique_id: str
    resource_type: str
    status: str
    execution_time: float
    rows_affected: int | None
    failures: int | None
    message: str | None


class RunResults:
    """Results of one command. Truthy iff every node passed; `.to_pandas()` for a table."""

    def __init__(self, command: str, outcomes: list[NodeOutcome], success: bool,
                 elapsed: float = 0.0) -> None:
        self.command = command
        self.outcomes = outcomes
        self.success = success
        self.elapsed = elapsed

    @classmethod
    def from_command(cls, result: Any) -> RunResults:
        outcomes = [
            NodeOutcome(
                name=r.node.name if r.node is not None else _hook_name(r.unique_id),
                unique_id=r.unique_id,
                resource_type=r.node.resource_type if r.node is not None else "hook",
                status=r.status, execution_time=r.execution_time,
                rows_affected=r.rows_affected, failures=r.failures, message=r.message,
            )
            for r in result.results
        ]
        return cls(result.command, outcomes, bool(result.success), result.elapsed)

    # -- counts -----------------------------------------------------------------------
    @property
    def counts(self) -> dict[str, int]:
        c = Counter(o.status for o in self.outcomes)
        return {
            "PASS": c["success"] + c["pass"],
            "WARN": c["warn"],
            "ERROR": c["error"] + c["fail"],
            "SKIP": c["skipped"] + c["cancelled"],
        }

    @property
    def failed(self) -> list[NodeOutcome]:
        return [o for o in self.outcomes if o.status in ("error", "fail")]

    def __bool__(self) -> bool:
        return self.success

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self) -> Any:
        return iter(self.outcomes)

    def __getitem__(self, name: str) -> NodeOutcome:
        for o in self.outcomes:
            if name in (o.name, o.unique_id):
                return o
        raise KeyError(name)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame([o.__dict__ for o in self.outcomes],
                            columns=list(NodeOutcome.__dataclass_fields__))

    # -- display: no timings in text, so notebooks validate under nbval ------------------
    def __repr__(self) -> str:
        body = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"RunResults({body})"

    def _repr_html_(self) -> str:
        # notebook front ends right-align table cells by default; names read left to right
        td = "<td style='text-align:left'>"
        rows = []
        for o in self.outcomes:
            detail = "" if o.status in _PASSED else html.escape(o.message or "")
            rows.append(
                f"<tr class='dvt-{o.status}'>{td}{html.escape(o.name)}</td>"
                f"{td}{o.resource_type}</td>{td}{o.status}</td>"
                f"<td>{'' if o.rows_affected is None else o.rows_affected}</td>"
                f"{td}<pre style='margin:0;white-space:pre-wrap'>{detail}</pre></td></tr>"
            )
        head = "".join(f"<th style='text-align:left'>{h}</th>"
                       for h in ("node", "type", "status", "rows", "message"))
        return (f"<div><b>{html.escape(repr(self))}</b>"
                f"<table><tr>{head}</tr>{''.join(rows)}</table></div>")


def _hook_name(unique_id: str) -> str:
    """operation.demo.demo-on-run-start-0 -> on-run-start.0"""
    tail = unique_id.rsplit(".", 1)[-1]
    for kind in ("on-run-start", "on-run-end"):
        if kind in tail:
            return f"{kind}.{tail.rsplit('-', 1)[-1]}"
    return unique_id
