#!/usr/bin/env bash
# The whole test suite. Installs what the tests need first (Python packages into
# .venv; PostgreSQL server binaries and Chromium from Debian when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
bash scripts/setup_services.sh
bash scripts/setup_browser.sh      # Chromium + JupyterLab for tests/browser
.venv/bin/ruff check engine dvt_jupyter tests bench examples
# unit + integration tests, two workers
.venv/bin/python -m pytest -q -n 2 --dist loadscope tests "$@"
# the example notebooks, cell by cell, against their committed outputs
.venv/bin/python -m pytest -q -p no:xdist --nbval examples/notebooks \
    --nbval-sanitize-with tests/notebooks/sanitize.cfg
