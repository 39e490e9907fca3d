"""The trial plan, phase by phase, on examples/trial (the Coke_DB project rebuilt) with its
three targets: PostgreSQL (default), Snowflake (fakesnow, only read) and Databricks
(Spark's Thrift server). The commands are the plan's, with `--profiles-dir ./Connections`;
each phase checks what the plan says must be seen, and the data that landed.

The transaction seeds are generated smaller than the plan's 1,046,572 rows each (the
bench does the large sizes); everything else has the plan's row counts.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project
from tests.integration.conftest import SECRET, PgDatabase
from tests.integration.databricks_server import TOKEN, DatabricksServer
from tests.integration.snowflake_server import ACCOUNT, PASSWORD, USER, SnowflakeServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trial"
TRANSACTIONS = 2_000  # rows in each of transactions_a/b/c

MATRIX = ["pushdown_pg_only", "cross_pg_databricks", "snowflake_to_pg",
          "pushdown_databricks_only", "pg_to_databricks", "snowflake_to_databricks",
          "three_way_to_databricks"]
SOURCE_VIEWS = ["customer_1", "customer_2", "packs_db", "transactions_1", "transactions_2",
                "transactions_3"]
PIPELINE_BASE = ["bv_cbs_f_dept_acct_officer", "sv_dept_acct_officer",
                 "rv_dept_acct_officer", "bv_dim_officers"]
TRGT = {"dim_customers", "dim_employees", "dim_packs", "fact_transactions",
        "d_b_dim_officers"}

COUNTRIES = [("NL", "Netherlands"), ("DE", "Germany"), ("BE", "Belgium"), ("FR", "France"),
             ("GB", "United Kingdom"), ("US", "United States")]
OFFICERS = [(1, "Ada", "RET", "NL", "Y"), (2, "Ben", "COR", "DE", "Y"),
            (3, "Cas", "RET", "BE", "N"), (4, "Dor", "RET", "FR", "Y"),
            (5, "Eli", "TRS", "NL", "Y")]


class Trial(Project):
    """examples/trial in a temporary folder, run as the plan runs it."""

    def __init__(self, root: Path, pg: PgDatabase, dbx: DatabricksServer,
                 dbx_schema: str) -> None:
        super().__init__(root)
        self.pg, self.dbx, self.dbx_schema = pg, dbx, dbx_schema

    def dvt(self, *args: str) -> Any:
        return super().dvt(*args, "--profiles-dir", str(self.root / "Connections"))

    def ok(self, *args: str) -> Any:
        run = self.dvt(*args)
        assert run.exit_code == 0, run.output
        for secret in (SECRET, TOKEN, PASSWORD):
            assert secret not in run.output
        return run

    def dbx_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.dbx.query(sql.format(s=self.dbx_schema))]


@pytest.fixture
def trial(tmp_path: Path, pg_db: PgDatabase, snowflake_server: SnowflakeServer,
          databricks_server: DatabricksServer, monkeypatch: pytest.MonkeyPatch) -> Trial:
    import importlib.util

    root = tmp_path / "Coke_DB"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        "target", "logs", "seeds", "__pycache__"))
    spec = importlib.util.spec_from_file_location("generate_seeds", root / "generate_seeds.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.generate(root / "seeds", transactions=TRANSACTIONS)

    sf_db = f"EXIM_{uuid.uuid4().hex[:8].upper()}"
    dbx_schema = f"dvt_trial_{uuid.uuid4().hex[:8]}"
    env = {"TRIAL_PG_HOST": pg_db.host, "TRIAL_PG_PORT": str(pg_db.port),
           "TRIAL_PG_USER": pg_db.user, "TRIAL_PG_PASSWORD": SECRET,
           "TRIAL_PG_DBNAME": pg_db.dbname,
           "TRIAL_SF_ACCOUNT": ACCOUNT, "TRIAL_SF_USER": USER, "TRIAL_SF_PASSWORD": PASSWORD,
           "TRIAL_SF_DATABASE": sf_db, "TRIAL_SF_HOST": snowflake_server.host,
           "TRIAL_SF_PORT": str(snowflake_server.port), "TRIAL_SF_PROTOCOL": "http",
           "TRIAL_DBX_HOST": "127.0.0.1", "TRIAL_DBX_HTTP_PATH": "cliservice",
           "TRIAL_DBX_TOKEN": TOKEN, "TRIAL_DBX_SCHEMA": dbx_schema,
           "TRIAL_DBX_URI": databricks_server.connection_uri}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    # the Exim tables live in Snowflake (the trial only reads them), unquoted as usual
    sf = snowflake_server
    sf.query(f"create database if not exists {sf_db}")
    sf.query(f"create schema if not exists {sf_db}.ods", sf_db)
    ods = f"{sf_db}.ods"
    sf.query(f"create table {ods}.cbs_f_country (country_code varchar, country_name varchar)",
             sf_db)
    sf.query(f"insert into {ods}.cbs_f_country values "
             + ", ".join(f"('{c}', '{n}')" for c, n in COUNTRIES), sf_db)
    sf.query(f"create table {ods}.cbs_f_dept_acct_officer (officer_id int, officer_name "
             "varchar, dept_code varchar, country_code varchar, active_flag varchar)", sf_db)
    sf.query(f"insert into {ods}.cbs_f_dept_acct_officer values "
             + ", ".join(str(r) for r in OFFICERS), sf_db)
    sf.query(f"create table {ods}.cbs_closed_loans (loan_id int, closed_on date)", sf_db)
    sf.query(f"create table {ods}.cbs_f_ac_balance_type (balance_type varchar, "
             "description varchar)", sf_db)
    databricks_server.query(f"create schema if not exists {dbx_schema}")
    return Trial(root, pg_db, databricks_server, dbx_schema)


def test_the_trial_plan(trial: Trial) -> None:
    pg = trial.pg

    # -- 1. foundation ------------------------------------------------------------------
    debug = trial.ok("debug", "--all-targets")
    for output in ("postgres", "snowflake", "databricks"):
        assert f"  {output} ({output}): OK connection ok" in debug.output, debug.output
    assert "All checks passed!" in debug.output
    sync = trial.ok("sync", "--dry-run")
    assert "pyspark" in sync.output
    parsed = trial.ok("parse")
    assert "Found 23 models, 13 seeds, 4 data tests, 16 sources" in parsed.output, \
        parsed.output
    for kind, count in (("model", 23), ("seed", 13), ("source", 16), ("test", 4)):
        listed = trial.ok("list", "--resource-type", kind)
        assert len(listed.result.names) == count, (kind, listed.output)
    compiled = trial.ok("compile", "-s", "cross_pg_databricks", "snowflake_to_pg",
                        "three_way_to_databricks")
    assert "-- Spark SQL:" in compiled.output or "-- route:" in compiled.output

    # -- 2. seeds -----------------------------------------------------------------------
    seeded = trial.ok("seed", "--full-refresh", "--target", "postgres")
    assert "PASS=13" in seeded.output
    assert pg.query("select count(*) from public.customers_db_1") == [(469,)]
    assert pg.query("select count(*) from public.customers_parquet") == [(469,)]
    assert pg.query("select count(*) from public.employees_json") == [(9,)]
    assert pg.query("select count(*) from public.transactions_c") == [(TRANSACTIONS,)]
    seeded = trial.ok("seed", "--full-refresh", "-s", "dim_regions", "dim_categories",
                      "--target", "databricks")
    assert "PASS=2" in seeded.output
    assert trial.dbx_rows("select count(*) from {s}.dim_regions") == [(5,)]
    assert trial.dbx_rows("select count(*) from {s}.dim_categories") == [(7,)]
    seeded = trial.ok("seed", "--full-refresh", "-s", "employees", "--target", "databricks")
    assert "PASS=1" in seeded.output
    assert trial.dbx_rows("select count(*) from {s}.employees") == [(9,)]
    seeded = trial.ok("seed", "-s", "customers_db_1", "packs")  # each seed's own config
    assert "PASS=2" in seeded.output and "public.packs" in seeded.output
    shown = trial.ok("seed", "--show", "-s", "employees")
    assert "PASS=1" in shown.output and "Ann" in shown.output

    # -- 3. the federation matrix, one model at a time ------------------------------------
    for name in MATRIX:
        run = trial.ok("run", "-s", name, "--full-refresh")
        assert "PASS=1" in run.output, run.output
    assert pg.query("select count(*) from public.pushdown_pg_only") == [(9,)]
    regions = dict(trial.dbx_rows("select region_id, region_name from {s}.dim_regions"))
    expected = sorted((cid, name, regions[rid]) for cid, name, rid in pg.query(
        "select customer_id, customer_name, region_id from public.customers_db_1"))
    assert sorted(pg.query("select * from public.cross_pg_databricks")) == expected
    assert sorted(pg.query("select * from public.snowflake_to_pg")) == \
        sorted(c for c in COUNTRIES if c[0] != "BE")
    assert trial.dbx_rows("select count(*) from {s}.pushdown_databricks_only") == [(35,)]
    assert trial.dbx_rows("select count(*) from {s}.pg_to_databricks") == [(100,)]
    assert trial.dbx_rows("select count(*) from {s}.snowflake_to_databricks") == [(6,)]
    assert trial.dbx_rows("select count(*) from {s}.three_way_to_databricks") == \
        [(469,)]

    # -- 4. the pipeline ----------------------------------------------------------------
    run = trial.ok("run", "-s", *SOURCE_VIEWS)
    assert "PASS=6" in run.output and "OK created sql view model public.customer_1" \
        in run.output
    run = trial.ok("run", "-s", "stg_fact_transactions")
    assert "PASS=1" in run.output
    run = trial.ok("run", "-s", "dim_customers", "dim_packs", "fact_transactions",
                   "--full-refresh")
    assert "PASS=3" in run.output
    assert pg.query("select count(*) from public.fact_transactions") == [(3 * TRANSACTIONS,)]
    run = trial.ok("run", "-s", "dim_employees", "--full-refresh")
    assert pg.query("select count(*) from public.dim_employees") == [(9,)]
    run = trial.ok("run", "-s", "dim_employees")  # incremental: nothing new
    assert "INSERT 0 0" in run.output, run.output
    assert pg.query("select count(*) from public.dim_employees") == [(9,)]
    run = trial.ok("run", "-s", *PIPELINE_BASE, "--full-refresh")
    assert "PASS=4" in run.output
    run = trial.ok("run", "-s", "d_b_dim_officers", "--full-refresh")
    assert "OK created sql table model gold.d_b_dim_officers" in run.output, run.output
    # active officers: RET (NL, FR) 2, COR (DE) 1, TRS -> Other (NL) 1
    assert sorted(pg.query("select department, officers, countries "
                           "from gold.d_b_dim_officers")) == \
        [("Corporate", 1, 1), ("Other", 1, 1), ("Retail", 2, 2)]
    run = trial.ok("run", "--select", "tag:TRGT")
    assert run.statuses == dict.fromkeys(TRGT, "success"), run.output

    # -- 5. tests, previews, docs, build, clean -----------------------------------------
    tested = trial.ok("test")
    assert "PASS=4" in tested.output
    tested = trial.ok("test", "-s", "dim_customers")
    assert "PASS=2" in tested.output
    shown = trial.ok("show", "-s", "pushdown_pg_only", "--limit", "10")
    assert shown.result.table.num_rows == 9
    shown = trial.ok("show", "-s", "cross_pg_databricks", "--limit", "5")
    assert shown.result.table.num_rows == 5  # computed, not read back from the table
    counted = trial.ok("show", "--inline",
                       "select count(*) as cnt from {{ ref('fact_transactions') }}")
    assert counted.result.table.to_pylist() == [{"cnt": 3 * TRANSACTIONS}]
    compiled = trial.ok("compile")
    assert "Found 23 models" in compiled.output
    assert len(list((trial.root / "target" / "compiled").rglob("*.sql"))) >= 23 + 4
    op = trial.ok("run-operation", "generate_schema_name",
                  "--args", "{custom_schema_name: gold, node: null}")
    assert "Error" not in op.output
    trial.ok("docs", "generate")
    catalog = json.loads((trial.root / "target" / "catalog.json").read_text())
    assert "model.coke_db.fact_transactions" in catalog["nodes"]
    assert "model.coke_db.pg_to_databricks" in catalog["nodes"]
    built = trial.ok("build", "-s", "cross_pg_databricks", "snowflake_to_pg",
                     "three_way_to_databricks", "--full-refresh")
    assert "PASS=3" in built.output
    trial.ok("clean")
    assert not (trial.root / "target").exists()

    # -- 6. selection errors, retry, listings -------------------------------------------
    missing = trial.dvt("run", "-s", "nonexistent_model")
    assert missing.exit_code == 0
    assert "does not match any enabled nodes" in missing.output
    # a failing model, then retry runs only what failed (and what it skipped)
    broken = trial.root / "models" / "targets" / "dim_packs.sql"
    good = broken.read_text()
    broken.write_text("select pack_id, no_such_column from {{ ref('packs_db') }}")
    failed = trial.dvt("run", "--select", "tag:TRGT")
    assert failed.exit_code == 1 and failed.statuses["dim_packs"] == "error"
    broken.write_text(good)
    retried = trial.ok("retry")
    assert retried.statuses == {"dim_packs": "success"}, retried.output
    listed = trial.ok("list", "--output", "json", "--resource-type", "model")
    entries = {m["name"]: m for m in listed.result.entries}
    assert len(entries) == 23
    assert entries["dim_employees"]["config"]["materialized"] == "incremental"
    assert entries["fact_transactions"]["depends_on"]["nodes"] == \
        ["model.coke_db.stg_fact_transactions"]
    stg = trial.ok("list", "-s", "tag:STG")
    assert sorted(stg.output.split()) == sorted(
        ["coke_db.sources_views.customer_1", "coke_db.sources_views.customer_2",
         "coke_db.staging.stg_fact_transactions"]), stg.output
