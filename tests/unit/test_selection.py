"""Node selection: dbt's --select / --exclude / --selector grammar."""

from __future__ import annotations

import time
from typing import Any

import pytest
from dvt_engine.errors import SelectionError
from dvt_engine.manifest import Manifest, Node
from dvt_engine.selection import Selection, parse_spec, select

# short names -> unique ids
SRC_ORDERS = "source.demo.raw.orders"
SRC_CUSTOMERS = "source.demo.raw.customers"
SEED = "seed.demo.country_codes"
STG_ORDERS = "model.demo.stg_orders"
STG_CUSTOMERS = "model.demo.stg_customers"
ORDERS = "model.demo.orders"
CUSTOMERS = "model.demo.customers"
SUMMARY = "model.demo.order_summary"
SNAPSHOT = "snapshot.demo.orders_snapshot"
ANALYSIS = "analysis.demo.adhoc"
T_UNIQUE_STG = "test.demo.unique_stg_orders_order_id"
T_NOT_NULL = "test.demo.not_null_orders_order_id"
T_REL = "test.demo.relationships_orders_customer_id__customer_id__ref_customers_"
T_SRC_UNIQUE = "test.demo.source_unique_raw_orders_id"
T_SINGULAR = "test.demo.assert_positive_totals"
DISABLED = "model.demo.legacy"

MODELS = {STG_ORDERS, STG_CUSTOMERS, ORDERS, CUSTOMERS, SUMMARY}
TESTS = {T_UNIQUE_STG, T_NOT_NULL, T_REL, T_SRC_UNIQUE, T_SINGULAR}
SOURCES = {SRC_ORDERS, SRC_CUSTOMERS}
EVERYTHING = MODELS | TESTS | SOURCES | {SEED, SNAPSHOT, ANALYSIS}
BUILD = ("model", "seed", "snapshot", "test")


def model(name: str, folder: str, deps: list[str], **config: Any) -> Node:
    cfg = {"materialized": "view", "enabled": True, "tags": [], **config}
    return Node(
        unique_id=f"model.demo.{name}",
        resource_type="model",
        name=name,
        package_name="demo",
        original_file_path=f"models/{folder}/{name}.sql",
        path=f"{folder}/{name}.sql",
        fqn=["demo", folder, name],
        config=cfg,
        depends_on_nodes=deps,
    )


def source(table: str) -> Node:
    return Node(
        unique_id=f"source.demo.raw.{table}",
        resource_type="source",
        name=table,
        package_name="demo",
        original_file_path="models/sources.yml",
        path="models/sources.yml",
        fqn=["demo", "raw", table],
        source_name="raw",
        config={"enabled": True, "tags": ["raw"]},
    )


def generic_test(
    uid: str, test: str, yml: str, fqn: list[str], deps: list[str], **config: Any
) -> Node:
    return Node(
        unique_id=uid,
        resource_type="test",
        name=uid.split(".")[-1],
        package_name="demo",
        original_file_path=yml,
        path=uid.split(".")[-1] + ".sql",
        fqn=fqn,
        config={"enabled": True, "tags": [], "severity": "ERROR", **config},
        depends_on_nodes=deps,
        test_metadata={"name": test, "kwargs": {"column_name": "id"}},
    )


def build_manifest() -> Manifest:
    m = Manifest(project_name="demo")
    m.add(source("orders"))
    m.add(source("customers"))
    m.add(
        Node(
            unique_id=SEED,
            resource_type="seed",
            name="country_codes",
            package_name="demo",
            original_file_path="seeds/country_codes.csv",
            path="country_codes.csv",
            fqn=["demo", "country_codes"],
            config={"materialized": "seed", "enabled": True, "tags": []},
        )
    )
    m.add(model("stg_orders", "staging", [SRC_ORDERS], tags=["staging", "daily"]))
    m.add(model("stg_customers", "staging", [SRC_CUSTOMERS, SEED], tags=["staging"]))
    m.add(
        model(
            "orders",
            "marts",
            [STG_ORDERS, STG_CUSTOMERS],
            materialized="table",
            tags=["finance"],
            meta={"owner": "alice"},
        )
    )
    m.add(model("customers", "marts", [STG_CUSTOMERS, ORDERS], materialized="table"))
    m.add(model("order_summary", "marts", [CUSTOMERS], materialized="incremental", contract=False))
    m.add(
        Node(
            unique_id=SNAPSHOT,
            resource_type="snapshot",
            name="orders_snapshot",
            package_name="demo",
            original_file_path="snapshots/orders_snapshot.sql",
            path="orders_snapshot.sql",
            fqn=["demo", "orders_snapshot", "orders_snapshot"],
            config={"materialized": "snapshot", "enabled": True, "tags": []},
            depends_on_nodes=[STG_ORDERS],
        )
    )
    m.add(
        Node(
            unique_id=ANALYSIS,
            resource_type="analysis",
            name="adhoc",
            package_name="demo",
            original_file_path="analyses/adhoc.sql",
            path="adhoc.sql",
            fqn=["demo", "analysis", "adhoc"],
            config={"enabled": True, "tags": []},
            depends_on_nodes=[ORDERS],
        )
    )
    m.add(
        generic_test(
            T_UNIQUE_STG,
            "unique",
            "models/staging/schema.yml",
            ["demo", "staging", "unique_stg_orders_order_id"],
            [STG_ORDERS],
        )
    )
    m.add(
        generic_test(
            T_NOT_NULL,
            "not_null",
            "models/marts/schema.yml",
            ["demo", "marts", "not_null_orders_order_id"],
            [ORDERS],
            severity="warn",
        )
    )
    m.add(
        generic_test(
            T_REL,
            "relationships",
            "models/marts/schema.yml",
            ["demo", "marts", T_REL.split(".")[-1]],
            [CUSTOMERS, ORDERS],
        )
    )
    m.add(
        generic_test(
            T_SRC_UNIQUE,
            "unique",
            "models/sources.yml",
            ["demo", "source_unique_raw_orders_id"],
            [SRC_ORDERS],
        )
    )
    m.add(
        Node(
            unique_id=T_SINGULAR,
            resource_type="test",
            name="assert_positive_totals",
            package_name="demo",
            original_file_path="tests/assert_positive_totals.sql",
            path="assert_positive_totals.sql",
            fqn=["demo", "assert_positive_totals"],
            config={"enabled": True, "tags": ["finance"], "severity": "ERROR"},
            depends_on_nodes=[ORDERS],
        )
    )
    legacy = model("legacy", "staging", [STG_ORDERS], enabled=False)
    m.disabled[legacy.unique_id] = legacy
    return m


@pytest.fixture
def manifest() -> Manifest:
    return build_manifest()


def ids(m: Manifest, *specs: str, **kwargs: Any) -> set[str]:
    return select(m, select=list(specs), **kwargs).unique_ids


def direct(m: Manifest, *specs: str, **kwargs: Any) -> set[str]:
    """Selection without indirect test expansion."""
    return ids(m, *specs, indirect_selection="empty", **kwargs)


# -- default selection and return shape ----------------------------------------------


def test_nothing_selected_means_all_enabled_nodes(manifest: Manifest) -> None:
    result = select(manifest)
    assert isinstance(result, Selection)
    assert result.unique_ids == EVERYTHING
    assert result.unmatched == []
    assert DISABLED not in result.unique_ids
    assert select(manifest, select=[]).unique_ids == EVERYTHING


def test_default_types_filter(manifest: Manifest) -> None:
    assert select(manifest, default_types=("model",)).unique_ids == MODELS
    assert select(manifest, default_types=BUILD).unique_ids == MODELS | TESTS | {SEED, SNAPSHOT}


# -- method-less specs ------------------------------------------------------------------


def test_select_by_name_includes_tests_eagerly(manifest: Manifest) -> None:
    assert ids(manifest, "stg_orders") == {STG_ORDERS, T_UNIQUE_STG}
    assert direct(manifest, "stg_orders") == {STG_ORDERS}
    assert ids(manifest, "stg_orders", default_types=("model",)) == {STG_ORDERS}


def test_select_by_fqn_paths(manifest: Manifest) -> None:
    assert direct(manifest, "demo.staging.stg_orders") == {STG_ORDERS}
    assert direct(manifest, "staging.stg_orders") == {STG_ORDERS}
    assert direct(manifest, "staging") == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert direct(manifest, "demo.marts") == {ORDERS, CUSTOMERS, SUMMARY, T_NOT_NULL, T_REL}
    assert direct(manifest, "demo") == EVERYTHING - SOURCES
    assert direct(manifest, "analysis") == {ANALYSIS}


def test_select_with_wildcards(manifest: Manifest) -> None:
    assert direct(manifest, "stg_*") == {STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "stg_?rders") == {STG_ORDERS}
    assert direct(manifest, "marts.*") == {ORDERS, CUSTOMERS, SUMMARY, T_NOT_NULL, T_REL}
    assert direct(manifest, "demo.staging.*_orders") == {STG_ORDERS}
    assert direct(manifest, "*") == EVERYTHING - SOURCES
    assert direct(manifest, "fqn:*summary") == {SUMMARY}


def test_sources_are_not_selected_by_name(manifest: Manifest) -> None:
    result = select(manifest, select=["raw.orders"])
    assert result.unique_ids == set()
    assert result.unmatched == ["raw.orders"]


def test_path_like_specs(manifest: Manifest) -> None:
    assert direct(manifest, "models/staging") == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert direct(manifest, "models/marts/orders.sql") == {ORDERS}
    # a bare file name is a file: spec (so orders_snapshot does not match)
    assert direct(manifest, "orders.sql") == {ORDERS}
    assert direct(manifest, "country_codes.csv") == {SEED}


# -- graph operators ---------------------------------------------------------------------


def test_parents_operator(manifest: Manifest) -> None:
    assert direct(manifest, "+orders") == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
        SRC_ORDERS,
        SRC_CUSTOMERS,
        SEED,
    }
    assert direct(manifest, "1+orders") == {ORDERS, STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "2+orders") == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
        SRC_ORDERS,
        SRC_CUSTOMERS,
        SEED,
    }
    assert direct(manifest, "+orders", default_types=("model",)) == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
    }


def test_children_operator(manifest: Manifest) -> None:
    assert direct(manifest, "orders+") == {
        ORDERS,
        CUSTOMERS,
        SUMMARY,
        ANALYSIS,
        T_NOT_NULL,
        T_REL,
        T_SINGULAR,
    }
    assert direct(manifest, "orders+1") == {
        ORDERS,
        CUSTOMERS,
        ANALYSIS,
        T_NOT_NULL,
        T_REL,
        T_SINGULAR,
    }
    assert direct(manifest, "orders+1", default_types=("model",)) == {ORDERS, CUSTOMERS}
    assert direct(manifest, "orders+2", default_types=("model",)) == {ORDERS, CUSTOMERS, SUMMARY}


def test_both_directions(manifest: Manifest) -> None:
    assert direct(manifest, "+stg_orders+", default_types=("model", "source", "snapshot")) == {
        SRC_ORDERS,
        STG_ORDERS,
        ORDERS,
        CUSTOMERS,
        SUMMARY,
        SNAPSHOT,
    }
    assert direct(manifest, "1+customers+1", default_types=("model",)) == {
        STG_CUSTOMERS,
        ORDERS,
        CUSTOMERS,
        SUMMARY,
    }


def test_at_operator(manifest: Manifest) -> None:
    # stg_customers, its descendants and every ancestor of those
    assert direct(manifest, "@stg_customers", default_types=("model", "source", "seed")) == {
        STG_CUSTOMERS,
        ORDERS,
        CUSTOMERS,
        SUMMARY,
        STG_ORDERS,
        SRC_ORDERS,
        SRC_CUSTOMERS,
        SEED,
    }
    # snapshot and stg_orders' test are neither descendants nor their ancestors
    at = direct(manifest, "@stg_customers")
    assert SNAPSHOT not in at and T_UNIQUE_STG not in at


def test_graph_operators_on_methods(manifest: Manifest) -> None:
    assert direct(manifest, "source:raw+", default_types=("model",)) == MODELS
    assert direct(manifest, "+tag:finance", default_types=("model",)) == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
    }
    assert direct(manifest, "+path:models/marts/customers.sql", default_types=("seed",)) == {SEED}


# -- methods ------------------------------------------------------------------------


def test_tag_method(manifest: Manifest) -> None:
    assert direct(manifest, "tag:staging") == {STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "tag:daily") == {STG_ORDERS}
    assert direct(manifest, "tag:fin*") == {ORDERS, T_SINGULAR}
    assert direct(manifest, "tag:raw") == SOURCES


def test_path_method(manifest: Manifest) -> None:
    assert direct(manifest, "path:models/staging") == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert direct(manifest, "path:models/staging/") == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert direct(manifest, "path:./models/staging") == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert direct(manifest, "path:models/staging/*.sql") == {STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "path:models/*/orders.sql") == {ORDERS}
    assert direct(manifest, "path:models/**/*.yml") == TESTS - {T_SINGULAR} | SOURCES
    assert direct(manifest, "path:models/*/*.yml") == {T_UNIQUE_STG, T_NOT_NULL, T_REL}
    assert direct(manifest, "path:models/sources.yml") == SOURCES | {T_SRC_UNIQUE}
    assert direct(manifest, "path:seeds") == {SEED}
    assert direct(manifest, "path:tests") == {T_SINGULAR}
    assert direct(manifest, "path:models") == MODELS | SOURCES | TESTS - {T_SINGULAR}
    # a partial folder name is not a prefix match
    assert direct(manifest, "path:models/stag") == set()


def test_path_method_matches_patch_file(manifest: Manifest) -> None:
    manifest.nodes[ORDERS].patch_path = "demo://models/marts/orders.yml"
    assert direct(manifest, "path:models/marts/orders.yml") == {ORDERS}


def test_file_method(manifest: Manifest) -> None:
    assert direct(manifest, "file:orders.sql") == {ORDERS}
    assert direct(manifest, "file:orders") == {ORDERS}
    assert direct(manifest, "file:*orders*") == {STG_ORDERS, ORDERS, SNAPSHOT}
    assert direct(manifest, "file:schema.yml") == {T_UNIQUE_STG, T_NOT_NULL, T_REL}


def test_source_method(manifest: Manifest) -> None:
    assert direct(manifest, "source:raw") == SOURCES
    assert direct(manifest, "source:raw.orders") == {SRC_ORDERS}
    assert direct(manifest, "source:raw.*ers") == SOURCES
    assert direct(manifest, "source:raw.cust*") == {SRC_CUSTOMERS}
    assert direct(manifest, "source:demo.raw.orders") == {SRC_ORDERS}
    assert direct(manifest, "source:other.raw.orders") == set()
    assert direct(manifest, "source:*") == SOURCES
    assert ids(manifest, "source:raw.orders") == {SRC_ORDERS, T_SRC_UNIQUE}
    with pytest.raises(SelectionError, match="Invalid source selector"):
        select(manifest, select=["source:a.b.c.d"])


def test_resource_type_method(manifest: Manifest) -> None:
    assert direct(manifest, "resource_type:seed") == {SEED}
    assert direct(manifest, "resource_type:model") == MODELS
    assert direct(manifest, "resource_type:test") == TESTS
    assert direct(manifest, "resource_type:source") == SOURCES
    assert direct(manifest, "resource_type:snapshot") == {SNAPSHOT}
    assert direct(manifest, "resource_type:analysis") == {ANALYSIS}
    with pytest.raises(SelectionError, match="resource_type"):
        select(manifest, select=["resource_type:bogus"])


def test_config_method(manifest: Manifest) -> None:
    assert direct(manifest, "config.materialized:table") == {ORDERS, CUSTOMERS}
    assert direct(manifest, "config.materialized:view") == {STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "config.materialized:incremental") == {SUMMARY}
    assert direct(manifest, "config.tags:finance") == {ORDERS, T_SINGULAR}
    assert direct(manifest, "config.enabled:true") == EVERYTHING
    assert direct(manifest, "config.enabled:false") == set()
    assert direct(manifest, "config.contract:false") == {SUMMARY}
    assert direct(manifest, "config.contract:true") == set()
    assert direct(manifest, "config.meta.owner:alice") == {ORDERS}
    assert direct(manifest, "config.schema:x") == set()
    # severity compares case-insensitively; other keys do not
    assert direct(manifest, "config.severity:WARN") == {T_NOT_NULL}
    assert direct(manifest, "config.materialized:TABLE") == set()


def test_package_method(manifest: Manifest) -> None:
    assert direct(manifest, "package:demo") == EVERYTHING
    assert direct(manifest, "package:this") == EVERYTHING
    assert direct(manifest, "package:de*") == EVERYTHING
    assert direct(manifest, "package:dbt_utils") == set()


def test_test_type_and_name_methods(manifest: Manifest) -> None:
    generic = {T_UNIQUE_STG, T_NOT_NULL, T_REL, T_SRC_UNIQUE}
    assert direct(manifest, "test_type:generic") == generic
    assert direct(manifest, "test_type:schema") == generic
    assert direct(manifest, "test_type:singular") == {T_SINGULAR}
    assert direct(manifest, "test_type:data") == TESTS
    assert direct(manifest, "test_type:unit") == set()
    assert direct(manifest, "test_name:unique") == {T_UNIQUE_STG, T_SRC_UNIQUE}
    assert direct(manifest, "test_name:not_*") == {T_NOT_NULL}
    assert direct(manifest, "test_name:relationships") == {T_REL}
    with pytest.raises(SelectionError, match="test type"):
        select(manifest, select=["test_type:bogus"])


def test_fqn_method_and_group_access(manifest: Manifest) -> None:
    assert direct(manifest, "fqn:stg_orders") == {STG_ORDERS}
    assert direct(manifest, "fqn:demo.marts.orders") == {ORDERS}
    manifest.nodes[ORDERS].config["group"] = "finance"
    manifest.nodes[ORDERS].config["access"] = "public"
    assert direct(manifest, "group:finance") == {ORDERS}
    assert direct(manifest, "access:public") == {ORDERS}


def test_exposure_and_metric_match_nothing(manifest: Manifest) -> None:
    result = select(manifest, select=["exposure:dash", "metric:revenue"])
    assert result.unique_ids == set()
    assert result.unmatched == ["exposure:dash", "metric:revenue"]


# -- set operators ------------------------------------------------------------------


def test_union_of_space_separated_and_list_items(manifest: Manifest) -> None:
    assert direct(manifest, "tag:finance stg_orders") == {ORDERS, T_SINGULAR, STG_ORDERS}
    assert direct(manifest, "tag:finance", "stg_orders") == {ORDERS, T_SINGULAR, STG_ORDERS}
    assert direct(manifest, "country_codes", "  ") == {SEED}


def test_intersection(manifest: Manifest) -> None:
    assert direct(manifest, "tag:staging,config.materialized:view") == {STG_ORDERS, STG_CUSTOMERS}
    assert direct(manifest, "tag:staging,tag:daily") == {STG_ORDERS}
    assert direct(manifest, "+orders,resource_type:seed") == {SEED}
    assert direct(manifest, "+summary_not_here,tag:staging") == set()
    assert direct(manifest, "path:models/marts,config.materialized:table,orders+") == {
        ORDERS,
        CUSTOMERS,
    }


def test_intersection_applies_to_expanded_tests(manifest: Manifest) -> None:
    # each criterion expands to its tests before intersecting, as dbt does
    assert ids(manifest, "tag:finance,orders") == {ORDERS, T_NOT_NULL, T_REL, T_SINGULAR}


# -- exclusion ---------------------------------------------------------------------


def test_exclude(manifest: Manifest) -> None:
    result = select(manifest, select=["+orders"], exclude=["source:*"], indirect_selection="empty")
    assert result.unique_ids == {ORDERS, STG_ORDERS, STG_CUSTOMERS, SEED}
    assert direct(manifest, "tag:staging tag:finance", default_types=("model",)) == {
        STG_ORDERS,
        STG_CUSTOMERS,
        ORDERS,
    }
    result = select(manifest, select=["staging+"], exclude=["orders+"], default_types=("model",))
    assert result.unique_ids == {STG_ORDERS, STG_CUSTOMERS}


def test_exclude_alone_starts_from_everything(manifest: Manifest) -> None:
    result = select(manifest, exclude=["stg_orders"])
    # excluding a model also excludes its tests (exclusion is always eager)
    assert result.unique_ids == EVERYTHING - {STG_ORDERS, T_UNIQUE_STG}
    result = select(manifest, exclude=["stg_orders"], indirect_selection="cautious")
    assert result.unique_ids == EVERYTHING - {STG_ORDERS, T_UNIQUE_STG}
    result = select(manifest, exclude=["tag:staging tag:raw", "test_type:singular"])
    assert result.unique_ids == EVERYTHING - SOURCES - {
        STG_ORDERS,
        STG_CUSTOMERS,
        T_UNIQUE_STG,
        T_SRC_UNIQUE,
        T_SINGULAR,
    }


def test_exclude_with_graph_operators(manifest: Manifest) -> None:
    result = select(manifest, exclude=["+orders"], default_types=("model", "seed", "source"))
    assert result.unique_ids == {CUSTOMERS, SUMMARY}


# -- unmatched criteria ----------------------------------------------------------------


def test_unmatched_criteria_are_reported(manifest: Manifest) -> None:
    result = select(manifest, select=["nope tag:staging", "legacy"])
    assert result.unique_ids == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert result.unmatched == ["nope", "legacy"]  # disabled nodes never match


def test_unmatched_intersection_reported_whole(manifest: Manifest) -> None:
    result = select(manifest, select=["tag:staging,tag:finance"])
    assert result.unique_ids == set()
    assert result.unmatched == ["tag:staging,tag:finance"]


def test_unmatched_is_about_enabled_nodes_not_command_types(manifest: Manifest) -> None:
    # a seed selected by `dbt run` matches (then filtered): no warning
    result = select(manifest, select=["country_codes"], default_types=("model",))
    assert result.unique_ids == set()
    assert result.unmatched == []


def test_unmatched_excludes_are_reported(manifest: Manifest) -> None:
    result = select(manifest, select=["stg_orders"], exclude=["nope"])
    assert result.unique_ids == {STG_ORDERS, T_UNIQUE_STG}
    assert result.unmatched == ["nope"]


# -- indirect selection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "spec", "expected"),
    [
        ("eager", "orders", {ORDERS, T_NOT_NULL, T_REL, T_SINGULAR}),
        ("cautious", "orders", {ORDERS, T_NOT_NULL, T_SINGULAR}),
        ("buildable", "orders", {ORDERS, T_NOT_NULL, T_SINGULAR}),
        ("empty", "orders", {ORDERS}),
        ("eager", "customers", {CUSTOMERS, T_REL}),
        ("cautious", "customers", {CUSTOMERS}),
        # orders is an ancestor of customers, so the relationships test is buildable
        ("buildable", "customers", {CUSTOMERS, T_REL}),
        ("empty", "customers", {CUSTOMERS}),
        ("cautious", "orders customers", {ORDERS, CUSTOMERS, T_NOT_NULL, T_SINGULAR, T_REL}),
        ("cautious", "orders,customers", set()),
        ("buildable", "source:raw", SOURCES | {T_SRC_UNIQUE}),
    ],
)
def test_indirect_selection_modes(
    manifest: Manifest, mode: str, spec: str, expected: set[str]
) -> None:
    assert select(manifest, select=[spec], indirect_selection=mode).unique_ids == expected


def test_explicitly_selected_tests_are_kept(manifest: Manifest) -> None:
    assert direct(manifest, T_NOT_NULL.split(".")[-1]) == {T_NOT_NULL}
    assert ids(manifest, "test_type:generic", indirect_selection="cautious") == {
        T_UNIQUE_STG,
        T_NOT_NULL,
        T_REL,
        T_SRC_UNIQUE,
    }


def test_cautious_exclusion_of_one_parent_drops_relationship_test(manifest: Manifest) -> None:
    result = select(
        manifest, select=["path:models/marts"], exclude=["customers"], indirect_selection="cautious"
    )
    assert result.unique_ids == {ORDERS, SUMMARY, T_NOT_NULL, T_SINGULAR}


def test_tests_only_command(manifest: Manifest) -> None:
    assert ids(manifest, "+orders", default_types=("test",)) == {
        T_UNIQUE_STG,
        T_NOT_NULL,
        T_REL,
        T_SRC_UNIQUE,
        T_SINGULAR,
    }


# -- resource type filter ---------------------------------------------------------------


def test_resource_types(manifest: Manifest) -> None:
    assert ids(manifest, "+orders", resource_types=["source"]) == SOURCES
    assert ids(manifest, "+orders", resource_types=["seed", "model"]) == {
        SEED,
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
    }
    assert select(manifest, resource_types=["snapshot"]).unique_ids == {SNAPSHOT}
    assert select(manifest, resource_types=["all"]).unique_ids == EVERYTHING
    # --resource-type narrows the command's own types, never widens them
    assert select(manifest, resource_types=["source"], default_types=BUILD).unique_ids == set()
    assert select(manifest, resource_types=["exposure"]).unique_ids == set()
    with pytest.raises(SelectionError, match="resource type"):
        select(manifest, resource_types=["bogus"])


# -- YAML selectors -----------------------------------------------------------------------


@pytest.fixture
def with_selectors(manifest: Manifest) -> Manifest:
    manifest.selectors = {
        "staging": "tag:staging",
        "finance_up": {"method": "tag", "value": "finance", "parents": True},
        "finance_up_1": {"method": "tag", "value": "finance", "parents": True, "parents_depth": 1},
        "marts_but_customers": {
            "union": [{"method": "path", "value": "models/marts"}, {"exclude": ["customers"]}]
        },
        "staging_views": {"intersection": ["tag:staging", {"config.materialized": "view"}]},
        "alias": {"method": "selector", "value": "staging"},
        "entry": {
            "name": "entry",
            "description": "a full selectors.yml entry",
            "definition": {
                "union": ["stg_orders", {"method": "selector", "value": "staging_views"}]
            },
        },
        "orders_cautious": {"method": "fqn", "value": "orders", "indirect_selection": "cautious"},
        "orders_children_1": {
            "method": "fqn",
            "value": "orders",
            "children": True,
            "children_depth": 1,
            "indirect_selection": "empty",
        },
        "childrens_parents": {
            "method": "fqn",
            "value": "stg_customers",
            "childrens_parents": True,
            "indirect_selection": "empty",
        },
        "dict_exclude": {"method": "tag", "value": "staging", "exclude": ["stg_customers"]},
        "nested": {
            "union": [
                {"intersection": ["path:models/marts", "config.materialized:table"]},
                "source:raw.orders",
                {"exclude": [{"method": "tag", "value": "finance"}, "test_type:generic"]},
            ]
        },
        "loop_a": {"method": "selector", "value": "loop_b"},
        "loop_b": {"method": "selector", "value": "loop_a"},
        "bad_root": {"union": ["a"], "intersection": ["b"]},
        "bad_method": {"method": "foo", "value": "x"},
        "bad_keys": {"method": "tag", "parents": True},
    }
    return manifest


def sel(m: Manifest, name: str, **kwargs: Any) -> set[str]:
    return select(m, selector=name, **kwargs).unique_ids


def test_selector_string_and_alias(with_selectors: Manifest) -> None:
    expected = {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert sel(with_selectors, "staging") == expected
    assert sel(with_selectors, "alias") == expected
    assert sel(with_selectors, "staging", default_types=("model",)) == {STG_ORDERS, STG_CUSTOMERS}


def test_selector_dict_with_graph_keys(with_selectors: Manifest) -> None:
    assert sel(with_selectors, "finance_up", default_types=("model", "seed")) == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
        SEED,
    }
    assert sel(with_selectors, "finance_up_1", default_types=("model", "seed")) == {
        ORDERS,
        STG_ORDERS,
        STG_CUSTOMERS,
    }
    assert sel(with_selectors, "orders_children_1") == {
        ORDERS,
        CUSTOMERS,
        ANALYSIS,
        T_NOT_NULL,
        T_REL,
        T_SINGULAR,
    }
    assert sel(with_selectors, "childrens_parents", default_types=("model", "source", "seed")) == {
        STG_CUSTOMERS,
        ORDERS,
        CUSTOMERS,
        SUMMARY,
        STG_ORDERS,
        SRC_ORDERS,
        SRC_CUSTOMERS,
        SEED,
    }


def test_selector_set_operations(with_selectors: Manifest) -> None:
    assert sel(with_selectors, "marts_but_customers") == {ORDERS, SUMMARY, T_NOT_NULL, T_SINGULAR}
    assert sel(with_selectors, "staging_views", default_types=("model",)) == {
        STG_ORDERS,
        STG_CUSTOMERS,
    }
    assert sel(with_selectors, "entry", default_types=("model",)) == {STG_ORDERS, STG_CUSTOMERS}
    assert sel(with_selectors, "dict_exclude", default_types=("model",)) == {STG_ORDERS}
    assert sel(with_selectors, "nested") == {CUSTOMERS, SRC_ORDERS}


def test_selector_indirect_selection_key(with_selectors: Manifest) -> None:
    assert sel(with_selectors, "orders_cautious") == {ORDERS, T_NOT_NULL, T_SINGULAR}


def test_selector_takes_precedence_and_reports_nothing(with_selectors: Manifest) -> None:
    result = select(with_selectors, selector="staging", select=["orders"], exclude=["stg_orders"])
    assert result.unique_ids == {STG_ORDERS, STG_CUSTOMERS, T_UNIQUE_STG}
    assert result.unmatched == []


def test_unknown_selector_names_known_ones(with_selectors: Manifest) -> None:
    with pytest.raises(SelectionError) as info:
        select(with_selectors, selector="nightly")
    assert "nightly" in str(info.value)
    assert "finance_up" in (info.value.hint or "")


def test_bad_selector_definitions(with_selectors: Manifest) -> None:
    with pytest.raises(SelectionError, match="loop"):
        select(with_selectors, selector="loop_a")
    with pytest.raises(SelectionError, match="single 'union' or 'intersection'"):
        select(with_selectors, selector="bad_root")
    with pytest.raises(SelectionError, match="'foo' is not a valid method"):
        select(with_selectors, selector="bad_method")
    with pytest.raises(SelectionError, match="'method' and 'value'"):
        select(with_selectors, selector="bad_keys")


def test_default_selector(manifest: Manifest) -> None:
    manifest.selectors = {
        "other": {"name": "other", "definition": "tag:finance"},
        "everyday": {"name": "everyday", "default": True, "definition": "tag:staging"},
    }
    assert select(manifest, default_types=("model",)).unique_ids == {STG_ORDERS, STG_CUSTOMERS}
    # an explicit --select wins over the default selector
    assert select(manifest, select=["orders"], default_types=("model",)).unique_ids == {ORDERS}


# -- errors ----------------------------------------------------------------------------------


def test_unknown_method(manifest: Manifest) -> None:
    with pytest.raises(SelectionError) as info:
        select(manifest, select=["foo:bar"])
    assert "'foo' is not a valid method name" in str(info.value)
    assert "tag" in (info.value.hint or "") and "config.<key>" in (info.value.hint or "")


@pytest.mark.parametrize(
    "spec",
    ["@+orders", "orders++", "tag:", "+", "config:table", "state:modified", "a:b:c", "x+y+"],
)
def test_bad_syntax(manifest: Manifest, spec: str) -> None:
    with pytest.raises(SelectionError):
        select(manifest, select=[spec])


def test_bad_indirect_mode(manifest: Manifest) -> None:
    with pytest.raises(SelectionError, match="indirect"):
        select(manifest, select=["orders"], indirect_selection="sometimes")


def test_parse_spec() -> None:
    crit = parse_spec("2+config.materialized:table+3")
    assert (crit.method, crit.args, crit.value) == ("config", ("materialized",), "table")
    assert (crit.parents, crit.parents_depth, crit.children, crit.children_depth) == (
        True,
        2,
        True,
        3,
    )
    crit = parse_spec("@models/staging")
    assert (crit.method, crit.childrens_parents, crit.value) == ("path", True, "models/staging")
    assert parse_spec("stg_orders").method == "fqn"
    assert parse_spec("orders.py").method == "file"


# -- performance --------------------------------------------------------------------------


def big_manifest(n: int = 2000) -> Manifest:
    m = Manifest(project_name="big")
    for i in range(n):
        deps = [f"model.big.m{j}" for j in (i - 1, i - 7, i // 2) if 0 <= j < i]
        folder = f"f{i % 20}"
        m.add(
            Node(
                unique_id=f"model.big.m{i}",
                resource_type="model",
                name=f"m{i}",
                package_name="big",
                original_file_path=f"models/{folder}/m{i}.sql",
                path=f"{folder}/m{i}.sql",
                fqn=["big", folder, f"m{i}"],
                config={"tags": [f"t{i % 10}"], "materialized": "view", "enabled": True},
                depends_on_nodes=sorted(set(deps)),
            )
        )
    return m


def test_selection_is_fast_on_2000_nodes() -> None:
    m = big_manifest()
    select(m, select=["m1"])  # build the parent/child maps once
    specs = ["+m1000", "m10+", "tag:t3,f4", "path:models/f7 m5 m6", "@m1500", "m*9"]
    start = time.perf_counter()
    for _ in range(5):
        result = select(m, select=specs, exclude=["m3+"], indirect_selection="eager")
    elapsed = (time.perf_counter() - start) / 5
    assert result.unique_ids
    assert elapsed < 0.25, f"selection took {elapsed * 1000:.1f} ms"
