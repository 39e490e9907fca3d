"""Bench: `dbt seed` vs `dvt seed` vs the DuckDB floor on a 1,000,000-row CSV.

Columns: id int, customer_id int, amount decimal(2 places), created_at timestamp,
status text, flag boolean. The floor is `create table t as select * from
read_csv(...)` through the duckdb module in this process (connect + load + close).
dbt gets a cap (--dbt-cap, 300 s by default) and is reported as "> cap" past it.
Goals: dvt/floor <= 1.5; dbt/dvt is reported for scale.

Run: python bench/seed_1m.py [--rows N] [--dbt-cap S] [--repeat N] [--keep]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

try:
    import duckdb
except ImportError:  # pragma: no cover
    print("this bench needs the duckdb module: run it with the project's .venv/bin/python")
    sys.exit(2)


def generate_csv(path: Path, rows: int) -> None:
    """Deterministic pseudo-random rows, written by DuckDB (fast; no committed data)."""
    con = duckdb.connect()
    con.execute(
        f"""
        copy (
          select
            i::integer                                             as id,
            (hash(i) % 50000)::integer                             as customer_id,
            ((hash(i * 7 + 1) % 10000000) / 100.0)::decimal(12, 2) as amount,
            timestamp '2024-01-01 00:00:00'
              + to_seconds((hash(i * 13 + 2) % 31536000)::bigint)  as created_at,
            (['new', 'paid', 'shipped', 'cancelled', 'refunded'])[(hash(i * 3 + 3) % 5)::integer + 1]
                                                                   as status,
            (hash(i * 5 + 4) % 2 = 0)                              as flag
          from range({rows}) as t(i)
        ) to '{path}' (header, delimiter ',')
        """
    )
    con.close()


def floor_load(db: Path, csv: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute(f"create table t as select * from read_csv('{csv}')")
    con.close()


def main() -> int:
    ap = c.base_args(__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dbt-cap", type=float, default=300.0, help="timeout for dbt seed, seconds")
    ap.add_argument("--dvt-cap", type=float, default=600.0, help="timeout for dvt seed, seconds")
    args = ap.parse_args()
    dbt, dvt = c.tools(args)

    tmp = c.make_tempdir("seed", args.keep)
    proj = tmp / "project"
    proj.mkdir()
    db = tmp / "bench.duckdb"
    c.write_project(proj, "bench_seed", db)
    csv = proj / "seeds" / "orders_1m.csv"
    generate_csv(csv, args.rows)
    size_mb = csv.stat().st_size / 1e6
    print(f"generated {csv} ({args.rows:,} rows, {size_mb:.1f} MB)")

    def timed(label: str, exe: Path | None, cap: float) -> c.Timed:
        if exe is None:
            return c.skipped(label, c.why_skipped(args, label.split()[0]))
        runs = []
        for _ in range(args.repeat):
            c.clean_state(proj, db)
            cmd = [exe, "seed", "--profiles-dir", proj, "--project-dir", proj]
            runs.append(c.run_timed(label, cmd, cwd=proj, timeout=cap))
            if not runs[-1].ok:
                break
        best = c.best_of(runs)
        if best.ok:
            con = duckdb.connect(str(db), read_only=True)
            n = con.execute("select count(*) from main.orders_1m").fetchone()[0]
            con.close()
            if n != args.rows:
                best.note = f"loaded {n:,} rows, expected {args.rows:,}"
        return best

    floor_runs = []
    for _ in range(args.repeat):
        c.clean_state(proj, db)
        floor_runs.append(c.time_inprocess("floor (duckdb read_csv)", lambda: floor_load(db, csv)))
    r_floor = c.best_of(floor_runs)
    r_dvt = timed("dvt seed", dvt, args.dvt_cap)
    r_dbt = timed("dbt seed", dbt, args.dbt_cap)
    c.cleanup(tmp, args.keep)

    rows = c.timing_rows([r_floor, r_dvt, r_dbt])
    rows.append(["dvt/floor", c.ratio(r_dvt, r_floor), "goal <= 1.5x"])
    rows.append(["dbt/dvt", c.ratio(r_dbt, r_dvt), ""])
    rows.append(["dbt/floor", c.ratio(r_dbt, r_floor), ""])
    c.print_table(
        f"seed: {args.rows:,}-row CSV, {size_mb:.1f} MB (best of {args.repeat})",
        rows,
        ["what", "seconds", "note"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
