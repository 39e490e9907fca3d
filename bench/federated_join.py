"""Bench: a federated model (PostgreSQL + DuckDB -> PostgreSQL) vs the bytes-moving floor.

Input: `raw.transactions` in a throwaway PostgreSQL server (tests/integration/pgserver.py;
needs initdb/pg_ctl) with 1,046,572 rows (id, customer_id, pack_id, amount numeric(12,2),
txn_date date, channel text), loaded with COPY (not with dvt); `main.packs` (63 rows:
pack_id, pack_name, price) in a DuckDB file, the `lake` output. pack_id runs 1..70, so the
inner join drops some rows. One model on the default target `pg`, materialized table:

    select t.id, t.amount, t.txn_date, p.pack_name
    from {{ source('pg','transactions') }} t join {{ source('lake','packs') }} p
      on p.pack_id = t.pack_id
    where t.channel = 'web'

Timed in the same run:
- floor: what must move at least, in-process with psycopg and duckdb already imported:
  `COPY (select id, pack_id, amount, txn_date from raw.transactions where channel = 'web')
  TO STDOUT`, the packs read from DuckDB, the join done line by line in Python, and the
  result COPYed FROM STDIN into a new table. Also printed (not the floor): the same COPY out
  without the filter (every row, used columns).
- dvt cold: `dvt run -s <model>` as a subprocess (interpreter, imports, the JVM/Spark start).
- dvt warm: a Session in this process, `invoke(["run", "-s", model])` twice; the second is
  timed (Spark already running).
Both are timed for the two routes (`federation_route`): `auto`, which here stages the 63
packs on PostgreSQL and runs the join there, and `spark`, which computes in Spark
(transactions read over JDBC when the driver jar is installed, else ADBC).
The result table is dropped before every run; its row count is checked after every run.
Goal (the issue): warm within 3x of the floor. Benchmarks print timings; never assert them.

Run: .venv/bin/python bench/federated_join.py [--rows N] [--keep] [--no-dvt]
"""

from __future__ import annotations

import argparse
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
PACKS = 63
PACK_IDS = 70  # transactions reference 1..70, packs has 1..63: the inner join drops some
DB, SRC_SCHEMA, OUT_SCHEMA = "bench", "raw", "analytics"
MODEL = "web_sales"
FLOOR_TABLE = "floor_web_sales"

MODEL_SQL = """{{ config(materialized='table', federation_route='ROUTE') }}
select t.id, t.amount, t.txn_date, p.pack_name
from {{ source('pg','transactions') }} t
join {{ source('lake','packs') }} p on p.pack_id = t.pack_id
where t.channel = 'web'
"""

SOURCES_YML = f"""version: 2
sources:
  - name: pg
    schema: {SRC_SCHEMA}
    tables:
      - name: transactions
  - name: lake
    connection: lake
    schema: main
    tables:
      - name: packs
"""


# --------------------------------------------------------------------------- inputs


def generate_csv(path: Path, rows: int) -> None:
    """Deterministic pseudo-random transactions, written by DuckDB (fast, nothing committed)."""
    con = duckdb.connect()
    con.execute(f"""
        copy (
          select
            i::integer + 1                                           as id,
            (hash(i) % 50000)::integer + 1                           as customer_id,
            (hash(i * 7) % {PACK_IDS})::integer + 1                  as pack_id,
            ((hash(i * 11) % 5000000) / 100.0)::decimal(12, 2)       as amount,
            date '2023-01-01' + (hash(i * 13) % 730)::integer        as txn_date,
            (['web', 'app', 'store', 'partner'])[(hash(i * 3) % 4)::integer + 1] as channel
          from range({rows}) as t(i)
        ) to '{path}' (header, delimiter ',')
    """)
    con.close()


def load_transactions(server: PgServer, csv_path: Path) -> None:
    """Create the database and raw.transactions, then COPY the CSV in (no dvt involved)."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {DB}".encode())
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute(f"create schema {SRC_SCHEMA}".encode())
        conn.execute(f"create schema {OUT_SCHEMA}".encode())
        conn.execute(f"create table {SRC_SCHEMA}.transactions (id integer, customer_id "
                     "integer, pack_id integer, amount numeric(12,2), txn_date date, "
                     "channel text)".encode())
        copy_sql = f"copy {SRC_SCHEMA}.transactions from stdin (format csv, header)"
        with conn.cursor() as cur, cur.copy(copy_sql.encode()) as copy, \
                csv_path.open("rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.execute(f"analyze {SRC_SCHEMA}.transactions".encode())


def create_packs(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(f"""
        create table main.packs as
        select i::integer as pack_id, 'pack ' || i::varchar as pack_name,
               (i * 1.25)::decimal(10, 2) as price
        from range(1, {PACKS + 1}) as t(i)
    """)
    con.close()


def write_project(root: Path, server: PgServer, lake: Path) -> None:
    # the server trusts loopback: the password is never checked (and never a real one)
    c.write_files(root, {
        "dbt_project.yml": ("name: bench_fed\nversion: '1.0.0'\nconfig-version: 2\n"
                            "profile: bench_fed\nmodel-paths: ['models']\n"),
        "profiles.yml": (
            "bench_fed:\n  target: pg\n  outputs:\n"
            f"    pg:\n      type: postgres\n      host: {server.host}\n"
            f"      port: {server.port}\n      user: {server.user}\n"
            f"      password: unused\n      dbname: {DB}\n      schema: {OUT_SCHEMA}\n"
            "      threads: 1\n"
            f"    lake:\n      type: duckdb\n      path: '{lake}'\n      threads: 1\n"),
        "models/sources.yml": SOURCES_YML,
    })


def set_route(root: Path, route: str) -> None:
    """The model's federation_route: auto (small inputs staged on the target) or spark."""
    c.write_files(root, {f"models/{MODEL}.sql": MODEL_SQL.replace("ROUTE", route)})


# --------------------------------------------------------------------------- checks


def pg_scalar(server: PgServer, sql: str) -> int:
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        row = conn.execute(sql.encode()).fetchone()
        return int(row[0]) if row else 0


def expected_rows(server: PgServer) -> int:
    return pg_scalar(server, f"select count(*) from {SRC_SCHEMA}.transactions "
                             f"where channel = 'web' and pack_id between 1 and {PACKS}")


def drop_table(server: PgServer, name: str) -> None:
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute(f"drop table if exists {OUT_SCHEMA}.{name} cascade".encode())


def check(t: c.Timed, server: PgServer, table: str, expected: int) -> c.Timed:
    if not t.ok:
        return t
    try:
        got = pg_scalar(server, f"select count(*) from {OUT_SCHEMA}.{table}")
    except psycopg.Error as exc:
        t.ok, t.note = False, f"no result table: {str(exc).strip().splitlines()[0]}"
        return t
    if got != expected:
        t.ok, t.note = False, f"WRONG row count: {got:,} (expected {expected:,})"
    else:
        t.note = f"{got:,} rows landed (checked)"
    return t


# --------------------------------------------------------------------------- floor


def copy_out(server: PgServer, sql: str) -> bytes:
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn, conn.cursor() as cur, \
            cur.copy(f"copy ({sql}) to stdout".encode()) as copy:
        return b"".join(bytes(chunk) for chunk in copy)


def floor_run(server: PgServer, lake: Path) -> None:
    """COPY out the used columns (filter pushed down), read packs, join, COPY the result in."""
    data = copy_out(server, f"select id, pack_id, amount, txn_date from {SRC_SCHEMA}."
                            "transactions where channel = 'web'")
    con = duckdb.connect(str(lake), read_only=True)
    try:
        packs = {str(pid).encode(): name.encode()
                 for pid, name in con.execute("select pack_id, pack_name from main.packs")
                 .fetchall()}
    finally:
        con.close()
    # text COPY format both ways; pack names hold no tab/backslash, so no escaping needed
    out = []
    for line in data.splitlines():
        tid, pid, amount, day = line.split(b"\t")
        name = packs.get(pid)
        if name is not None:
            out.append(b"\t".join((tid, amount, day, name)))
    payload = b"\n".join(out) + b"\n"
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute(f"create table {OUT_SCHEMA}.{FLOOR_TABLE} (id integer, amount "
                     "numeric(12,2), txn_date date, pack_name text)".encode())
        with conn.cursor() as cur, \
                cur.copy(f"copy {OUT_SCHEMA}.{FLOOR_TABLE} from stdin".encode()) as copy:
            copy.write(payload)


# --------------------------------------------------------------------------- dvt


def dvt_cold(dvt: Path, proj: Path, server: PgServer, expected: int, route: str) -> c.Timed:
    drop_table(server, MODEL)
    c.clean_state(proj)
    cmd = [dvt, "run", "-s", MODEL, "--profiles-dir", proj, "--project-dir", proj]
    return check(c.run_timed(f"[{route}] dvt cold (subprocess: run -s)", cmd, cwd=proj,
                             timeout=900), server, MODEL, expected)


def dvt_warm(proj: Path, server: PgServer, expected: int, route: str,
             profile: Path | None = None) -> tuple[c.Timed, c.Timed]:
    """Two invokes in one in-process Session: the first starts Spark, the second is timed
    (and profiled into `profile` with cProfile when given)."""
    import cProfile

    from dvt_engine.session import Session

    c.clean_state(proj)
    session = Session(proj, profiles_dir=str(proj))
    try:
        timed = []
        for label in (f"[{route}] dvt in-process, 1st invoke",
                      f"[{route}] dvt warm (in-process, 2nd invoke)"):
            drop_table(server, MODEL)
            print(f"[run] {label}", flush=True)
            profiler = cProfile.Profile() if profile and timed else None
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            result = session.invoke(["run", "-s", MODEL])
            t = c.Timed(label, time.perf_counter() - t0)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
                print(f"[profile] warm run written to {profile}", flush=True)
            if not result:
                t.ok, t.note = False, f"FAILED (exit {getattr(result, 'exit_code', '?')})"
            timed.append(check(t, server, MODEL, expected))
        return timed[0], timed[1]
    finally:
        session.close()


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=ROWS, help="transactions rows")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the inputs")
    ap.add_argument("--no-dvt", action="store_true", help="time the floor only")
    ap.add_argument("--profile", type=Path, default=None,
                    help="write a cProfile of the warm run to this file")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    dvt = None if args.no_dvt else c.find_dvt()
    try:
        server = start_server("dvt-bench-fed-")
    except ServerUnavailable as exc:
        print(f"[skip] {exc}")
        return 0
    tmp = c.make_tempdir("fed", args.keep)
    try:
        return run(args, server, tmp, dvt)
    finally:
        server.stop()
        c.cleanup(tmp, args.keep)


def run(args: argparse.Namespace, server: PgServer, tmp: Path, dvt: Path | None) -> int:
    proj, lake, csv_path = tmp / "proj", tmp / "lake.duckdb", tmp / "transactions.csv"
    print(f"[gen] {args.rows:,} transactions -> PostgreSQL (COPY), {PACKS} packs -> DuckDB",
          flush=True)
    generate_csv(csv_path, args.rows)
    load_transactions(server, csv_path)
    csv_path.unlink()
    create_packs(lake)
    write_project(proj, server, lake)
    expected = expected_rows(server)

    r_all = c.time_inprocess("  (info) COPY out used columns, no filter", lambda: copy_out(
        server, f"select id, pack_id, amount, txn_date, channel from {SRC_SCHEMA}.transactions"))
    r_floor = check(c.time_inprocess("floor: COPY out (filtered) + packs + COPY in",
                                     lambda: floor_run(server, lake)),
                    server, FLOOR_TABLE, expected)
    rows = c.timing_rows([r_floor, r_all])
    ok = [r_floor]
    for route in ("auto", "spark"):
        set_route(proj, route)
        if dvt is None:
            why = c.why_skipped(args, "dvt")
            r_cold, r_first, r_warm = (c.skipped(f"[{route}] {x}", why)
                                       for x in ("dvt cold", "dvt 1st", "dvt warm"))
        else:
            r_cold = dvt_cold(dvt, proj, server, expected, route)
            r_first, r_warm = dvt_warm(proj, server, expected, route,
                                       args.profile if route == "spark" else None)
        ok += [r_cold, r_warm]
        rows += c.timing_rows([r_cold, r_first, r_warm])
        rows.append([f"[{route}] dvt warm / floor", c.ratio(r_warm, r_floor), "goal: <= 3x"])
        rows.append([f"[{route}] dvt cold / floor", c.ratio(r_cold, r_floor), ""])
    c.print_table(
        f"federated join (PostgreSQL {args.rows:,} rows + DuckDB {PACKS} rows -> PostgreSQL), "
        f"{expected:,} result rows",
        rows, ["what", "seconds", "note"])
    return 0 if all(r.ok for r in ok if r.seconds is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
