#!/usr/bin/env bash
# The demo: build the example project (seeds in CSV, Parquet and JSON, every
# materialization, tests) on the embedded DuckDB target, then preview a model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
cd examples/demo
../../.venv/bin/dvt build --full-refresh
../../.venv/bin/dvt show -s customers --limit 5
