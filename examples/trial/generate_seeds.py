"""Write the trial project's 13 seed files (CSV, Parquet, JSON), deterministically.

The transaction seeds are 1,046,572 rows each in the trial plan: generated here, never
committed. `--transactions N` makes them smaller (the tests use a few thousand).

    python examples/trial/generate_seeds.py [--transactions N] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TRIAL_TRANSACTIONS = 1_046_572
COUNTRIES = ["NL", "DE", "BE", "FR", "GB", "US"]
REGIONS = ["North", "South", "East", "West", "Central"]
CATEGORIES = ["Soda", "Water", "Juice", "Tea", "Coffee", "Energy", "Sports"]


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _customers(first_id: int, n: int, rng: random.Random) -> list[tuple[object, ...]]:
    start = datetime.date(2020, 1, 1)
    return [(i, f"Customer {i}", rng.choice(COUNTRIES), rng.randint(1, len(REGIONS)),
             (start + datetime.timedelta(days=rng.randint(0, 1500))).isoformat())
            for i in range(first_id, first_id + n)]


def _packs(rng: random.Random) -> list[tuple[object, ...]]:
    return [(i, f"Pack {i}", rng.randint(1, len(CATEGORIES)), round(rng.uniform(0.5, 25), 2))
            for i in range(1, 64)]


def _employees() -> list[tuple[object, ...]]:
    names = ["Ann", "Bob", "Cy", "Dee", "Eve", "Finn", "Gus", "Hal", "Ida"]
    return [(i, name, (i % len(REGIONS)) + 1, f"2021-0{(i % 9) + 1}-01")
            for i, name in enumerate(names, start=1)]


def _transactions(path: Path, first_id: int, n: int, customers: int,
                  rng: random.Random) -> None:
    start = datetime.datetime(2024, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["transaction_id", "customer_id", "pack_id", "quantity", "sold_at"])
        for i in range(first_id, first_id + n):
            sold = start + datetime.timedelta(seconds=rng.randint(0, 365 * 86400))
            writer.writerow([i, rng.randint(1, customers), rng.randint(1, 63),
                             rng.randint(1, 12), sold.strftime("%Y-%m-%d %H:%M:%S")])


def generate(out: Path, transactions: int = TRIAL_TRANSACTIONS) -> None:
    """All 13 seeds into `out` (the project's seeds/ folder)."""
    rng = random.Random(20261126)
    out.mkdir(parents=True, exist_ok=True)
    cust_header = ["customer_id", "customer_name", "country_code", "region_id", "signup_date"]
    customers_1 = _customers(1, 469, rng)
    _write_csv(out / "customers_db_1.csv", cust_header, customers_1)
    _write_csv(out / "customers_db_2.csv", cust_header, _customers(1001, 146, rng))
    pq.write_table(pa.table({h: [r[i] for r in customers_1] for i, h in enumerate(cust_header)}),
                   out / "customers_parquet.parquet")
    pack_header = ["pack_id", "pack_name", "category_id", "price"]
    packs = _packs(rng)
    _write_csv(out / "packs.csv", pack_header, packs)
    pq.write_table(pa.table({h: [r[i] for r in packs] for i, h in enumerate(pack_header)}),
                   out / "packs_parquet.parquet")
    emp_header = ["employee_id", "employee_name", "region_id", "hired_on"]
    employees = _employees()
    _write_csv(out / "employees.csv", emp_header, employees)
    (out / "employees_json.json").write_text(
        json.dumps([dict(zip(emp_header, r, strict=True)) for r in employees], indent=1))
    _write_csv(out / "dim_files.csv", ["file_id", "file_name", "file_format"],
               [(1, "customers_db_1", "csv"), (2, "customers_parquet", "parquet"),
                (3, "employees_json", "json")])
    for n, suffix in enumerate("abc"):
        _transactions(out / f"transactions_{suffix}.csv", n * transactions + 1, transactions,
                      469, rng)
    _write_csv(out / "dim_regions.csv", ["region_id", "region_name"],
               list(enumerate(REGIONS, start=1)))
    _write_csv(out / "dim_categories.csv", ["category_id", "category_name"],
               list(enumerate(CATEGORIES, start=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=TRIAL_TRANSACTIONS,
                        help="rows in each of transactions_a/b/c")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "seeds")
    args = parser.parse_args()
    generate(args.out, args.transactions)


if __name__ == "__main__":
    main()
