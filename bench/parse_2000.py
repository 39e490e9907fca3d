"""Bench: `dbt parse` vs `dvt parse` on a generated project of 2,000 models.

model_i refs one or two earlier models; schema.yml declares 500 not_null tests.
target/ is deleted before each run so neither tool can use partial parsing
(dbt also gets --no-partial-parse). Goal: dvt at least 10x faster than dbt.

Run: python bench/parse_2000.py [--models N] [--tests N] [--repeat N] [--keep]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402


def generate(root: Path, n_models: int, n_tests: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    c.write_project(root, "bench_parse", root / "bench.duckdb")
    models = root / "models"
    (models / "model_0.sql").write_text("select 1 as id, 'a' as name\n")
    for i in range(1, n_models):
        j = rng.randrange(i)
        if i >= 2 and rng.random() < 0.5:
            k = rng.randrange(i)
            while k == j:
                k = rng.randrange(i)
            sql = (
                f"select a.id, a.name\n"
                f"from {{{{ ref('model_{j}') }}}} as a\n"
                f"join {{{{ ref('model_{k}') }}}} as b on a.id = b.id\n"
            )
        else:
            sql = f"select id, name\nfrom {{{{ ref('model_{j}') }}}}\n"
        (models / f"model_{i}.sql").write_text(sql)
    step = max(1, n_models // max(1, n_tests))
    tested = list(range(0, n_models, step))[:n_tests]
    lines = ["version: 2", "", "models:"]
    for i in tested:
        lines += [
            f"  - name: model_{i}",
            "    columns:",
            "      - name: id",
            "        data_tests:",
            "          - not_null",
        ]
    (models / "schema.yml").write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = c.base_args(__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--tests", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=600.0, help="cap per run, seconds")
    args = ap.parse_args()
    dbt, dvt = c.tools(args)

    tmp = c.make_tempdir("parse", args.keep)
    proj = tmp / "project"
    proj.mkdir()
    generate(proj, args.models, args.tests)
    print(f"generated {args.models} models and {args.tests} not_null tests in {proj}")

    def timed(label: str, exe: Path | None, extra: list[str]) -> c.Timed:
        if exe is None:
            return c.skipped(label, c.why_skipped(args, label.split()[0]))
        runs = []
        for _ in range(args.repeat):
            c.clean_state(proj)
            cmd = [exe, "parse", "--profiles-dir", proj, "--project-dir", proj, *extra]
            runs.append(c.run_timed(label, cmd, cwd=proj, timeout=args.timeout))
            if not runs[-1].ok:
                break
        return c.best_of(runs)

    r_dbt = timed("dbt parse", dbt, ["--no-partial-parse"])
    r_dvt = timed("dvt parse", dvt, [])
    c.cleanup(tmp, args.keep)

    rows = c.timing_rows([r_dbt, r_dvt])
    rows.append(["speedup dbt/dvt", c.ratio(r_dbt, r_dvt), "goal >= 10x"])
    c.print_table(
        f"parse: {args.models} models, {args.tests} not_null tests (best of {args.repeat})",
        rows,
        ["what", "seconds", "note"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
