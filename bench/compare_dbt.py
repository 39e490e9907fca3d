"""Build a project with dbt and with dvt and compare every relation: columns, types, rows.

    .venv/bin/python bench/compare_dbt.py [PROJECT_DIR]     (default: examples/demo)

Needs bench/.dbt-venv (bash bench/setup_dbt_venv.sh). Timestamp columns that record
when a row was loaded differ by nature and are left out of the row comparison.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = {"loaded_at", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_scd_id"}


def build(tool: list[str], src: Path, dest: Path) -> int:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target", "*.duckdb*", "logs"))
    return subprocess.run([*tool, "build", "--profiles-dir", "."], cwd=dest,
                          capture_output=True, text=True).returncode


def relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    return set(con.execute("select table_schema, table_name, table_type "
                           "from information_schema.tables").fetchall())


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute("select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = ? order by ordinal_position",
                       [schema, table]).fetchall()


def main() -> int:
    src = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "examples" / "demo"
    dbt = ROOT / "bench" / ".dbt-venv" / "bin" / "dbt"
    dvt = Path(sys.executable).parent / "dvt"
    if not dbt.exists():
        print("skipped: no bench/.dbt-venv (bash bench/setup_dbt_venv.sh)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        a_dir, b_dir = Path(tmp) / "dbt", Path(tmp) / "dvt"
        codes = build([str(dbt)], src, a_dir), build([str(dvt)], src, b_dir)
        print(f"exit codes: dbt={codes[0]} dvt={codes[1]}")
        db = next(a_dir.glob("*.duckdb")).name
        a = duckdb.connect(str(a_dir / db), read_only=True)
        b = duckdb.connect(str(b_dir / db), read_only=True)
        ra, rb = relations(a), relations(b)
        print("only dbt:", sorted(ra - rb) or "-")
        print("only dvt:", sorted(rb - ra) or "-")
        differ = 0
        for schema, table, _ in sorted(ra & rb):
            ca, cb = columns(a, schema, table), columns(b, schema, table)
            if ca != cb:
                print(f"TYPES DIFFER {schema}.{table}: dbt {ca} dvt {cb}")
                differ += 1
                continue
            cols = ", ".join(f'"{c}"' for c, _ in ca if c not in VOLATILE)
            rows_a = sorted(map(repr, a.execute(f'select {cols} from "{schema}"."{table}"').fetchall()))
            rows_b = sorted(map(repr, b.execute(f'select {cols} from "{schema}"."{table}"').fetchall()))
            same = rows_a == rows_b
            differ += not same
            print(f"{'same' if same else 'ROWS DIFFER'}  {schema}.{table} ({len(rows_a)} rows)")
        print("identical" if not differ and codes == (0, 0) else f"{differ} relation(s) differ")
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
