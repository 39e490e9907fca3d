"""The staged route's pure parts: which route, and the SQL that reads the staged inputs."""

from __future__ import annotations

import pytest
from dvt_engine.adapters import Relation
from dvt_engine.errors import CompilationError
from dvt_engine.execution import stage
from dvt_engine.manifest import Node


def _node(**config: object) -> Node:
    return Node(unique_id="model.p.m", resource_type="model", name="m", package_name="p",
                original_file_path="models/m.sql", path="m.sql", fqn=["p", "m"],
                config=dict(config))


def test_read_staged_replaces_whole_relation_names_only() -> None:
    staged = {'"lake"."main"."packs"': Relation("db", "analytics", "m__dvt_in_0"),
              "crm.main.customers": Relation("db", "analytics", "m__dvt_in_1")}
    sql = ('select * from "lake"."main"."packs" p join crm.main.customers c on true '
           "join crm.main.customers_v2 v on true join x.crm.main.customers y on true")
    out = stage.read_staged(sql, staged)
    assert out == ('select * from "db"."analytics"."m__dvt_in_0" p join '
                   '"db"."analytics"."m__dvt_in_1" c on true '
                   "join crm.main.customers_v2 v on true join x.crm.main.customers y on true")
    with pytest.raises(CompilationError, match="cannot find"):
        stage.read_staged("select 1", staged)


def test_route_from_config_and_sizes() -> None:
    assert stage.choose_before_extraction(_node(), [None, 10]) is None
    spark = stage.choose_before_extraction(_node(federation_stage_max_rows=5), [None, 10])
    assert spark is not None and spark.route == stage.SPARK
    assert stage.choose_before_extraction(_node(federation_route="spark"), []).route == "spark"
    assert stage.choose_before_extraction(_node(federation_route="STAGE"), [10**9]).route \
        == "stage"
    with pytest.raises(CompilationError, match="federation_route 'duck'"):
        stage.choose_before_extraction(_node(federation_route="duck"), [])
    with pytest.raises(CompilationError, match="federation_stage_max_rows"):
        stage.choose_before_extraction(_node(federation_stage_max_rows="many"), [])


def test_staged_column_names_follow_the_targets_identifier_folding() -> None:
    from dvt_engine.adapters import Adapter

    class Upper(Adapter):
        identifier_folding = "upper"

    class Lower(Adapter):
        identifier_folding = "lower"

    class Any_(Adapter):
        identifier_folding = None

    up, low, anycase = (object.__new__(c) for c in (Upper, Lower, Any_))
    # Snowflake's unquoted COUNTRY_CODE is country_code to PostgreSQL; a quoted mixed-case
    # name keeps its spelling
    assert stage.target_names(["COUNTRY_CODE", "MixedCase"], up, low) == \
        ["country_code", "MixedCase"]
    # PostgreSQL's unquoted names are upper case to Snowflake
    assert stage.target_names(["country_code", "Quoted"], low, up) == ["COUNTRY_CODE", "Quoted"]
    # from an engine that ignores case, every name folds; to one, nothing changes
    assert stage.target_names(["CustomerId"], anycase, low) == ["customerid"]
    assert stage.target_names(["COUNTRY_CODE"], up, anycase) == ["COUNTRY_CODE"]
