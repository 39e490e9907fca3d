"""Federation building blocks: plan extractions (sqlglot), compute in Spark, move Arrow.

`extract` is pure (sqlglot only). `spark` and `transport` import pyspark / pyarrow lazily,
so importing this package costs nothing for commands that never federate.
"""

from __future__ import annotations

from dvt_engine.federation.extract import (
    Extraction,
    FederatedQuery,
    FederationError,
    ForeignRelation,
    TypedValue,
    plan_extractions,
)

__all__ = [
    "Extraction",
    "FederatedQuery",
    "FederationError",
    "ForeignRelation",
    "TypedValue",
    "plan_extractions",
]
