"""Write the demo's non-CSV seeds with pyarrow (deterministic; the outputs are committed).

    seeds/country_codes.parquet   - 8 rows: code, name, region, eu_member
    seeds/customer_segments.json  - 20 rows, a JSON array of records: customer_id, segment, score

dbt (dbt-duckdb) only seeds CSV files and ignores these two; DVT loads them as
seeds `country_codes` and `customer_segments`. No model refs them, so the project
builds with both tools.

Run from anywhere: python examples/demo/make_seeds.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEEDS = Path(__file__).resolve().parent / "seeds"


def country_codes() -> pa.Table:
    rows = [
        ("BR", "Brazil", "Americas", False),
        ("CA", "Canada", "Americas", False),
        ("DE", "Germany", "Europe", True),
        ("FR", "France", "Europe", True),
        ("GB", "United Kingdom", "Europe", False),
        ("IN", "India", "Asia", False),
        ("JP", "Japan", "Asia", False),
        ("US", "United States", "Americas", False),
    ]
    return pa.table(
        {
            "code": pa.array([r[0] for r in rows], pa.string()),
            "name": pa.array([r[1] for r in rows], pa.string()),
            "region": pa.array([r[2] for r in rows], pa.string()),
            "eu_member": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )


def customer_segments() -> pa.Table:
    segments = ["bronze", "silver", "gold"]
    ids = list(range(1, 21))
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.int32()),
            "segment": pa.array([segments[(i * 7) % 3] for i in ids], pa.string()),
            "score": pa.array([round(((i * 37) % 100) / 10, 1) for i in ids], pa.float64()),
        }
    )


def main() -> None:
    SEEDS.mkdir(exist_ok=True)
    # Fixed writer settings so that re-running gives byte-identical files.
    pq.write_table(
        country_codes(),
        SEEDS / "country_codes.parquet",
        compression="snappy",
        store_schema=False,
    )
    records = customer_segments().to_pylist()
    (SEEDS / "customer_segments.json").write_text(
        "[\n" + ",\n".join("  " + json.dumps(r) for r in records) + "\n]\n"
    )
    for name in ("country_codes.parquet", "customer_segments.json"):
        print(f"wrote {SEEDS / name} ({(SEEDS / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
