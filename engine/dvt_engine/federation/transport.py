"""Move a federated model's inputs: run each extraction on its connection, into Spark views.

Each extraction is timed and measured so the log can say
`crm.customers: 2 of 6 columns, 1 predicate pushed down, 300 rows in 0.02s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvt_engine.errors import DvtError
from dvt_engine.federation.extract import Extraction, FederatedQuery

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from dvt_engine.adapters.base import Adapter


@dataclass
class Extracted:
    """One extraction's result and what it cost."""

    extraction: Extraction
    table: pa.Table
    seconds: float

    @property
    def rows(self) -> int:
        return self.table.num_rows

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)

    def message(self) -> str:
        return (f"{self.extraction.summary()}, {self.rows} row{'s' if self.rows != 1 else ''} "
                f"({_size(self.nbytes)}) in {self.seconds:.2f}s")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def extract_to_arrow(adapter: Adapter, extraction: Extraction) -> Extracted:
    """Run `extraction.sql` on `adapter` (its connection) and return the Arrow result."""
    start = time.perf_counter()
    try:
        table = adapter.read_arrow(extraction.sql)
    except DvtError as exc:
        exc.message = f"extracting {extraction.key} for federation: {exc.message}"
        if extraction.ambiguous_columns and exc.hint is None:
            exc.hint = ("columns " + ", ".join(extraction.ambiguous_columns) + " were not "
                        "qualified and may belong to another relation: qualify them "
                        "(alias.column) in the model")
        raise
    return Extracted(extraction, table, time.perf_counter() - start)


def load_views(spark: SparkSession, plan: FederatedQuery,
               adapter_for: Callable[[Extraction], Adapter]) -> list[Extracted]:
    """Extract every relation of `plan` and register it as its temp view in `spark`."""
    from dvt_engine.federation.spark import arrow_to_view

    results = []
    for extraction in plan.all_extractions:
        result = extract_to_arrow(adapter_for(extraction), extraction)
        arrow_to_view(spark, result.table, extraction.view_name)
        results.append(result)
    return results


def drop_views(spark: SparkSession, plan: FederatedQuery) -> None:
    """Forget the plan's temp views (the shared session outlives the model)."""
    for extraction in plan.all_extractions:
        spark.catalog.dropTempView(extraction.view_name)
