"""parse: read the project, report counts, write target/manifest.json."""

from __future__ import annotations

import argparse
import time

from dvt_engine.session import Session
from dvt_engine.tasks.base import CommandResult, found_line, write_manifest


def run(session: Session, args: argparse.Namespace) -> CommandResult:
    started = time.perf_counter()
    manifest = session.parse(force=True)
    session.events.log(found_line(manifest))
    write_manifest(session)
    elapsed = time.perf_counter() - started
    session.events.log(f"Performance info: {session.project.target_path}/perf_info.json", "debug")
    return CommandResult("parse", True, data=manifest, elapsed=elapsed)
