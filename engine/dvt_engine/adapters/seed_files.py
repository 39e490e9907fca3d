"""Reading seed files the adapters share: a CSV's header, Parquet and JSON as Arrow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dvt_engine.errors import DatabaseError

if TYPE_CHECKING:  # pyarrow loads only when a non-CSV seed is read
    import pyarrow as pa


def csv_header(path: Path, delimiter: str) -> list[str]:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f, delimiter=delimiter, quotechar='"'), None)
    return checked_header(path, header)


def checked_header(path: Path, header: list[str] | None) -> list[str]:
    """A seed's header row, or the error that names what is wrong with it."""
    if not header:
        raise DatabaseError(f"Seed file {path.name} is empty: it needs a header row",
                            path=str(path), hint="The first line names the columns.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DatabaseError(f"Seed file {path.name} has duplicate column names: {dupes}",
                            path=str(path), hint="Give every column a distinct header.")
    return header


def read_non_csv(path: Path) -> pa.Table:
    if not path.exists():
        raise DatabaseError(f"Seed file not found: {path}", path=str(path),
                            hint="Check seed-paths in dbt_project.yml.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".json", ".jsonl", ".ndjson"):
            import duckdb

            con = duckdb.connect()
            try:
                rel = con.sql(f"select * from read_json_auto({_sql_string(str(path))})")
                fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
                return fetch()
            finally:
                con.close()
    except Exception as exc:  # noqa: BLE001 - pyarrow's and duckdb's errors alike
        raise DatabaseError(f"Could not read seed file {path.name}: {exc}",
                            path=str(path)) from None
    raise DatabaseError(f"Unsupported seed file type: {path.name}", path=str(path),
                        hint="Seeds are .csv, .parquet or .json files.")



def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
