#!/usr/bin/env bash
# The whole test suite. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check engine dvt_jupyter tests bench
.venv/bin/python -m pytest -q -n 2 "$@"
