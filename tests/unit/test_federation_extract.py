"""plan_extractions: which columns and predicates go to each connection, and the Spark SQL."""

from __future__ import annotations

import pytest
from dvt_engine.federation import (
    Extraction,
    FederatedQuery,
    FederationError,
    ForeignRelation,
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
