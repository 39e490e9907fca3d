"""parse: read the project, report counts, write target/manifest.json."""

from __future__ import annotations

import time

from dvt_engine.commands.base import announce_found, write_manifest
from dvt_engine.invocation import Invocation
from dvt_engine.results import ParseResult


def run(inv: Invocation) -> ParseResult:
    started = time.perf_counter()
    manifest = inv.view.parse(force=True)
    announce_found(inv)
    write_manifest(inv)
    elapsed = time.perf_counter() - started
    inv.events.log(f"Performance info: {inv.project.target_path}/perf_info.json", "debug")
    return ParseResult("parse", True, elapsed=elapsed, manifest=manifest)
