"""Run graph, progress and previews as ipywidgets, updated from engine events.

nbval never applies display updates, so every widget is displayed once in a fixed
initial state and then changes only through its properties; each has a short stable
text form. Timings live in widget state (SVG tooltips), never in text outputs.
"""

from __future__ import annotations

import hashlib
import html
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dvt_engine.events import Event, NodeFinished, NodeStarted, RunFinished
from dvt_engine.manifest import Manifest

COLORS = {
    "queued": "#d0d7de", "running": "#58a6ff", "success": "#2da44e", "pass": "#2da44e",
    "warn": "#d4a72c", "error": "#cf222e", "fail": "#cf222e", "skipped": "#8c959f",
    "cancelled": "#8c959f",
}
TYPE_COLORS = {"model": "#ddf4ff", "seed": "#dafbe1", "test": "#fff8c5", "snapshot": "#fbefff",
               "source": "#ffebe9", "analysis": "#eaeef2"}
NODE_W, NODE_H, GAP_X, GAP_Y = 170, 26, 40, 10


@dataclass
class GraphLayout:
    """Left-to-right layers: a node's column is the longest path to it from a root."""

    ids: list[str]
    edges: list[tuple[str, str]]
    column: dict[str, int] = field(default_factory=dict)
    row: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: Manifest, ids: list[str]) -> GraphLayout:
        chosen = set(ids)
        order = manifest.topological_order(chosen)
        parents = manifest.parent_map
        edges = [(p, u) for u in order for p in parents.get(u, ()) if p in chosen]
        layout = cls(order, edges)
        for u in order:
            ps = [p for p in parents.get(u, ()) if p in chosen]
            layout.column[u] = 1 + max((layout.column[p] for p in ps), default=-1)
        per_col: dict[int, int] = {}
        for u in order:
            c = layout.column[u]
            layout.row[u] = per_col.get(c, 0)
            per_col[c] = layout.row[u] + 1
        return layout

    def xy(self, uid: str) -> tuple[int, int]:
        return (self.column[uid] * (NODE_W + GAP_X) + 4, self.row[uid] * (NODE_H + GAP_Y) + 4)

    @property
    def size(self) -> tuple[int, int]:
        cols = 1 + max(self.column.values(), default=0)
        rows = 1 + max(self.row.values(), default=0)
        return cols * (NODE_W + GAP_X), rows * (NODE_H + GAP_Y) + 8


def render_svg(layout: GraphLayout, labels: dict[str, str], fills: dict[str, str],
               tips: dict[str, str]) -> str:
    width, height = layout.size
    # ids derived from content: two graphs in one page never collide
    gid = "dvt" + hashlib.md5("|".join(layout.ids).encode()).hexdigest()[:10]
    parts = [f"<svg id='{gid}' xmlns='http://www.w3.org/2000/svg' width='{width}' "
             f"height='{height}' style='font:12px sans-serif'>"]
    for a, b in layout.edges:
        (x1, y1), (x2, y2) = layout.xy(a), layout.xy(b)
        parts.append(f"<line x1='{x1 + NODE_W}' y1='{y1 + NODE_H // 2}' x2='{x2}' "
                     f"y2='{y2 + NODE_H // 2}' stroke='#8c959f'/>")
    for uid in layout.ids:
        x, y = layout.xy(uid)
        label = labels[uid]
        short = label if len(label) <= 24 else label[:22] + "…"
        parts.append(
            f"<g data-node='{html.escape(uid)}'><title>{html.escape(tips.get(uid, label))}</title>"
            f"<rect x='{x}' y='{y}' width='{NODE_W}' height='{NODE_H}' rx='5' "
            f"fill='{fills[uid]}' stroke='#57606a'/>"
            f"<text x='{x + 8}' y='{y + 17}'>{html.escape(short)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


class RunView:
    """A live run: graph coloured by status, a progress bar, then the results."""

    def __init__(self, manifest: Manifest, ids: list[str]) -> None:
        import ipywidgets as w

        self.manifest = manifest
        self.layout = GraphLayout.of(manifest, ids)
        self.labels = {u: manifest.get(u).name for u in self.layout.ids}
        self.status = {u: "queued" for u in self.layout.ids}
        self.tips = {u: f"{self.labels[u]}: queued" for u in self.layout.ids}
        self._lock = threading.Lock()
        self.graph = w.HTML(value=self._svg())
        self.progress = w.IntProgress(value=0, min=0, max=max(1, len(self.layout.ids)),
                                      description="0/" + str(len(self.layout.ids)))
        self.summary = w.HTML(value="")
        self.box = _Box(children=[self.progress, self.graph, self.summary],
                        text=f"RunGraph(nodes={len(self.layout.ids)})")

    def _svg(self) -> str:
        fills = {u: COLORS.get(s, "#d0d7de") for u, s in self.status.items()}
        return render_svg(self.layout, self.labels, fills, self.tips)

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, NodeStarted) and event.unique_id in self.status:
                self.status[event.unique_id] = "running"
                self.tips[event.unique_id] = f"{self.labels[event.unique_id]}: running" + \
                    _where(event.target, event.route)
            elif isinstance(event, NodeFinished) and event.unique_id in self.status:
                self.status[event.unique_id] = event.status
                rows = f", {event.rows_affected} rows" if event.rows_affected is not None else ""
                moved = "".join(f"\n  {i.relation} ({i.connection}): {i.rows} rows via {i.via}"
                                for i in event.inputs)
                self.tips[event.unique_id] = (f"{self.labels[event.unique_id]}: {event.status} "
                                              f"in {event.execution_time:.2f}s{rows}"
                                              f"{_where(event.target, event.route)}{moved}")
                done = sum(1 for s in self.status.values() if s not in ("queued", "running"))
                self.progress.value = done
                self.progress.description = f"{done}/{len(self.status)}"
            elif isinstance(event, RunFinished):
                self.progress.bar_style = "success" if all(
                    s in ("success", "pass", "warn") for s in self.status.values()) else "danger"
                self.summary.value = f"<small>finished in {event.elapsed:.2f}s</small>"
            else:
                return
            self.graph.value = self._svg()


def _where(target: str | None, route: str | None) -> str:
    """' on warehouse (staged)' for a tooltip; '' when neither is known."""
    if target is None:
        return ""
    return f" on {target}" + (f" ({route})" if route and route != "pushdown" else "")


def dag_view(manifest: Manifest, ids: list[str], target_of: dict[str, str]) -> Any:
    """The project DAG without running anything, coloured by resource type."""
    layout = GraphLayout.of(manifest, ids)
    labels = {u: manifest.get(u).name for u in layout.ids}
    fills = {u: TYPE_COLORS.get(manifest.get(u).resource_type, "#eaeef2") for u in layout.ids}
    tips = {u: f"{manifest.get(u).resource_type} {labels[u]} on {target_of.get(u, '?')}"
            for u in layout.ids}
    return _HTML(value=render_svg(layout, labels, fills, tips),
                 text=f"DAG(nodes={len(layout.ids)}, edges={len(layout.edges)})")


def preview_caption(table: Any, limit: int | None) -> str:
    """The line above a preview: row count (and whether the limit cut it) and types."""
    n = table.num_rows
    cut = f", limited to {limit}" if limit is not None and limit >= 0 and n >= limit else ""
    types = ", ".join(f"{f.name} {f.type}" for f in table.schema)
    return f"{n} row{'s' if n != 1 else ''}{cut}: {types}"


@lru_cache(maxsize=1)
def _widget_classes() -> tuple[type, type]:
    import ipywidgets as w

    class Box(w.VBox):  # type: ignore[misc]
        def __init__(self, text: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._text = text

        def __repr__(self) -> str:
            return self._text

    class Html(w.HTML):  # type: ignore[misc]
        def __init__(self, text: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._text = text

        def __repr__(self) -> str:
            return self._text

    return Box, Html


def _Box(**kwargs: Any) -> Any:  # noqa: N802 - a class factory, imported lazily
    return _widget_classes()[0](**kwargs)


def _HTML(**kwargs: Any) -> Any:  # noqa: N802
    return _widget_classes()[1](**kwargs)
