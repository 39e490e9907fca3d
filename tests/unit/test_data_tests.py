"""Data tests on DuckDB: generic (builtin and custom), singular, severity and thresholds,
store_failures, tests on sources and seeds, console lines, exit codes, build skipping."""

from __future__ import annotations

import hashlib
import json

ORDERS = """
    {{ config(materialized='table') }}
    select * from (values (1, 10, 'a'), (2, 10, 'b'), (3, 20, 'c'), (3, 99, null))
        t(order_id, customer_id, status)
"""
CUSTOMERS = "select * from (values (10), (20)) t(id)"


def _orders_project(project, columns_yaml: str) -> None:
    project.write("models/orders.sql", ORDERS)
    project.write("models/customers.sql", CUSTOMERS)
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: orders
            columns:
    """ + columns_yaml)


def test_builtin_generic_tests_names_statuses_and_lines(project):
    _orders_project(project, """
              - name: order_id
                data_tests: [unique, not_null]
              - name: customer_id
                data_tests:
                  - not_null
                  - relationships:
                      to: ref('customers')
                      field: id
              - name: status
                data_tests:
                  - accepted_values:
                      values: ['a', 'b']
    """)
    assert project.dvt("run").exit_code == 0
    run = project.dvt("test")
    assert run.exit_code == 1, run.output
    assert run.statuses == {
        "unique_orders_order_id": "fail",
        "not_null_orders_order_id": "pass",
        "not_null_orders_customer_id": "pass",
        "relationships_orders_customer_id__id__ref_customers_": "fail",
        "accepted_values_orders_status__a__b": "fail",
    }
    failures = {r.node.name: r.failures for r in run.result.results}
    assert failures["unique_orders_order_id"] == 1
    assert failures["relationships_orders_customer_id__id__ref_customers_"] == 1
    # only 'c': dbt's `not in` drops null values
    assert failures["accepted_values_orders_status__a__b"] == 1
    assert "PASS not_null_orders_order_id " in run.output
    assert "FAIL 1 unique_orders_order_id " in run.output
    assert "[FAIL 1 in " in run.output
    assert "Failure in test unique_orders_order_id (models/schema.yml)" in run.output
    assert "  Got 1 result, configured to fail if != 0" in run.output
    assert "Done. PASS=2 WARN=0 ERROR=3 SKIP=0 NO-OP=0 TOTAL=5" in run.output
    assert "Finished running 5 data tests in" in run.output


def test_accepted_values_quote_false_and_tests_key(project):
    project.write("models/m.sql", "select * from (values (1), (2), (3)) t(n)")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            columns:
              - name: n
                tests:
                  - accepted_values:
                      values: [1, 2, 3]
                      quote: false
                  - accepted_values:
                      name: n_small
                      arguments:
                        values: [1, 2]
                        quote: false
    """)
    run = project.dvt("build")
    assert run.statuses["accepted_values_m_n__False__1__2__3"] == "pass", run.output
    assert run.statuses["n_small"] == "fail"
    assert run.exit_code == 1


def test_severity_warn_and_thresholds(project):
    _orders_project(project, """
              - name: order_id
                data_tests:
                  - unique:
                      config:
                        severity: warn
              - name: status
                data_tests:
                  - not_null:
                      config:
                        warn_if: ">0"
                        error_if: ">10"
                  - accepted_values:
                      values: ['a']
                      config:
                        error_if: ">2"
                        warn_if: ">1"
    """)
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert run.statuses["unique_orders_order_id"] == "warn"
    assert run.statuses["not_null_orders_status"] == "warn"
    assert run.statuses["accepted_values_orders_status__a"] == "warn"
    assert "WARN 1 unique_orders_order_id " in run.output
    assert "[WARN 1 in " in run.output
    assert "Warning in test not_null_orders_status (models/schema.yml)" in run.output
    assert "Got 1 result, configured to warn if >0" in run.output
    assert "Completed with 3 warnings:" in run.output
    assert "Done. PASS=2 WARN=3 ERROR=0 SKIP=0 NO-OP=0 TOTAL=5" in run.output
    # crossing error_if fails the run
    project.write("models/orders.sql", ORDERS.replace("(3, 99, null)",
                                                      "(3, 99, null), (4, 1, 'z')"))
    run = project.dvt("build", "-s", "orders+")
    assert run.statuses["accepted_values_orders_status__a"] == "fail"
    assert "Got 3 results, configured to fail if >2" in run.output
    assert run.exit_code == 1


def test_warn_error_makes_warnings_fail(project):
    _orders_project(project, """
              - name: order_id
                data_tests:
                  - unique:
                      config: {severity: warn}
    """)
    project.dvt("run")
    assert project.dvt("test").exit_code == 0
    run = project.dvt("test", "--warn-error")
    assert run.exit_code == 1, run.output


def test_where_and_limit(project):
    _orders_project(project, """
              - name: status
                data_tests:
                  - not_null:
                      config:
                        where: "order_id < 3"
              - name: customer_id
                data_tests:
                  - accepted_values:
                      values: [10]
                      quote: false
                      config:
                        limit: 1
    """)
    run = project.dvt("build")
    assert run.statuses["not_null_orders_status"] == "pass", run.output
    assert run.statuses["accepted_values_orders_customer_id__False__10"] == "fail"
    assert {r.node.name: r.failures for r in run.result.results
            if r.node.resource_type == "test"}["accepted_values_orders_customer_id__False__10"] == 1


def test_custom_generic_tests_in_macros_and_tests_generic(project):
    project.write("macros/is_even.sql", """
        {% test is_even(model, column_name) %}
        select * from {{ model }} where {{ column_name }} % 2 != 0
        {% endtest %}
    """)
    project.write("tests/generic/at_least.sql", """
        {% test at_least(model, column_name, min_value) %}
        select * from {{ model }} where {{ column_name }} < {{ min_value }}
        {% endtest %}
    """)
    project.write("models/m.sql", "select * from (values (2), (4), (5)) t(n)")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            columns:
              - name: n
                data_tests:
                  - is_even
                  - at_least:
                      min_value: 5
                  - at_least:
                      arguments:
                        min_value: 1
    """)
    run = project.dvt("build")
    assert run.statuses["is_even_m_n"] == "fail", run.output
    assert run.statuses["at_least_m_n__5"] == "fail"
    assert run.statuses["at_least_m_n__1"] == "pass"
    assert {r.node.name: r.failures for r in run.result.results}["at_least_m_n__5"] == 2


def test_model_level_generic_test_without_column(project):
    project.write("macros/rows.sql", """
        {% test has_rows(model) %}
        select 1 from (select count(*) as n from {{ model }}) where n = 0
        {% endtest %}
    """)
    project.write("models/m.sql", "select 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            data_tests: [has_rows]
    """)
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert run.statuses["has_rows_m_"] == "pass"


def test_singular_tests(project):
    project.write("models/m.sql", "select 1 as id")
    project.write("tests/assert_no_rows.sql", "select * from {{ ref('m') }} where id > 5")
    project.write("tests/assert_some_rows.sql", "select * from {{ ref('m') }}")
    project.write("tests/warn_only.sql", "{{ config(severity='warn') }}\n"
                                         "select * from {{ ref('m') }}")
    run = project.dvt("build")
    assert run.exit_code == 1
    assert run.statuses["assert_no_rows"] == "pass"
    assert run.statuses["assert_some_rows"] == "fail"
    assert run.statuses["warn_only"] == "warn"
    assert "Failure in test assert_some_rows (tests/assert_some_rows.sql)" in run.output


def test_store_failures(project):
    _orders_project(project, """
              - name: order_id
                data_tests:
                  - unique:
                      config:
                        store_failures: true
                  - not_null
    """)
    run = project.dvt("build")
    assert run.statuses["unique_orders_order_id"] == "fail", run.output
    assert project.query('select unique_field, n_records from "main_dbt_test__audit"'
                         '."unique_orders_order_id"') == [(3, 2)]
    assert not project.query("select * from information_schema.tables "
                             "where table_name = 'not_null_orders_order_id'")
    # --store-failures stores every test, passing ones too (empty table)
    run = project.dvt("test", "--store-failures")
    assert project.query('select count(*) from "main_dbt_test__audit"'
                         '."not_null_orders_order_id"') == [(0,)]


def test_tests_on_sources_and_seeds(project):
    project.write("seeds/raw.csv", "id,kind\n1,x\n1,y\n")
    project.write("models/sources.yml", """
        version: 2
        sources:
          - name: app
            schema: main
            tables:
              - name: raw
                columns:
                  - name: kind
                    data_tests:
                      - accepted_values:
                          values: [x]
        seeds:
          - name: raw
            columns:
              - name: id
                data_tests: [unique, not_null]
    """)
    project.write("models/m.sql", "select * from {{ source('app', 'raw') }}")
    run = project.dvt("build")
    assert run.statuses["source_accepted_values_app_raw_kind__x"] == "fail", run.output
    assert run.statuses["unique_raw_id"] == "fail"
    assert run.statuses["not_null_raw_id"] == "pass"
    # dbt build: a failing test on a source skips the source's children too
    assert run.statuses["m"] == "skipped"
    assert run.exit_code == 1


def test_build_skips_children_of_failing_test_only(project):
    _orders_project(project, """
              - name: order_id
                data_tests: [unique]
    """)
    project.write("models/child.sql", "select * from {{ ref('orders') }}")
    project.write("models/grandchild.sql", "select * from {{ ref('child') }}")
    project.write("models/unrelated.sql", "select 1 as x")
    run = project.dvt("build")
    assert run.exit_code == 1
    assert run.statuses["orders"] == "success"
    assert run.statuses["unique_orders_order_id"] == "fail"
    assert run.statuses["child"] == "skipped"
    assert run.statuses["grandchild"] == "skipped"
    assert run.statuses["unrelated"] == "success"
    assert run.statuses["customers"] == "success"
    assert "SKIP relation main.child" in run.output
    assert "Done. PASS=3 WARN=0 ERROR=1 SKIP=2 NO-OP=0 TOTAL=6" in run.output


def test_build_warn_test_does_not_skip_children(project):
    _orders_project(project, """
              - name: order_id
                data_tests:
                  - unique:
                      config: {severity: warn}
    """)
    project.write("models/child.sql", "select * from {{ ref('orders') }}")
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert run.statuses["child"] == "success"


def test_build_skips_tests_of_failed_model(project):
    project.write("models/broken.sql", "select no_such_column from (select 1 as id)")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: broken
            columns:
              - name: id
                data_tests: [not_null]
    """)
    run = project.dvt("build")
    assert run.exit_code == 1
    assert run.statuses == {"broken": "error", "not_null_broken_id": "skipped"}


def test_test_results_in_run_results_json(project):
    _orders_project(project, """
              - name: order_id
                data_tests: [unique, not_null]
    """)
    project.dvt("build")
    results = json.loads((project.root / "target/run_results.json").read_text())["results"]
    by_id = {r["unique_id"].split(".")[2]: r for r in results}
    assert by_id["unique_orders_order_id"]["status"] == "fail"
    assert by_id["unique_orders_order_id"]["failures"] == 1
    assert by_id["unique_orders_order_id"]["message"] == \
        "Got 1 result, configured to fail if != 0"
    assert by_id["not_null_orders_order_id"]["status"] == "pass"
    assert by_id["not_null_orders_order_id"]["failures"] == 0
    compiled = project.root / ("target/compiled/proj/models/schema.yml/"
                               "unique_orders_order_id.sql")
    assert "count(*) > 1" in compiled.read_text()


def test_long_generic_test_name_is_hashed(project):
    project.write("models/a_rather_long_model_name_for_orders.sql",
                  "select 'a' as some_long_status_column_name")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: a_rather_long_model_name_for_orders
            columns:
              - name: some_long_status_column_name
                data_tests:
                  - accepted_values:
                      values: ['a', 'b', 'c', 'd']
    """)
    run = project.dvt("build", "--store-failures")
    assert run.exit_code == 0, run.output
    name = ("accepted_values_a_rather_long_model_name_for_orders_some_long_status_column_name"
            "__a__b__c__d")
    assert run.statuses[name] == "pass"
    # the relation (alias) is shortened to prefix + md5 like dbt's
    tables = [r[0] for r in project.query(
        "select table_name from information_schema.tables "
        "where table_schema = 'main_dbt_test__audit'")]
    # dbt: (test type + model name)[:30] + "_" + md5(full name)
    digest = hashlib.md5(name.encode()).hexdigest()
    assert tables == [f"accepted_values_a_rather_long__{digest}"]


def test_tests_on_an_ephemeral_model(project):
    project.write("models/eph.sql", "{{ config(materialized='ephemeral') }}\n"
                                    "select * from (values (1), (1), (null)) t(id)")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: eph
            columns:
              - name: id
                data_tests: [unique, not_null]
    """)
    project.write("tests/eph_rows.sql", "select * from {{ ref('eph') }} where id > 1")
    run = project.dvt("test")
    assert run.statuses == {"unique_eph_id": "fail", "not_null_eph_id": "fail",
                            "eph_rows": "pass"}, run.output


def test_generic_test_gets_model_as_relation(project):
    # dbt renders kwargs natively: `model` is a Relation that adapter methods accept
    project.write("macros/cols.sql", """
        {% test has_columns(model, expected) %}
        {% set names = adapter.get_columns_in_relation(model) | map(attribute='name') | list %}
        select '{{ model.name }}' as m where {{ names | length }} != {{ expected }}
        {% endtest %}
    """)
    project.write("models/t.sql", "{{ config(materialized='table') }}\nselect 1 as a, 2 as b")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: t
            data_tests:
              - has_columns: {expected: 2}
              - has_columns: {expected: 3}
    """)
    run = project.dvt("build")
    assert run.statuses["has_columns_t_2"] == "pass", run.output
    assert run.statuses["has_columns_t_3"] == "fail"


def test_erroring_test_line_and_exit_code(project):
    project.write("models/m.sql", "select 1 as id")
    project.write("tests/bad.sql", "select no_such_col from {{ ref('m') }}")
    run = project.dvt("build")
    assert run.exit_code == 1
    assert run.statuses["bad"] == "error"
    assert "ERROR bad " in run.output and "[ERROR in " in run.output
    assert "Done. PASS=1 WARN=0 ERROR=1 SKIP=0 NO-OP=0 TOTAL=2" in run.output
