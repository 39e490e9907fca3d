"""Shared helpers for the benchmarks in bench/ (stdlib only).

Each bench builds its input in a temp dir, then times the reference dbt
(bench/.dbt-venv/bin/dbt, see setup_dbt_venv.sh), DVT (the `dvt` script next to
sys.executable) and, where there is one, a floor measured in-process with duckdb.
Benchmarks print timings; they never assert them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DBT_VENV = BENCH_DIR / ".dbt-venv"


# --------------------------------------------------------------------------- executables


def find_dbt() -> Path | None:
    """The reference dbt: $DVT_BENCH_DBT, else bench/.dbt-venv/bin/dbt; None if absent."""
    override = os.environ.get("DVT_BENCH_DBT")
    cand = Path(override) if override else DBT_VENV / "bin" / "dbt"
    if cand.is_file() and os.access(cand, os.X_OK):
        return cand
    print(
        f"[skip] dbt not found at {cand}: run `bash bench/setup_dbt_venv.sh` "
        "to measure the dbt side",
        flush=True,
    )
    return None


def find_dvt() -> Path | None:
    """`dvt` next to the running interpreter ($DVT_BENCH_DVT overrides); None if absent."""
    override = os.environ.get("DVT_BENCH_DVT")
    cand = Path(override) if override else Path(sys.executable).parent / "dvt"
    if cand.is_file() and os.access(cand, os.X_OK):
        return cand
    print(
        f"[skip] dvt not found at {cand}: install the package (pip install -e .) "
        "into the interpreter that runs this bench",
        flush=True,
    )
    return None


def tool_env() -> dict[str, str]:
    """Environment for dbt/dvt subprocesses: no telemetry, no colors, no version checks."""
    env = dict(os.environ)
    env.update(
        {
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "DBT_USE_COLORS": "false",
            "DBT_VERSION_CHECK": "false",
            "NO_COLOR": "1",
        }
    )
    return env


# --------------------------------------------------------------------------- project files


def make_tempdir(prefix: str, keep: bool = False) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"dvt-bench-{prefix}-"))
    if keep:
        print(f"[keep] inputs kept in {d}")
    return d


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def write_project(
    root: Path,
    name: str,
    db_path: Path,
    project_extra: str = "",
    threads: int = 1,
) -> None:
    """dbt_project.yml + profiles.yml (in the project dir) for a duckdb file at db_path."""
    write_files(
        root,
        {
            "dbt_project.yml": (
                f"name: {name}\n"
                "version: '1.0.0'\n"
                "config-version: 2\n"
                f"profile: {name}\n"
                "model-paths: ['models']\n"
                "seed-paths: ['seeds']\n"
                "test-paths: ['tests']\n"
                "macro-paths: ['macros']\n" + project_extra
            ),
            "profiles.yml": (
                f"{name}:\n"
                "  target: dev\n"
                "  outputs:\n"
                "    dev:\n"
                "      type: duckdb\n"
                f"      path: '{db_path}'\n"
                f"      threads: {threads}\n"
            ),
        },
    )
    for d in ("models", "seeds", "tests", "macros"):
        (root / d).mkdir(exist_ok=True)


def clean_state(project: Path, db_path: Path | None = None) -> None:
    """Remove target/, logs/ and (optionally) the duckdb file so each tool starts cold."""
    for d in ("target", "logs"):
        shutil.rmtree(project / d, ignore_errors=True)
    if db_path is not None:
        for p in (db_path, Path(str(db_path) + ".wal")):
            if p.exists():
                p.unlink()


# --------------------------------------------------------------------------- timing


@dataclass
class Timed:
    label: str
    seconds: float | None  # None: skipped
    ok: bool = True
    note: str = ""
    capped: bool = False


def tail(text: str, n: int = 15) -> str:
    lines = (text or "").rstrip().splitlines()
    return "\n".join(lines[-n:])


def run_timed(
    label: str,
    cmd: Sequence[str | os.PathLike],
    cwd: Path,
    timeout: float | None = None,
) -> Timed:
    """Run cmd in cwd, time it with perf_counter; print the output's last lines on failure."""
    argv = [str(c) for c in cmd]
    print(f"[run] {label}: {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=tool_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(f"[cap] {label}: still running after {timeout:.0f} s, stopped. Last lines:")
        print(tail(out))
        return Timed(label, timeout, ok=False, note=f"> cap ({timeout:.0f} s)", capped=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"[fail] {label}: exit {proc.returncode} after {dt:.2f} s. Last lines:")
        print(tail(proc.stdout))
        if proc.stderr.strip():
            print("--- stderr:")
            print(tail(proc.stderr))
        return Timed(label, dt, ok=False, note=f"FAILED (exit {proc.returncode})")
    return Timed(label, dt)


def time_inprocess(label: str, fn: Callable[[], object]) -> Timed:
    print(f"[run] {label} (in-process)", flush=True)
    t0 = time.perf_counter()
    fn()
    return Timed(label, time.perf_counter() - t0)


def best_of(runs: list[Timed]) -> Timed:
    """The fastest successful run (or the first failure)."""
    bad = [r for r in runs if not r.ok]
    if bad:
        return bad[0]
    return min(runs, key=lambda r: r.seconds or 0.0)


def skipped(label: str, why: str) -> Timed:
    return Timed(label, None, ok=False, note=f"skipped: {why}")


# --------------------------------------------------------------------------- output


def ratio(a: Timed | None, b: Timed | None) -> str:
    """a/b as 'N.NNx', or a reason it can't be given."""
    if a is None or b is None or a.seconds is None or b.seconds is None:
        return "n/a"
    if a.capped:
        return f"> {a.seconds / b.seconds:.2f}x" if b.ok and b.seconds else "n/a"
    if not a.ok or not b.ok or b.seconds <= 0:
        return "n/a"
    return f"{a.seconds / b.seconds:.2f}x"


def fmt_seconds(t: Timed) -> str:
    if t.seconds is None:
        return "-"
    if t.capped:
        return f"> {t.seconds:.0f}"
    return f"{t.seconds:.3f}"


def print_table(title: str, rows: list[list[str]], headers: list[str]) -> None:
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    line = "  ".join("-" * w for w in widths)
    print()
    print(title)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(line)


def timing_rows(results: list[Timed]) -> list[list[str]]:
    return [[r.label, fmt_seconds(r), r.note] for r in results]


def base_args(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the inputs")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the best is reported")
    ap.add_argument("--no-dbt", action="store_true", help="skip the dbt side")
    ap.add_argument("--no-dvt", action="store_true", help="skip the dvt side")
    return ap


def tools(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    dbt = None if args.no_dbt else find_dbt()
    dvt = None if args.no_dvt else find_dvt()
    if dvt is not None:
        byte_compile_dvt()
    return dbt, dvt


def byte_compile_dvt() -> None:
    """Write the .pyc files of an editable dvt install, as `pip install` does for dbt's
    venv and for every non-editable install: without them each `dvt` process compiles
    its own sources again (~45 ms here, where PYTHONDONTWRITEBYTECODE=1 is set)."""
    import compileall
    import importlib.util

    for package in ("dvt_engine", "dvt_jupyter"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            if "site-packages" not in location:  # an editable (source) install
                compileall.compile_dir(location, quiet=1)


def why_skipped(args: argparse.Namespace, tool: str) -> str:
    return f"--no-{tool}" if getattr(args, f"no_{tool}") else "executable not found"


def cleanup(tmp: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
