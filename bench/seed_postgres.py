"""Bench: `dvt seed` into PostgreSQL vs the floor `psql \\copy` on three 1,046,572-row CSVs.

The files look like the trial plan's transactions (id, customer_id, pack_id, amount
numeric(12,2), txn_date date, created_at timestamp, channel text). A throwaway PostgreSQL
server is started for the run (tests/integration/pgserver.py; needs initdb/pg_ctl/psql).
The floor pre-creates each table and runs `psql -c "\\copy t from 'file' csv header"`, one
file after the other. dvt runs cold (tables absent: infer types, create, COPY) and again
with the tables in place (truncate + COPY). dbt-postgres 1.10 is timed only if
bench/.dbt-venv has it (bash bench/setup_dbt_venv.sh): it seeds the first --dbt-files files
(default 1) into its own database and schema of the same server, capped at --dbt-cap
seconds (default 600; on timeout its whole process group is killed and "> cap" reported).
When dbt gets fewer files than the others, nothing is extrapolated: per-file seconds
(total / files that tool loaded) are printed for every tool, and dbt/dvt is also given
against a dvt run on the same files. Benchmarks print timings; they never assert them.

Run: .venv/bin/python bench/seed_postgres.py [--rows N] [--files N] [--repeat N] [--keep]
         [--dbt-cap SECONDS] [--dbt-files N] [--threads N] [--no-dbt] [--no-dvt]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import _common as c  # noqa: E402

try:
    import duckdb
    import psycopg
except ImportError:  # pragma: no cover
    print("this bench needs duckdb and psycopg: run it with the project's .venv/bin/python "
          "after `pip install -e '.[postgres]'`")
    sys.exit(2)

from tests.integration.pgserver import PgServer, ServerUnavailable, start_server  # noqa: E402

ROWS = 1_046_572
DVT_DB, DVT_SCHEMA = "bench", "bench"
# dbt gets its own database and schema: a capped (killed) dbt run leaves nothing in dvt's way
DBT_DB, DBT_SCHEMA, DBT_TARGET = "bench_dbt", "bench_dbt", "dbt"
COLUMNS = ("id integer, customer_id integer, pack_id integer, amount numeric(12,2), "
           "txn_date date, created_at timestamp without time zone, channel text")


def generate_csv(path: Path, rows: int, seed: int) -> None:
    """Deterministic pseudo-random transactions, written by DuckDB (fast, nothing committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""
        copy (
          select
            i::integer + 1                                                 as id,
            (hash(i + {seed}) % 50000)::integer + 1                        as customer_id,
            (hash(i * 7 + {seed}) % 40)::integer + 1                       as pack_id,
            ((hash(i * 11 + {seed}) % 5000000) / 100.0)::decimal(12, 2)    as amount,
            date '2023-01-01' + (hash(i * 13 + {seed}) % 730)::integer     as txn_date,
            timestamp '2023-01-01 00:00:00'
              + to_seconds((hash(i * 17 + {seed}) % 63072000)::bigint)     as created_at,
            (['web', 'app', 'store', 'partner'])[(hash(i * 3 + {seed}) % 4)::integer + 1]
                                                                           as channel
          from range({rows}) as t(i)
        ) to '{path}' (header, delimiter ',')
    """)
    con.close()


def _output(server: PgServer, name: str, dbname: str, schema: str, threads: int) -> str:
    # the server trusts loopback: the password is never checked (and never a real one)
    return (f"    {name}:\n      type: postgres\n      host: {server.host}\n"
            f"      port: {server.port}\n      user: {server.user}\n"
            "      password: unused\n"
            f"      dbname: {dbname}\n      schema: {schema}\n"
            f"      threads: {threads}\n")


def write_project(root: Path, server: PgServer, names: list[str], threads: int) -> None:
    """One project for both tools: target `dev` (dvt) and target `dbt` (dbt-postgres)."""
    types = "\n".join(f"      {n}:\n        +column_types: {{amount: 'numeric(12,2)'}}"
                      for n in names)
    c.write_files(root, {
        "dbt_project.yml": ("name: bench_pg\nversion: '1.0.0'\nconfig-version: 2\n"
                            "profile: bench_pg\nseed-paths: ['seeds']\n"
                            f"seeds:\n  bench_pg:\n{types}\n"),
        "profiles.yml": ("bench_pg:\n  target: dev\n  outputs:\n"
                         + _output(server, "dev", DVT_DB, DVT_SCHEMA, threads)
                         + _output(server, DBT_TARGET, DBT_DB, DBT_SCHEMA, threads)),
    })


def reset_schema(server: PgServer, dbname: str, schema: str = DVT_SCHEMA) -> None:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade".encode())
        conn.execute(f"create schema {schema}".encode())


def row_counts(server: PgServer, dbname: str, names: list[str],
               schema: str = DVT_SCHEMA) -> list[int]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        return [conn.execute(f"select count(*) from {schema}.{n}".encode()).fetchone()[0]
                for n in names]


def terminate_backends(server: PgServer, dbname: str) -> None:
    """Stop server-side work of a killed client: its INSERT would go on loading the server."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                     "where datname = %s and pid <> pg_backend_pid()", (dbname,))


def run_capped(label: str, cmd: list[str], cwd: Path, cap: float) -> c.Timed:
    """Like c.run_timed, but on timeout kill the whole process group (dbt and anything it
    started), not only the direct child that subprocess.run(timeout=...) kills."""
    print(f"[run] {label}: {' '.join(cmd)} (cap {cap:.0f} s)", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=c.tool_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, id = pid
    try:
        out, _ = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        out = _kill_group(proc)
        print(f"[cap] {label}: still running after {cap:.0f} s, process group killed. "
              "Last lines:")
        print(c.tail(out))
        return c.Timed(label, cap, ok=False, note=f"> cap ({cap:.0f} s)", capped=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"[fail] {label}: exit {proc.returncode} after {dt:.2f} s. Last lines:")
        print(c.tail(out))
        return c.Timed(label, dt, ok=False, note=f"FAILED (exit {proc.returncode})")
    return c.Timed(label, dt)


def _kill_group(proc: subprocess.Popen[str]) -> str:
    """SIGTERM the group, SIGKILL it after 10 s; return what it printed."""
    out = ""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(proc.pid, sig)
        try:
            out = proc.communicate(timeout=grace)[0] or ""
            break
        except subprocess.TimeoutExpired:
            continue
    # a straggler that closed its stdout would outlive the leader: it goes too
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return out


def floor_load(server: PgServer, dbname: str, files: list[Path], psql: str) -> None:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        for f in files:
            conn.execute(f"create table bench.{f.stem} ({COLUMNS})".encode())
    for f in files:
        subprocess.run([psql, "-X", "-q", "-h", server.host, "-p", str(server.port), "-U",
                        server.user, "-d", dbname, "-v", "ON_ERROR_STOP=1", "-c",
                        f"\\copy bench.{f.stem} from '{f}' csv header"], check=True)


def dbt_postgres() -> Path | None:
    dbt = c.DBT_VENV / "bin" / "dbt"
    py = c.DBT_VENV / "bin" / "python"
    if dbt.exists() and py.exists() and subprocess.run(
            [str(py), "-c", "import dbt.adapters.postgres"], capture_output=True).returncode == 0:
        return dbt
    print(f"[skip] dbt-postgres is not installed in {c.DBT_VENV}: the dbt side is not measured")
    return None


def main() -> int:
    ap = c.base_args(__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for dvt and dbt (seeds in parallel)")
    ap.add_argument("--dbt-cap", type=float, default=600.0, metavar="SECONDS",
                    help="stop dbt after this many seconds and report '> cap' (default 600)")
    ap.add_argument("--dbt-files", type=int, default=1, metavar="N",
                    help="give dbt only the first N files (default 1; keeps the run bounded)")
    args = ap.parse_args()
    args.dbt_files = max(1, min(args.dbt_files, args.files))
    dvt = None if args.no_dvt else c.find_dvt()
    dbt = None if args.no_dbt else dbt_postgres()
    psql = shutil.which("psql")
    if psql is None:
        print("[skip] psql not found: install Debian's postgresql-client")
        return 2
    try:
        server = start_server("dvt-bench-pg-")
    except ServerUnavailable as exc:
        print(f"[skip] {exc}")
        return 2
    tmp = c.make_tempdir("seed-pg", args.keep)
    try:
        return _bench(args, server, tmp, dvt, dbt, psql)
    finally:
        server.stop()
        c.cleanup(tmp, args.keep)


def _bench(args: argparse.Namespace, server: PgServer, tmp: Path, dvt: Path | None,
           dbt: Path | None, psql: str) -> int:
    proj = tmp / "project"
    names = [f"transactions_{i + 1}" for i in range(args.files)]
    files = [proj / "seeds" / f"{n}.csv" for n in names]
    for i, f in enumerate(files):
        generate_csv(f, args.rows, seed=i * 1000)
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"generated {len(files)} files, {args.rows:,} rows each, {size_mb:.1f} MB in all")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {DVT_DB}".encode())
        conn.execute(f"create database {DBT_DB}".encode())
    write_project(proj, server, names, args.threads)
    dbt_names = names[:args.dbt_files]

    def check(t: c.Timed, dbname: str = DVT_DB, schema: str = DVT_SCHEMA,
              loaded: list[str] = names) -> c.Timed:
        expected = [args.rows] * len(loaded)
        if t.ok and (got := row_counts(server, dbname, loaded, schema)) != expected:
            t.ok, t.note = False, f"row counts {got} != {expected}"
        return t

    floor_runs = []
    for _ in range(args.repeat):
        reset_schema(server, DVT_DB)
        floor_runs.append(check(c.time_inprocess(
            "floor: psql \\copy (tables pre-created)",
            lambda: floor_load(server, DVT_DB, files, psql))))
    r_floor = c.best_of(floor_runs)

    def dvt_seed(label: str, cold: bool, select: list[str]) -> c.Timed:
        if dvt is None:
            return c.skipped(label, c.why_skipped(args, "dvt"))
        extra = ["--select", *select] if select else []
        runs = []
        for _ in range(args.repeat):
            if cold:
                reset_schema(server, DVT_DB)
            c.clean_state(proj)
            cmd = [dvt, "seed", "--profiles-dir", proj, "--project-dir", proj, *extra]
            runs.append(check(c.run_timed(label, cmd, cwd=proj, timeout=900),
                              loaded=select or names))
            if not runs[-1].ok:
                break
        return c.best_of(runs)

    def dbt_seed(label: str) -> c.Timed:
        if dbt is None:
            why = "--no-dbt" if args.no_dbt else "dbt-postgres not in bench/.dbt-venv"
            return c.skipped(label, why)
        runs = []
        for _ in range(args.repeat):
            reset_schema(server, DBT_DB, DBT_SCHEMA)
            c.clean_state(proj)
            cmd = [str(x) for x in (dbt, "seed", "--profiles-dir", proj, "--project-dir",
                                    proj, "--target", DBT_TARGET, "--select", *dbt_names)]
            t = run_capped(label, cmd, proj, args.dbt_cap)
            if t.capped:
                terminate_backends(server, DBT_DB)
            runs.append(check(t, DBT_DB, DBT_SCHEMA, dbt_names))
            if not runs[-1].ok:
                break
        return c.best_of(runs)

    n_all, n_dbt = len(files), len(dbt_names)
    partial = n_dbt < n_all
    r_cold = dvt_seed(f"dvt seed (cold: create + COPY), {n_all} files", True, [])
    r_warm = dvt_seed(f"dvt seed (again: truncate + COPY), {n_all} files", False, [])
    # like for like with dbt: dvt on exactly the files dbt gets (only when they differ)
    r_same = (dvt_seed(f"dvt seed (cold), first {n_dbt} file(s) like dbt", True, dbt_names)
              if partial and dbt is not None else None)
    r_dbt = dbt_seed(f"dbt-postgres seed (cold), first {n_dbt} of {n_all} file(s)")

    rows = c.timing_rows([r for r in (r_floor, r_cold, r_warm, r_same, r_dbt) if r])
    rows.append(["dvt cold / floor", c.ratio(r_cold, r_floor), ""])
    rows.append(["dvt again / floor", c.ratio(r_warm, r_floor), ""])
    if partial:
        rows += per_file_rows([(r_floor, n_all), (r_cold, n_all), (r_warm, n_all),
                               (r_dbt, n_dbt)])
        rows.append(["dbt / dvt, per file", per_file_ratio(r_dbt, n_dbt, r_cold, n_all),
                     f"dbt {n_dbt} file(s) vs dvt cold {n_all} files"])
        if r_same is not None:
            rows.append([f"dbt / dvt, same {n_dbt} file(s)", c.ratio(r_dbt, r_same), ""])
    else:
        rows.append(["dbt / dvt cold", c.ratio(r_dbt, r_cold), ""])
    dbt_part = (f"dbt got {n_dbt} of {n_all} file(s), cap {args.dbt_cap:.0f} s"
                if dbt is not None else "dbt not measured")
    c.print_table(
        f"seed into PostgreSQL: {n_all} x {args.rows:,}-row CSVs, {size_mb:.1f} MB, "
        f"threads={args.threads}, {dbt_part} (best of {args.repeat})",
        rows, ["what", "seconds", "note"])
    return 0


def per_file_rows(results: list[tuple[c.Timed, int]]) -> list[list[str]]:
    """Seconds / files that run loaded; measured per run, nothing extrapolated."""
    rows = []
    for t, n in results:
        if t.seconds is None or (not t.ok and not t.capped):
            value = "n/a"
        else:
            value = f"{'> ' if t.capped else ''}{t.seconds / n:.3f}"
        rows.append([f"  per file: {t.label}", value, f"/ {n} file(s)"])
    return rows


def per_file_ratio(a: c.Timed, na: int, b: c.Timed, nb: int) -> str:
    """(a / na) / (b / nb), '> ...' when a hit its cap."""
    per_a = c.Timed(a.label, None if a.seconds is None else a.seconds / na, a.ok,
                    capped=a.capped)
    per_b = c.Timed(b.label, None if b.seconds is None else b.seconds / nb, b.ok)
    return c.ratio(per_a, per_b)


if __name__ == "__main__":
    sys.exit(main())
