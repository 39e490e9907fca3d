#!/usr/bin/env bash
# Create bench/.dbt-venv with a reference dbt (dbt-core 1.10 + dbt-duckdb 1.10 + dbt-postgres 1.10).
# Used only by the benchmarks in bench/ and by DBT_FACTS.md; DVT never imports it.
# Usage: bash bench/setup_dbt_venv.sh        (idempotent; set FORCE=1 to rebuild)
# Exit status: 0 when bench/.dbt-venv/bin/dbt works, non-zero otherwise.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.dbt-venv"
PY="${PYTHON:-python3}"

fail() {
    echo "setup_dbt_venv: ERROR: $*" >&2
    echo "setup_dbt_venv: the benchmarks will skip the dbt side." >&2
    exit 1
}

if [ "${FORCE:-0}" = "1" ]; then
    rm -rf "$VENV"
fi

# dbt-postgres (bench/seed_postgres.py) was added after the first version of this script:
# an existing venv gets it on top, pinned to the same minor so pip keeps dbt-core 1.10.
ensure_postgres() {
    if "$VENV/bin/python" -c "import dbt.adapters.postgres" >/dev/null 2>&1; then
        return 0
    fi
    echo "setup_dbt_venv: pip install dbt-postgres~=1.10.0 (with dbt-core~=1.10.0)"
    "$VENV/bin/python" -m pip install --quiet "dbt-core~=1.10.0" "dbt-postgres~=1.10.0" \
        || fail "pip install of dbt-postgres~=1.10.0 failed (is PyPI reachable?)"
    "$VENV/bin/python" -c "import dbt.adapters.postgres" \
        || fail "dbt-postgres was installed but 'import dbt.adapters.postgres' fails"
}

if [ -x "$VENV/bin/dbt" ] && "$VENV/bin/dbt" --version >/dev/null 2>&1; then
    ensure_postgres
    echo "setup_dbt_venv: $VENV already has a working dbt:"
    "$VENV/bin/dbt" --version
    exit 0
fi

command -v "$PY" >/dev/null 2>&1 || fail "no '$PY' on PATH (set PYTHON=...)"

echo "setup_dbt_venv: creating $VENV with $($PY --version 2>&1)"
"$PY" -m venv "$VENV" || fail "could not create a venv at $VENV"

"$VENV/bin/python" -m pip install --quiet --upgrade pip \
    || fail "could not upgrade pip inside $VENV"

echo "setup_dbt_venv: pip install dbt-core~=1.10.0 dbt-duckdb~=1.10.0 dbt-postgres~=1.10.0"
"$VENV/bin/python" -m pip install --quiet "dbt-core~=1.10.0" "dbt-duckdb~=1.10.0" \
    "dbt-postgres~=1.10.0" \
    || fail "pip install of dbt-core/dbt-duckdb/dbt-postgres ~=1.10.0 failed (is PyPI reachable?)"
ensure_postgres

"$VENV/bin/dbt" --version || fail "dbt was installed but '$VENV/bin/dbt --version' fails"
echo "setup_dbt_venv: ok"
