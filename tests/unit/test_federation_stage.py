"""The staged route's pure parts: which route, and the SQL that reads the staged inputs."""

from __future__ import annotations

import pytest
from dvt_engine.adapters import Relation
from dvt_engine.errors import CompilationError
from dvt_engine.manifest import Node
from dvt_engine.tasks import stage


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
