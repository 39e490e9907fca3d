"""Bench: `dbt run` vs `dvt run` vs the DuckDB floor on 200 chained views.

view_0 = select 1 as id; view_i = select * from {{ ref('view_{i-1}') }}; all
materialized as views. The floor is the same 200 CREATE VIEW statements through
the duckdb module in this process (connect + create + close). Reported:
per-model overhead (total - floor) / 200 in ms. Goal: dvt under 2 ms per model.

Run: python bench/run_200_views.py [--views N] [--repeat N] [--keep]
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


def generate(root: Path, db: Path, n: int) -> None:
    c.write_project(
        root,
        "bench_views",
        db,
        project_extra="models:\n  bench_views:\n    +materialized: view\n",
    )
    models = root / "models"
    (models / "view_0.sql").write_text("select 1 as id\n")
    for i in range(1, n):
        (models / f"view_{i}.sql").write_text(f"select * from {{{{ ref('view_{i - 1}') }}}}\n")


def floor_run(db: Path, n: int) -> None:
    con = duckdb.connect(str(db))
    con.execute('create or replace view "main"."view_0" as select 1 as id')
    for i in range(1, n):
        con.execute(
            f'create or replace view "main"."view_{i}" as select * from "main"."view_{i - 1}"'
        )
    con.close()


def main() -> int:
    ap = c.base_args(__doc__.splitlines()[0])
    ap.add_argument("--views", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=600.0, help="cap per run, seconds")
    args = ap.parse_args()
    dbt, dvt = c.tools(args)
    n = args.views

    tmp = c.make_tempdir("views", args.keep)
    proj = tmp / "project"
    proj.mkdir()
    db = tmp / "bench.duckdb"
    generate(proj, db, n)
    print(f"generated {n} chained views in {proj}")

    def check(t: c.Timed) -> c.Timed:
        if t.ok:
            con = duckdb.connect(str(db), read_only=True)
            got = con.execute(
                "select count(*) from information_schema.tables "
                "where table_type = 'VIEW' and table_name like 'view_%'"
            ).fetchone()[0]
            val = con.execute(f'select id from "main"."view_{n - 1}"').fetchone()[0]
            con.close()
            if got != n or val != 1:
                t.note = f"found {got} views (expected {n}), last view id={val}"
        return t

    floor_runs = []
    for _ in range(args.repeat):
        c.clean_state(proj, db)
        floor_runs.append(
            check(c.time_inprocess("floor (duckdb CREATE VIEW)", lambda: floor_run(db, n)))
        )
    r_floor = c.best_of(floor_runs)

    def timed(label: str, exe: Path | None) -> c.Timed:
        if exe is None:
            return c.skipped(label, c.why_skipped(args, label.split()[0]))
        runs = []
        for _ in range(args.repeat):
            c.clean_state(proj, db)
            cmd = [exe, "run", "--profiles-dir", proj, "--project-dir", proj]
            runs.append(check(c.run_timed(label, cmd, cwd=proj, timeout=args.timeout)))
            if not runs[-1].ok:
                break
        return c.best_of(runs)

    r_dvt = timed("dvt run", dvt)
    r_dbt = timed("dbt run", dbt)
    c.cleanup(tmp, args.keep)

    def overhead(t: c.Timed) -> str:
        if not t.ok or t.seconds is None or r_floor.seconds is None:
            return "n/a"
        return f"{(t.seconds - r_floor.seconds) / n * 1000:.2f}"

    rows = [
        [r.label, c.fmt_seconds(r), overhead(r) if r is not r_floor else "", r.note]
        for r in (r_floor, r_dvt, r_dbt)
    ]
    rows.append(["dbt/dvt", c.ratio(r_dbt, r_dvt), "", ""])
    c.print_table(
        f"run: {n} chained views (best of {args.repeat}); "
        f"overhead = (total - floor) / {n}, goal dvt < 2 ms",
        rows,
        ["what", "seconds", "ms/model overhead", "note"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
