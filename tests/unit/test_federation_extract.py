"""plan_extractions: which columns and predicates go to each connection, and the Spark SQL."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from dvt_engine.federation import (
    Extraction,
    FederatedQuery,
    FederationError,
    ForeignRelation,
    TypedValue,
    plan_extractions,
)

CRM_TEXT = '"crm"."main"."customers"'
CRM = ForeignRelation("crm.customers", "postgres", '"crm"."public"."customers"', "crm")
RELATIONS = {CRM_TEXT: CRM}
PG_TABLE = 'FROM "crm"."public"."customers"'


def plan(sql: str, relations: dict[str, ForeignRelation] | None = None, read: str = "duckdb",
         **kwargs: object) -> FederatedQuery:
    return plan_extractions(sql, read, RELATIONS if relations is None else relations, **kwargs)  # type: ignore[arg-type]


def by_key(query: FederatedQuery, key: str) -> Extraction:
    return next(e for e in query.all_extractions if e.key == key)


def test_only_used_columns_are_extracted() -> None:
    q = plan(f"select c.id, upper(c.name) as n from {CRM_TEXT} as c")
    (ext,) = q.extractions
    assert ext.sql == f"SELECT id, name {PG_TABLE}"
    assert ext.columns == ["id", "name"]
    assert ext.view_name == "dvt_src_1" and not ext.local and ext.connection == "crm"
    assert q.local_extractions == []
    assert q.spark_sql == "SELECT c.id, UPPER(c.name) AS n FROM dvt_src_1 AS c"


def test_join_alias_columns_and_single_relation_predicates() -> None:
    q = plan(
        f"select c.id, c.name, o.amount from {CRM_TEXT} c "
        'join "demo"."main"."orders" o on o.customer_id = c.id '
        "where c.region = 'EU' and o.amount > 10 and (c.id > 1 or o.id < 5)"
    )
    crm, orders = by_key(q, "crm.customers"), by_key(q, '"demo"."main"."orders"')
    assert crm.sql == f"SELECT id, name, region {PG_TABLE} WHERE region = 'EU'"
    assert crm.pushed_predicates == ["region = 'EU'"]
    # the OR touches both relations: it stays in Spark only
    assert orders.local and orders.dialect == "duckdb"
    assert orders.pushed_predicates == ["amount > 10"]
    assert set(orders.columns) == {"amount", "customer_id", "id"}
    assert q.spark_sql == (
        "SELECT c.id, c.name, o.amount FROM dvt_src_1 AS c JOIN dvt_src_2 AS o "
        "ON o.customer_id = c.id WHERE c.region = 'EU' AND o.amount > 10 AND (c.id > 1 OR o.id < 5)"
    )


def test_self_join_unions_columns_and_pushes_only_common_predicates() -> None:
    same = plan(f"select a.id, b.name from {CRM_TEXT} a join {CRM_TEXT} b on a.parent = b.id "
                "where a.region = 'EU' and b.region = 'EU'")
    (ext,) = same.extractions
    assert ext.columns == ["id", "parent", "region", "name"]
    assert ext.pushed_predicates == ["region = 'EU'"]
    assert "dvt_src_1 AS a JOIN dvt_src_1 AS b" in same.spark_sql

    different = plan(f"select a.id, b.name from {CRM_TEXT} a join {CRM_TEXT} b on a.parent = b.id "
                     "where a.region = 'EU' and b.region = 'US'")
    (ext,) = different.extractions
    assert ext.pushed_predicates == []
    assert ext.sql == f"SELECT id, parent, region, name {PG_TABLE}"


def test_cte_with_star_extracts_only_what_later_ctes_use() -> None:
    q = plan(f"with src as (select * from {CRM_TEXT}), "
             "renamed as (select id as customer_id, name from src) select customer_id from renamed")
    (ext,) = q.extractions
    assert ext.sql == f"SELECT id, name {PG_TABLE}"
    assert not ext.all_columns
    assert "FROM dvt_src_1 AS `customers`" in q.spark_sql


def test_star_reaching_the_output_extracts_all_columns() -> None:
    q = plan(f"with src as (select * from {CRM_TEXT}) select * from src where id > 3")
    (ext,) = q.extractions
    assert ext.all_columns and ext.sql.startswith("SELECT *")
    # the filter is on the CTE, not on the relation: not pushed
    assert ext.pushed_predicates == []


def test_distinct_star_in_cte_needs_all_columns() -> None:
    (ext,) = plan(f"with u as (select distinct * from {CRM_TEXT}) select id from u").extractions
    assert ext.all_columns


def test_qualified_star_only_for_its_relation() -> None:
    q = plan(f"select c.*, o.amount from {CRM_TEXT} c join orders o on o.cid = c.id")
    assert by_key(q, "crm.customers").all_columns
    orders = by_key(q, "orders")
    assert not orders.all_columns and set(orders.columns) == {"amount", "cid"}


def test_subqueries_and_correlated_references() -> None:
    q = plan(f"select c.id from {CRM_TEXT} c where c.id in "
             "(select customer_id from orders where amount > 5) and exists "
             "(select 1 from orders o where o.customer_id = c.id and o.status = 'x')")
    crm, orders = by_key(q, "crm.customers"), by_key(q, "orders")
    assert crm.columns == ["id"]
    assert set(orders.columns) == {"customer_id", "amount", "status"}
    # one filter per occurrence of orders, and they differ: nothing pushed
    assert orders.pushed_predicates == []
    assert "EXISTS(SELECT 1 FROM dvt_src_2 AS o WHERE o.customer_id = c.id" in q.spark_sql


def test_subquery_predicate_is_never_pushed() -> None:
    (ext,) = plan(f"select id from {CRM_TEXT} where id in (select 1) and region = 'EU'").extractions
    assert ext.pushed_predicates == ["region = 'EU'"]


def test_outer_join_nullable_side_gets_no_where_pushdown() -> None:
    q = plan(f"select a.id, b.name from {CRM_TEXT} a left join orders b on a.id = b.cid "
             "and b.active where a.region = 'EU' and b.status = 'x'")
    assert by_key(q, "crm.customers").pushed_predicates == ["region = 'EU'"]
    # ON of a LEFT JOIN filters the right side before matching: pushed; its WHERE is not
    assert by_key(q, "orders").pushed_predicates == ["active"]


def test_full_join_pushes_nothing() -> None:
    q = plan("select a.x from t1 a full join t2 b on a.id = b.id and a.y = 1 "
             "where a.x > 1 and b.z = 2", relations={})
    assert all(e.pushed_predicates == [] for e in q.all_extractions)


def test_using_join_columns_go_to_both_sides() -> None:
    q = plan(f"select name, amount from {CRM_TEXT} c join orders o using (id)")
    assert "id" in by_key(q, "crm.customers").columns
    assert "id" in by_key(q, "orders").columns


def test_unqualified_columns_without_schema_are_kept_for_every_candidate() -> None:
    q = plan(f"select name, amount from {CRM_TEXT} c join orders o on o.cid = c.id "
             "where amount > 3")
    crm, orders = by_key(q, "crm.customers"), by_key(q, "orders")
    assert {"name", "amount"} <= set(crm.columns) and {"name", "amount"} <= set(orders.columns)
    assert set(crm.ambiguous_columns) == {"name", "amount"}
    assert crm.pushed_predicates == [] and orders.pushed_predicates == []


def test_schemas_resolve_unqualified_columns() -> None:
    q = plan(f"select name, amount from {CRM_TEXT} c join orders o on o.cid = c.id "
             "where amount > 3",
             schemas={"crm.customers": ["id", "name", "region"], "orders": ["cid", "amount"]})
    crm, orders = by_key(q, "crm.customers"), by_key(q, "orders")
    assert crm.sql == f'SELECT "id", "name" {PG_TABLE}'
    assert crm.ambiguous_columns == [] and crm.total_columns == 3
    assert orders.pushed_predicates == ["amount > 3"]
    assert crm.summary() == "crm.customers: 2 of 3 columns"
    assert orders.summary() == "orders: 2 of 2 columns, 1 predicate pushed down"


def test_projection_alias_in_group_by_is_not_a_column() -> None:
    (ext,) = plan(f"select upper(name) as n, count(*) as c from {CRM_TEXT} group by n").extractions
    assert ext.columns == ["name"]


def test_count_star_extracts_rows_only() -> None:
    (ext,) = plan(f"select count(*) as n from {CRM_TEXT}").extractions
    assert ext.sql == f'SELECT 1 AS "__dvt_row" {PG_TABLE}'
    assert ext.summary() == "crm.customers: no columns (rows only)"


def test_limit_pushed_only_for_plain_single_relation_query() -> None:
    (ext,) = plan(f"select * from {CRM_TEXT} where region = 'EU' limit 10").extractions
    assert ext.sql == f"SELECT * {PG_TABLE} WHERE region = 'EU' LIMIT 10" and ext.limit == 10
    for sql in (
        f"select id from {CRM_TEXT} order by id limit 10",
        f"select count(*) from {CRM_TEXT} limit 10",
        f"select distinct id from {CRM_TEXT} limit 10",
        f"select id from {CRM_TEXT} where random() < 0.5 limit 10",
        f"select id from {CRM_TEXT} limit 10 offset 5",
        f"select c.id from {CRM_TEXT} c join orders o on o.cid = c.id limit 10",
    ):
        assert by_key(plan(sql), "crm.customers").limit is None, sql


def test_postgres_model_to_duckdb_source() -> None:
    rel = ForeignRelation("lake.t", "duckdb", '"lake"."main"."t"')
    q = plan("select name from lake_t where amount::numeric(10,2) > 5 and name ilike 'a%'",
             relations={"lake_t": rel}, read="postgres")
    (ext,) = q.extractions
    assert ext.sql == ('SELECT name, amount FROM "lake"."main"."t" '
                       "WHERE CAST(amount AS DECIMAL(10, 2)) > 5 AND name ILIKE 'a%'")


def test_duckdb_model_to_postgres_source() -> None:
    (ext,) = plan(f"select id from {CRM_TEXT} where strftime(created_at, '%Y') = '2024'").extractions
    assert ext.pushed_predicates == ["TO_CHAR(created_at, 'YYYY') = '2024'"]


def test_snowflake_quoted_names_to_spark() -> None:
    rel = ForeignRelation("exim.t", "snowflake", '"EXIM"."ODS"."T"')
    q = plan('select "Mixed Case", "Weird ""q""", plain from "DB"."SCH"."T" where "Mixed Case" = 1',
             relations={'"DB"."SCH"."T"': rel}, read="snowflake")
    (ext,) = q.extractions
    assert ext.sql == ('SELECT "Mixed Case", "Weird ""q""", plain FROM "EXIM"."ODS"."T" '
                       'WHERE "Mixed Case" = 1')
    assert q.spark_sql == ('SELECT `Mixed Case`, `Weird "q"`, plain FROM dvt_src_1 AS `T` '
                           "WHERE `Mixed Case` = 1")


def test_uppercase_relation_names_match_and_schema_qualified_columns_are_rewritten() -> None:
    rel = ForeignRelation("crm.Cust", "postgres", '"crm"."public"."Cust"')
    q = plan('select "Main"."Cust"."Id" from "Db"."Main"."Cust"', relations={'"Db"."Main"."Cust"': rel})
    (ext,) = q.extractions
    assert ext.sql == 'SELECT "Id" FROM "crm"."public"."Cust"'
    assert q.spark_sql == "SELECT `Cust`.`Id` FROM dvt_src_1 AS `Cust`"


def test_every_local_relation_becomes_a_view_too() -> None:
    q = plan(f"select o.amount, c.name from orders o join {CRM_TEXT} c on c.id = o.cid "
             "join main.items i on i.oid = o.id", view_prefix="m1_")
    assert [e.view_name for e in q.all_extractions] == ["m1_1", "m1_2", "m1_3"]
    assert [e.key for e in q.local_extractions] == ["orders", "main.items"]
    assert by_key(q, "main.items").sql == "SELECT oid FROM main.items"
    assert "JOIN m1_3 AS i ON i.oid = o.id" in q.spark_sql


def test_union_branches_need_all_columns_of_their_stars() -> None:
    q = plan(f"with u as (select * from {CRM_TEXT} union all select * from other) select id from u")
    assert by_key(q, "crm.customers").all_columns and by_key(q, "other").all_columns


def test_describe_shows_each_extraction_and_the_spark_sql() -> None:
    text = plan(f"select c.id from {CRM_TEXT} c where c.region = 'EU'").describe()
    assert "dvt_src_1 <- crm.customers: 2 columns, 1 predicate pushed down [crm, postgres]" in text
    assert f"SELECT id, region {PG_TABLE} WHERE region = 'EU'" in text
    assert text.endswith("SELECT c.id FROM dvt_src_1 AS c WHERE c.region = 'EU'")


def test_not_a_single_select_is_an_error() -> None:
    with pytest.raises(FederationError, match="exactly one SELECT"):
        plan("select 1; select 2")
    with pytest.raises(FederationError, match="cannot parse"):
        plan("select from from where")


def test_struct_field_keeps_its_qualifier_and_extracts_the_struct_column() -> None:
    q = plan(f"select c.addr.city, name from {CRM_TEXT} c")
    (ext,) = q.extractions
    assert ext.columns == ["addr", "name"]
    assert q.spark_sql == "SELECT c.addr.city, name FROM dvt_src_1 AS c"


def test_window_and_qualify_columns() -> None:
    q = plan(f"select id, row_number() over (partition by region order by created_at) as rn "
             f"from {CRM_TEXT} qualify rn = 1")
    (ext,) = q.extractions
    assert ext.columns == ["id", "region", "created_at"] and ext.limit is None
    assert "ROW_NUMBER() OVER (PARTITION BY region ORDER BY created_at NULLS LAST)" in q.spark_sql


# -- scalar subqueries over the target (an incremental model's watermark) ----------------

THIS = '"wh"."main"."fed_inc"'
WATERMARK = f"(select max(updated_at) from {THIS})"


class Evaluator:
    """Plays the target: records the SQL it is asked to evaluate, returns `value`."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.calls: list[str] = []

    def __call__(self, sql: str) -> object:
        self.calls.append(sql)
        return self.value


def test_watermark_is_evaluated_on_the_target_and_pushed_to_the_source() -> None:
    ev = Evaluator(datetime.datetime(2024, 1, 1))
    q = plan(f"select c.id, c.updated_at from {CRM_TEXT} c where c.updated_at > {WATERMARK}",
             evaluate_scalar=ev)
    assert ev.calls == [f'SELECT MAX(updated_at) FROM {THIS}']  # the target's dialect
    (ext,) = q.extractions
    assert ext.sql == (f"SELECT id, updated_at {PG_TABLE} "
                       "WHERE updated_at > CAST('2024-01-01 00:00:00' AS TIMESTAMP)")
    # the target relation is no longer read by Spark: nothing else needed it
    assert q.local_extractions == []
    assert q.spark_sql == ("SELECT c.id, c.updated_at FROM dvt_src_1 AS c "
                           "WHERE c.updated_at > CAST('2024-01-01 00:00:00' AS TIMESTAMP)")
    assert q.watermark_pushed
    assert (f"-- watermark evaluated on the target: (SELECT MAX(updated_at) FROM {THIS}) = "
            "CAST('2024-01-01 00:00:00' AS TIMESTAMP) (pushed down)") in q.describe()
    # without an evaluator the subquery runs in Spark over the extracted target relation
    before = plan(f"select c.id from {CRM_TEXT} c where c.updated_at > {WATERMARK}")
    assert by_key(before, THIS).local and before.extractions[0].pushed_predicates == []
    assert not before.watermark_pushed


@pytest.mark.parametrize(("where", "value", "pushed"), [
    (f"c.updated_at >= {WATERMARK}", datetime.date(2024, 5, 6),
     "updated_at >= CAST('2024-05-06' AS DATE)"),
    (f"c.id < (select min(id) from {THIS}) and c.id > (select count(*) from {THIS} t) - 10",
     7, "id < 7 AND id > 7 - 10"),
    (f"c.updated_at between {WATERMARK} and ((select max(updated_at) from {THIS}))",
     datetime.datetime(2024, 1, 2, 3, 4, 5, 600),
     "updated_at BETWEEN CAST('2024-01-02 03:04:05.000600' AS TIMESTAMP) "
     "AND CAST('2024-01-02 03:04:05.000600' AS TIMESTAMP)"),
    (f"c.updated_at > coalesce({WATERMARK}, '1900-01-01')", TypedValue(None, "TIMESTAMP"),
     "updated_at > COALESCE(CAST(NULL AS TIMESTAMP), '1900-01-01')"),
    # an empty target: `x > NULL` is never true, as the original SQL on an empty table
    (f"c.updated_at > {WATERMARK}", None, "updated_at > NULL"),
    (f"c.name > (select max(name) from {THIS})", "O'Brien", "name > 'O''Brien'"),
    (f"c.amount > (select max(amount) from {THIS})", Decimal("-1.50"), "amount > -1.50"),
    (f"c.ts > {WATERMARK}",
     datetime.datetime(2024, 1, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     "ts > CAST('2024-01-01 00:00:00+00:00' AS TIMESTAMPTZ)"),
])
def test_watermark_forms_become_typed_literals(where: str, value: object, pushed: str) -> None:
    q = plan(f"select c.id from {CRM_TEXT} c where {where}", evaluate_scalar=Evaluator(value))
    (ext,) = q.extractions
    assert ext.sql.endswith(f"WHERE {pushed}"), ext.sql
    assert q.local_extractions == [] and q.watermark_pushed


def test_subqueries_that_are_not_local_scalars_are_not_evaluated() -> None:
    schemas = {THIS: ["id", "updated_at"]}
    for where in (
        # correlated, qualified or unqualified (the target relation has no customer_id)
        f"c.updated_at > (select max(t.updated_at) from {THIS} t where t.id = c.id)",
        f"c.updated_at > (select max(updated_at) from {THIS} where customer_id = 3)",
        # a set of rows, not one value
        f"c.id in (select id from {THIS})",
        f"exists (select 1 from {THIS} t where t.id > 3)",
        # reads the foreign relation itself, or a CTE of the outer query
        f"c.updated_at > (select max(updated_at) from {CRM_TEXT})",
        "c.updated_at > (select m from w)",
        f"c.id = (select * from {THIS})",
    ):
        ev = Evaluator(1)
        q = plan(f"with w as (select max(updated_at) as m from {THIS}) "
                 f"select c.id from {CRM_TEXT} c where {where}", schemas=schemas,
                 evaluate_scalar=ev)
        assert ev.calls == [] and q.evaluated == [], where
        assert q.extractions[0].pushed_predicates == [], where


def test_uncorrelated_filter_on_a_known_column_of_the_target_is_evaluated() -> None:
    ev = Evaluator(3)
    q = plan(f"select c.id from {CRM_TEXT} c where c.id > "
             f"(select max(id) from {THIS} where kind = 'x' having max(id) > 0 order by 1)",
             schemas={THIS: ["id", "kind"]}, evaluate_scalar=ev)
    assert len(ev.calls) == 1 and q.extractions[0].pushed_predicates == ["id > 3"]


def test_target_relation_still_read_when_the_model_joins_it() -> None:
    q = plan(f"select c.id, t.name from {CRM_TEXT} c join {THIS} t on t.id = c.id "
             f"where c.updated_at > {WATERMARK}",
             evaluate_scalar=Evaluator(datetime.datetime(2024, 1, 1)))
    assert q.extractions[0].pushed_predicates == [
        "updated_at > CAST('2024-01-01 00:00:00' AS TIMESTAMP)"]
    assert set(by_key(q, THIS).columns) == {"id", "name"}  # no updated_at: no subquery
    assert "JOIN dvt_src_2 AS t ON t.id = c.id WHERE c.updated_at > CAST(" in q.spark_sql


def test_nested_local_subqueries_are_evaluated_once_as_a_whole() -> None:
    ev = Evaluator(5)
    q = plan(f"select c.id from {CRM_TEXT} c where c.id > (select max(id) from {THIS} "
             f"where id < (select min(id) + 10 from {THIS}))", evaluate_scalar=ev)
    assert ev.calls == [f"SELECT MAX(id) FROM {THIS} WHERE id < (SELECT MIN(id) + 10 FROM {THIS})"]
    assert q.extractions[0].pushed_predicates == ["id > 5"]


def test_sqlite_source_compares_timestamps_as_text() -> None:
    rel = ForeignRelation("crm.c", "sqlite", '"main"."c"', "crm")
    q = plan(f"select c.id from crm_c c where c.updated_at > {WATERMARK}",
             relations={"crm_c": rel},
             evaluate_scalar=Evaluator(datetime.datetime(2024, 1, 1, 0, 0, 0, 500)))
    (ext,) = q.extractions
    # sqlite's DATETIME() would drop the fraction: the text itself compares exactly
    assert ext.pushed_predicates == ["updated_at > '2024-01-01 00:00:00.000500'"]
    assert q.watermark_pushed
    assert "CAST('2024-01-01 00:00:00.000500' AS TIMESTAMP)" in q.spark_sql


def test_value_without_a_portable_literal_keeps_the_subquery() -> None:
    q = plan(f"select c.id, (select count(*) from {THIS}) as n from {CRM_TEXT} c "
             f"where c.h = (select max(h) from {THIS})",
             evaluate_scalar=lambda sql: b"\x00" if "max" in sql.lower() else 4)
    assert [e.literal for e in q.evaluated] == ["4"]
    assert not q.watermark_pushed  # the count is a projection, not a filter
    assert "SELECT c.id, 4 AS n FROM" in q.spark_sql and "(SELECT MAX(h) FROM" in q.spark_sql
