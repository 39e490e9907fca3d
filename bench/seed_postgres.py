"""Bench: `dvt seed` into PostgreSQL vs the floor `psql \\copy` on three 1,046,572-row CSVs.

The files look like the trial plan's transactions (id, customer_id, pack_id, amount
numeric(12,2), txn_date date, created_at timestamp, channel text). A throwaway PostgreSQL
server is started for the run (tests/integration/pgserver.py; needs initdb/pg_ctl/psql).
The floor pre-creates each table and runs `psql -c "\\copy t from 'file' csv header"`, one
file after the other. dvt runs cold (tables absent: infer types, create, COPY) and again
with the tables in place (truncate + COPY). dbt-postgres is timed only if bench/.dbt-venv
has it. Benchmarks print timings; they never assert them.

Run: .venv/bin/python bench/seed_postgres.py [--rows N] [--files N] [--repeat N] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
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


def write_project(root: Path, server: PgServer, dbname: str, names: list[str],
                  threads: int) -> None:
    types = "\n".join(f"      {n}:\n        +column_types: {{amount: 'numeric(12,2)'}}"
                      for n in names)
    c.write_files(root, {
        "dbt_project.yml": ("name: bench_pg\nversion: '1.0.0'\nconfig-version: 2\n"
                            "profile: bench_pg\nseed-paths: ['seeds']\n"
                            f"seeds:\n  bench_pg:\n{types}\n"),
        "profiles.yml": ("bench_pg:\n  target: dev\n  outputs:\n    dev:\n"
                         f"      type: postgres\n      host: {server.host}\n"
                         f"      port: {server.port}\n      user: {server.user}\n"
                         "      password: unused\n"
                         f"      dbname: {dbname}\n      schema: bench\n"
                         f"      threads: {threads}\n"),
    })


def reset_schema(server: PgServer, dbname: str) -> None:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute("drop schema if exists bench cascade")
        conn.execute("create schema bench")


def row_counts(server: PgServer, dbname: str, names: list[str]) -> list[int]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        return [conn.execute(f"select count(*) from bench.{n}".encode()).fetchone()[0]
                for n in names]


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
    ap.add_argument("--threads", type=int, default=1, help="dvt threads (seeds in parallel)")
    args = ap.parse_args()
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


def _bench(args: argparse.Namespace, server: PgServer, tmp: Path, dvt: Path | None, dbt: Path | None,
           psql: str) -> int:
    proj = tmp / "project"
    names = [f"transactions_{i + 1}" for i in range(args.files)]
    files = [proj / "seeds" / f"{n}.csv" for n in names]
    for i, f in enumerate(files):
        generate_csv(f, args.rows, seed=i * 1000)
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"generated {len(files)} files, {args.rows:,} rows each, {size_mb:.1f} MB in all")
    dbname = "bench"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("create database bench")
    write_project(proj, server, dbname, names, args.threads)
    expected = [args.rows] * len(files)

    def check(t: c.Timed) -> c.Timed:
        if t.ok and row_counts(server, dbname, names) != expected:
            t.note = f"row counts {row_counts(server, dbname, names)} != {expected}"
        return t

    floor_runs = []
    for _ in range(args.repeat):
        reset_schema(server, dbname)
        floor_runs.append(check(c.time_inprocess(
            "floor: psql \\copy (tables pre-created)",
            lambda: floor_load(server, dbname, files, psql))))
    r_floor = c.best_of(floor_runs)

    def tool(label: str, exe: Path | None, cold: bool, extra: list[str]) -> c.Timed:
        if exe is None:
            return c.skipped(label, "not installed")
        runs = []
        for _ in range(args.repeat):
            if cold:
                reset_schema(server, dbname)
            c.clean_state(proj)
            cmd = [exe, "seed", "--profiles-dir", proj, "--project-dir", proj, *extra]
            runs.append(check(c.run_timed(label, cmd, cwd=proj, timeout=900)))
            if not runs[-1].ok:
                break
        return c.best_of(runs)

    r_cold = tool("dvt seed (cold: create + COPY)", dvt, True, [])
    r_warm = tool("dvt seed (again: truncate + COPY)", dvt, False, [])
    r_dbt = tool("dbt-postgres seed (cold)", dbt, True, [])

    rows = c.timing_rows([r_floor, r_cold, r_warm, r_dbt])
    rows.append(["dvt cold / floor", c.ratio(r_cold, r_floor), ""])
    rows.append(["dvt again / floor", c.ratio(r_warm, r_floor), ""])
    rows.append(["dbt / dvt cold", c.ratio(r_dbt, r_cold), ""])
    c.print_table(
        f"seed into PostgreSQL: {len(files)} x {args.rows:,}-row CSVs, {size_mb:.1f} MB, "
        f"dvt threads={args.threads} (best of {args.repeat})",
        rows, ["what", "seconds", "note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
