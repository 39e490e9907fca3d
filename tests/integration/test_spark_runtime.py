"""The federation runtime on a real local Spark: Arrow in and out, and a federated query
extracted from two DuckDB 'source' connections, computed in Spark, compared with DuckDB.

One SparkSession serves the whole module (starting one costs seconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from dvt_engine.adapters import create_adapter
from dvt_engine.errors import DatabaseError
from dvt_engine.federation import ForeignRelation, plan_extractions
from dvt_engine.federation.spark import (
    arrow_to_view,
    get_spark,
    run_to_arrow,
    spark_available,
    stop_spark,
)
from dvt_engine.federation.transport import drop_views, load_views
from dvt_engine.project.profiles import Output

# the federation modules import pyspark lazily: this module imports without it
_missing = spark_available()
pytestmark = pytest.mark.skipif(_missing is not None, reason=f"no local Spark: {_missing}")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = get_spark({"spark.master": "local[2]"})
    yield session
    stop_spark()


def test_session_is_shared_and_configured(spark: object) -> None:
    assert get_spark() is spark
    conf = spark.conf  # type: ignore[attr-defined]
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert conf.get("spark.sql.shuffle.partitions") == "4"
    # runtime SQL settings given later apply to the running session
    get_spark({"spark.sql.shuffle.partitions": 3})
    assert conf.get("spark.sql.shuffle.partitions") == "3"
    spark.conf.set("spark.sql.shuffle.partitions", "4")  # type: ignore[attr-defined]


def test_types_round_trip_through_spark(spark: object) -> None:
    utc = dt.timezone.utc
    table = pa.table({
        "i": pa.array([1, None, -(2**40)], pa.int64()),
        "small": pa.array([1, 2, None], pa.int16()),
        "u": pa.array([4_000_000_000, None, 0], pa.uint32()),
        "dec": pa.array([Decimal("12345.6789"), None, Decimal("-0.0001")], pa.decimal128(18, 4)),
        "f": pa.array([1.5, None, -2.25]),
        "d": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1)]),
        "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None,
                        dt.datetime(1999, 12, 31, 23, 59, 59)], pa.timestamp("us")),
        "ts_tz": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc), None,
                           dt.datetime(2000, 6, 1, tzinfo=utc)], pa.timestamp("us", tz="UTC")),
        "b": pa.array([True, None, False]),
        "s": pa.array(["héllo wörld ✓", None, "日本語 \"quoted\""]),
        "big": pa.array(["x", None, "y"], pa.large_string()),
    })
    arrow_to_view(spark, table, "dvt_rt_types")  # type: ignore[arg-type]
    out = run_to_arrow(spark, "select * from dvt_rt_types")  # type: ignore[arg-type]

    types = {f.name: f.type for f in out.schema}
    assert types["i"] == pa.int64() and types["small"] == pa.int16()
    assert types["u"] == pa.int64()  # widened: Spark has no unsigned types
    assert types["dec"] == pa.decimal128(18, 4)
    assert types["d"] == pa.date32()
    assert types["ts"] == pa.timestamp("us")  # naive stays naive
    assert types["ts_tz"] == pa.timestamp("us", tz="UTC")
    assert types["b"] == pa.bool_() and types["s"] == pa.string() and types["big"] == pa.string()
    expected = table.to_pylist()
    got = out.to_pylist()
    assert [{k: v for k, v in r.items() if k != "ts_tz"} for r in got] == \
        [{k: v for k, v in r.items() if k != "ts_tz"} for r in expected]
    assert [r["ts_tz"] for r in got] == [r["ts_tz"] for r in expected]


def test_naive_timestamps_option_strips_the_zone(spark: object) -> None:
    table = pa.table({"t": pa.array([dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)],
                                    pa.timestamp("us", tz="UTC"))})
    arrow_to_view(spark, table, "dvt_rt_tz")  # type: ignore[arg-type]
    out = run_to_arrow(spark, "select t, t as u from dvt_rt_tz", naive_timestamps=["t"])  # type: ignore[arg-type]
    assert out.schema.field("t").type == pa.timestamp("us")
    assert out.schema.field("u").type == pa.timestamp("us", tz="UTC")
    assert out.column("t").to_pylist() == [dt.datetime(2024, 5, 6, 7, 8, 9)]


def test_empty_input_and_spark_errors(spark: object) -> None:
    empty = pa.table({"a": pa.array([], pa.int32()), "s": pa.array([], pa.string())})
    arrow_to_view(spark, empty, "dvt_rt_empty")  # type: ignore[arg-type]
    out = run_to_arrow(spark, "select a, s from dvt_rt_empty")  # type: ignore[arg-type]
    assert out.num_rows == 0 and out.column_names == ["a", "s"]
    with pytest.raises(DatabaseError, match="UNRESOLVED_COLUMN") as info:
        run_to_arrow(spark, "select nope from dvt_rt_empty")  # type: ignore[arg-type]
    assert "\tat org.apache" not in str(info.value)  # one line, no JVM stack


# -- end to end: two DuckDB sources + a local table -> Spark == DuckDB ----------------

MODEL_SQL = """
with eu_customers as (
    select * from "crm"."main"."customers" where region in ('EU', 'UK')
),
paid as (
    select o.customer_id, o.amount, o.ordered_on
    from "shop"."main"."orders" o
    where o.status = 'paid'
)
select c.id, c.name, r.label,
       count(p.customer_id) as n_orders,
       coalesce(sum(p.amount), 0) as total,
       max(p.ordered_on) as last_order
from eu_customers c
left join paid p on p.customer_id = c.id
join "target"."main"."regions" r on r.code = c.region
group by c.id, c.name, r.label
"""


def _duckdb_file(path: Path, statements: list[str]) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    for sql in statements:
        con.execute(sql)
    con.close()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("federation")
    files = {name: root / f"{name}.duckdb" for name in ("crm", "shop", "target")}
    _duckdb_file(files["crm"], [
        "create table customers (id integer, name varchar, region varchar, email varchar, "
        "created_at timestamp, active boolean)",
        "insert into customers values "
        "(1, 'Ana', 'EU', 'a@x', '2024-01-01 10:00:00', true), "
        "(2, 'Bjørn', 'EU', 'b@x', '2024-02-01 11:00:00', false), "
        "(3, 'Chen 陈', 'UK', null, null, true), "
        "(4, 'Dee', 'US', 'd@x', '2024-03-01 12:00:00', true), "
        "(5, 'Eve', null, 'e@x', '2024-04-01 13:00:00', null)",
    ])
    _duckdb_file(files["shop"], [
        "create table orders (id integer, customer_id integer, amount decimal(10,2), "
        "ordered_on date, status varchar)",
        "insert into orders values "
        "(10, 1, 12.50, '2024-05-01', 'paid'), (11, 1, 7.25, '2024-05-03', 'paid'), "
        "(12, 1, 99.99, '2024-05-04', 'refunded'), (13, 3, 40.00, '2024-06-01', 'paid'), "
        "(14, 4, 5.00, '2024-06-02', 'paid'), (15, 2, 1.00, '2024-06-03', 'open')",
    ])
    _duckdb_file(files["target"], [
        "create table regions (code varchar, label varchar, population bigint)",
        "insert into regions values ('EU', 'Europe', 450), ('UK', 'United Kingdom', 67), "
        "('US', 'United States', 330)",
    ])
    return files


def _expected_from_duckdb(files: dict[str, Path]) -> list[dict[str, object]]:
    import duckdb

    con = duckdb.connect(str(files["target"]))
    con.execute(f"attach '{files['crm']}' as crm (read_only)")
    con.execute(f"attach '{files['shop']}' as shop (read_only)")
    rows = con.sql(f"select * from ({MODEL_SQL}) order by id").to_arrow_table().to_pylist()
    con.close()
    return rows


def test_federated_join_in_spark_matches_duckdb(spark: object, sources: dict[str, Path]) -> None:
    expected = _expected_from_duckdb(sources)
    adapters = {name: create_adapter(Output(name=name, type="duckdb",
                                            settings={"path": str(path), "schema": "main"}),
                                     path.parent)
                for name, path in sources.items()}
    relations = {
        '"crm"."main"."customers"': ForeignRelation("crm.customers", "duckdb",
                                                    '"crm"."main"."customers"', "crm"),
        '"shop"."main"."orders"': ForeignRelation("shop.orders", "duckdb",
                                                  '"shop"."main"."orders"', "shop"),
    }
    plan = plan_extractions(MODEL_SQL, "duckdb", relations, view_prefix="e2e_")
    crm = next(e for e in plan.extractions if e.key == "crm.customers")
    shop = next(e for e in plan.extractions if e.key == "shop.orders")
    (regions,) = plan.local_extractions
    # only what the model uses leaves each connection
    assert set(crm.columns) == {"id", "name", "region"}
    assert crm.pushed_predicates == ["region IN ('EU', 'UK')"]
    assert set(shop.columns) == {"customer_id", "amount", "ordered_on", "status"}
    assert shop.pushed_predicates == ["status = 'paid'"]
    assert set(regions.columns) == {"code", "label"}

    try:
        loaded = load_views(spark, plan,  # type: ignore[arg-type]
                            lambda e: adapters[e.connection or "target"])
        got = run_to_arrow(spark, f"select * from ({plan.spark_sql}) order by id")  # type: ignore[arg-type]
    finally:
        drop_views(spark, plan)  # type: ignore[arg-type]
        for adapter in adapters.values():
            adapter.close()

    assert {e.extraction.key: e.rows for e in loaded} == {
        "crm.customers": 3, "shop.orders": 4, '"target"."main"."regions"': 3}
    assert loaded[0].message().startswith("crm.customers: 3 columns, 1 predicate pushed down, 3 rows")
    assert got.column_names == ["id", "name", "label", "n_orders", "total", "last_order"]
    assert got.to_pylist() == expected
    assert expected[0] == {"id": 1, "name": "Ana", "label": "Europe", "n_orders": 2,
                           "total": Decimal("19.75"), "last_order": dt.date(2024, 5, 3)}
