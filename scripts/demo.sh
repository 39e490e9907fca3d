#!/usr/bin/env bash
# The demo, on the embedded default (DuckDB):
# 1. examples/demo: seeds in CSV, Parquet and JSON, every materialization, a snapshot,
#    tests; then a preview of a model.
# 2. examples/federation: a DuckDB warehouse and a SQLite CRM; models that read both are
#    federated through a local SparkSession (Java needed), the rest pushed down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
dvt="$PWD/.venv/bin/dvt"
(cd examples/demo && "$dvt" build --full-refresh && "$dvt" show -s customers --limit 5)
(cd examples/federation && "$dvt" build --full-refresh && "$dvt" show -s region_revenue)
