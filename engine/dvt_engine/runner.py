"""Executes nodes over the DAG with N threads, skipping what depends on a failure.

The runner knows the graph and the order, not what a node does: the task hands it an
`execute(node) -> NodeResult` function and a `describe(node)` for the log lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_engine.events import EventBus, InputMoved, NodeFinished, NodeStarted
from dvt_engine.interrupts import on_sigint
from dvt_engine.manifest import Manifest, Node
from dvt_engine.reprs import fields_repr

if TYPE_CHECKING:
    from concurrent.futures import Future

# after an interrupt, how often running statements are cancelled again until they end
_RECANCEL_S = 0.2
# statuses that stop a node's descendants from running
FAILED = frozenset({"error", "fail", "skipped", "cancelled"})


@dataclass(eq=False, repr=False)
class NodeResult:
    """One node's outcome, as run_results.json records it."""

    __repr__ = fields_repr

    unique_id: str
    status: str  # success | error | skipped | pass | fail | warn | cancelled
    message: str | None = None
    execution_time: float = 0.0
    rows_affected: int | None = None
    failures: int | None = None
    adapter_response: dict[str, Any] = field(default_factory=dict)
    compiled_code: str | None = None
    relation_name: str | None = None
    timing: list[dict[str, Any]] = field(default_factory=list)
    thread_id: str = ""
    error: str | None = None  # the full error text (file, line, hint)
    node: Node | None = None
    data: Any = None  # e.g. the preview table of `seed --show`
    target: str | None = None  # the output it ran on
    route: str | None = None  # pushdown | staged | spark
    inputs: tuple[InputMoved, ...] = ()  # how a federated node's inputs moved


Execute = Callable[[Node], NodeResult]
Describe = Callable[[Node], str]
# a node's planned target and route, for NodeStarted (None: not known before it runs)
Planned = Callable[[Node], tuple[str | None, str | None]]


class Runner:
    def __init__(self, manifest: Manifest, events: EventBus, *, threads: int = 1,
                 fail_fast: bool = False, on_cancel: Callable[[], None] | None = None) -> None:
        self.manifest = manifest
        self.events = events
        self.threads = max(1, threads)
        self.fail_fast = fail_fast
        self.on_cancel = on_cancel  # stops running statements (adapters' cancel)
        self.interrupted = False
        self._cancel = threading.Event()
        self._finished = threading.Event()  # run() has returned
        self._watcher: threading.Thread | None = None
        self._watcher_lock = threading.Lock()

    def cancel(self) -> None:
        self._cancel.set()

    def interrupt(self) -> None:
        """Ctrl-C: stop running statements; nodes not finished are marked cancelled."""
        self.interrupted = True
        self._cancel.set()
        if self.on_cancel is not None:
            self.on_cancel()
            self._keep_cancelling()

    def _keep_cancelling(self) -> None:
        """A statement that starts just after the interrupt never saw it: cancel again
        every _RECANCEL_S until the run ends (in a thread: the running node may hold the
        caller's thread)."""
        with self._watcher_lock:
            if self._watcher is not None or self._finished.is_set():
                return
            self._watcher = threading.Thread(target=self._recancel, name="dvt-cancel",
                                             daemon=True)
            self._watcher.start()

    def _recancel(self) -> None:
        while not self._finished.wait(_RECANCEL_S):
            if self.on_cancel is not None:
                self.on_cancel()

    # -- graph ------------------------------------------------------------------------
    def dependencies(self, selected: list[str], extra_edges: dict[str, set[str]] | None = None
                     ) -> dict[str, set[str]]:
        """For each selected node: the selected nodes it must wait for.

        Unselected nodes in between are looked through, so A -> x -> C still orders C
        after A when only A and C are selected.
        """
        chosen = set(selected)
        parents = self.manifest.parent_map
        memo: dict[str, set[str]] = {}

        def nearest(uid: str) -> set[str]:
            if uid in memo:
                return memo[uid]
            memo[uid] = set()  # guards against cycles through unselected nodes
            out: set[str] = set()
            for p in parents.get(uid, ()):
                if p in chosen:
                    out.add(p)
                else:
                    out |= nearest(p)
            memo[uid] = out
            return out

        deps = {}
        for uid in selected:
            own: set[str] = set()
            for p in parents.get(uid, ()):
                own |= {p} if p in chosen else nearest(p)
            deps[uid] = own
        for uid, more in (extra_edges or {}).items():
            if uid in deps:
                deps[uid] |= more & chosen
        return deps

    # -- execution ----------------------------------------------------------------------
    def run(self, selected: list[str], execute: Execute, describe: Describe,
            extra_edges: dict[str, set[str]] | None = None,
            planned: Planned | None = None) -> list[NodeResult]:
        try:
            if self.on_cancel is None:
                return self._run(selected, execute, describe, extra_edges, planned)
            # Ctrl-C cancels a statement running in this thread at once, not when its
            # driver next looks for signals (sqlite3 never does)
            with on_sigint(self.interrupt):
                return self._run(selected, execute, describe, extra_edges, planned)
        finally:
            self._finished.set()
            with self._watcher_lock:
                watcher = self._watcher
            if watcher is not None:
                watcher.join()  # no cancel may land on what runs after (on-run-end hooks)

    def _run(self, selected: list[str], execute: Execute, describe: Describe,
             extra_edges: dict[str, set[str]] | None, planned: Planned | None
             ) -> list[NodeResult]:
        order = self.manifest.topological_order(selected)
        deps = self.dependencies(order, extra_edges)
        children: dict[str, list[str]] = {u: [] for u in order}
        for u, ps in deps.items():
            for p in ps:
                children[p].append(u)
        position = {u: i for i, u in enumerate(order)}
        remaining = {u: len(deps[u]) for u in order}
        ready = [u for u in order if remaining[u] == 0]
        results: dict[str, NodeResult] = {}
        total = len(order)
        counter = [0]
        lock = threading.Lock()
        failed_ancestor: dict[str, str] = {}

        def start_index() -> int:
            with lock:
                counter[0] += 1
                return counter[0]

        def run_one(uid: str) -> NodeResult:
            node = self.manifest.get(uid)
            index = start_index()
            desc = describe(node)
            target, route = planned(node) if planned is not None else (None, None)
            if self._cancel.is_set():
                result = NodeResult(uid, "cancelled", "cancelled", node=node)
            elif uid in failed_ancestor:
                result = NodeResult(uid, "skipped", f"skipped: {failed_ancestor[uid]} failed",
                                    node=node)
            else:
                self.events.emit(NodeStarted(unique_id=uid, index=index, total=total,
                                             description=desc,
                                             resource_type=node.resource_type,
                                             target=target, route=route))
                started = time.perf_counter()
                try:
                    result = execute(node)
                except KeyboardInterrupt:
                    self.interrupt()
                    result = NodeResult(uid, "cancelled", "cancelled (ctrl-c)")
                except Exception as exc:  # a bug or an unexpected driver error: fail the node
                    result = NodeResult(uid, "error", str(exc), error=str(exc))
                if self.interrupted and result.status == "error":
                    result.status, result.message = "cancelled", "cancelled (ctrl-c)"
                result.execution_time = time.perf_counter() - started
                result.node = node
            result.thread_id = threading.current_thread().name.replace("MainThread", "Thread-1")
            self.events.emit(NodeFinished(
                unique_id=uid, index=index, total=total, status=result.status,
                description=desc, message=result.message,
                execution_time=result.execution_time, rows_affected=result.rows_affected,
                failures=result.failures, resource_type=node.resource_type,
                error=result.error, target=result.target or target,
                route=result.route or (route if result.status != "skipped" else None),
                inputs=tuple(result.inputs),
            ))
            return result

        def finish(uid: str, result: NodeResult) -> None:
            results[uid] = result
            if result.status in ("error", "fail") and self.fail_fast:
                self._cancel.set()
            if result.status in FAILED:
                reason = failed_ancestor.get(uid, self.manifest.get(uid).name)
                for child in children[uid]:
                    failed_ancestor.setdefault(child, reason)
            for child in children[uid]:
                remaining[child] -= 1
                if remaining[child] == 0:
                    ready.append(child)

        if self.threads == 1:
            # in the caller's thread: no hand-offs, and Ctrl-C lands where it is handled
            while ready:
                ready.sort(key=position.__getitem__)
                uid = ready.pop(0)
                try:
                    result = run_one(uid)
                except KeyboardInterrupt:  # between statements: the node did not finish
                    self.interrupt()
                    result = NodeResult(uid, "cancelled", "cancelled (ctrl-c)",
                                        node=self.manifest.get(uid))
                finish(uid, result)
        else:
            self._run_pool(ready, position, run_one, finish)
        missing = [u for u in order if u not in results]
        if missing:  # a dependency cycle among the selected nodes: never drop them silently
            raise RuntimeError(f"internal error: {len(missing)} nodes never became ready: "
                               + ", ".join(missing[:5]))
        return [results[u] for u in order if u in results]

    def _run_pool(self, ready: list[str], position: dict[str, int],
                  run_one: Callable[[str], NodeResult],
                  finish: Callable[[str, NodeResult], None]) -> None:
        # imported here: concurrent.futures pulls in logging (~4 ms), a one-thread run needs neither
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="Thread") as pool:
            running: dict[Future[NodeResult], str] = {}
            while ready or running:
                ready.sort(key=position.__getitem__)
                while ready and len(running) < self.threads:
                    uid = ready.pop(0)
                    running[pool.submit(run_one, uid)] = uid
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    self.interrupt()  # running statements fail fast; queued ones are skipped
                    continue
                for fut in done:
                    uid = running.pop(fut)
                    finish(uid, fut.result())

