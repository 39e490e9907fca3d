"""dbt_project.yml, profiles.yml and YAML schema files -> the parsed project (as dbt 1.10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dvt_engine.errors import DvtError
from dvt_engine.manifest import Manifest
from dvt_engine.session import Session

PROFILES_TWO = """
proj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      schema: main
    other:
      type: duckdb
      path: other.duckdb
      schema: analytics
"""


def _session(project: Any, **kw: Any) -> Session:
    kw.setdefault("profiles_dir", str(project.root))
    return Session(project.root, **kw)


def _manifest(project: Any, **kw: Any) -> Manifest:
    session = _session(project, **kw)
    try:
        return session.parse(force=True)
    finally:
        session.close()


def _manifest_json(project: Any) -> dict[str, Any]:
    run = project.dvt("parse")
    assert run.exit_code == 0, run.output
    return json.loads((project.root / "target" / "manifest.json").read_text())


# -- dbt_project.yml ---------------------------------------------------------------------


def test_non_default_paths_and_target_path(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        model-paths: [transform]
        seed-paths: [data]
        macro-paths: [mymacros]
        test-paths: [checks]
        snapshot-paths: [snaps]
        analysis-paths: [adhoc]
        target-path: out
        clean-targets: [out, junk]
    """)
    project.write("transform/a.sql", "select {{ answer() }} as x")
    project.write("models/ignored.sql", "select 1 as y")
    project.write("data/s.csv", "id\n1\n")
    project.write("mymacros/m.sql", "{% macro answer() %}42{% endmacro %}")
    project.write("checks/t.sql", "select * from {{ ref('a') }} where x <> 42")
    project.write("adhoc/q.sql", "select * from {{ ref('a') }}")
    project.write("snaps/snap.sql", """
        {% snapshot snap %}
        {{ config(unique_key='id', strategy='check', check_cols='all', target_schema='main') }}
        select * from {{ ref('s') }}
        {% endsnapshot %}
    """)
    m = _manifest(project)
    assert {u for u in m.nodes} == {"model.proj.a", "seed.proj.s", "test.proj.t",
                                    "analysis.proj.q", "snapshot.proj.snap"}
    assert m.nodes["model.proj.a"].original_file_path == "transform/a.sql"
    assert m.nodes["model.proj.a"].path == "a.sql"
    assert "macro.proj.answer" in m.macros
    session = _session(project)
    assert session.project.clean_targets == ["out", "junk"]
    assert session.target_dir == project.root / "out"
    run = project.dvt("build", "--exclude", "snap")  # snapshots are covered elsewhere
    assert run.exit_code == 0, run.output
    assert (project.root / "out" / "run_results.json").is_file()
    assert (project.root / "out" / "compiled" / "proj" / "transform" / "a.sql").read_text() \
        == "select 42 as x"
    assert not (project.root / "target").exists()


def test_vars_global_project_scoped_and_cli(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        vars:
          color: red
          size: 1
          proj:
            size: 2
          other_pkg:
            size: 3
    """)
    project.write("models/m.sql",
                  "select '{{ var('color') }}' as c, {{ var('size') }} as s, "
                  "'{{ var('missing', 'dflt') }}' as d")
    run = project.dvt("compile", "-s", "m", "-q")
    assert run.exit_code == 0, run.output
    assert "select 'red' as c, 2 as s, 'dflt' as d" in run.output
    run = project.dvt("compile", "-s", "m", "-q", "--vars", "{color: blue, size: 9}")
    assert "select 'blue' as c, 9 as s, 'dflt' as d" in run.output


def test_missing_var_is_compile_error_naming_model(project: Any) -> None:
    project.write("models/needs_var.sql", "select {{ var('nope') }} as x")
    run = project.dvt("compile", "-s", "needs_var")
    assert run.exit_code == 2
    assert "Required var 'nope' not found" in run.output
    assert "needs_var" in run.output


def test_folder_configs_with_and_without_plus(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        models:
          +tags: [all]
          proj:
            materialized: table
            staging:
              +schema: stg
              tags: [staging]
              +pre-hook: "select 1"
              nested:
                +materialized: view
                +tags: nested
                +alias: renamed
                +database: dev
            disabled_dir:
              +enabled: false
    """)
    project.write("models/top.sql", "select 1 as id")
    project.write("models/staging/s1.sql", "select 1 as id")
    project.write("models/staging/nested/n1.sql", "select 1 as id")
    project.write("models/disabled_dir/gone.sql", "select 1 as id")
    m = _manifest(project)
    top, s1, n1 = (m.nodes[f"model.proj.{n}"] for n in ("top", "s1", "n1"))
    assert top.materialized == "table" and top.tags == ["all"] and top.schema == "main"
    assert s1.materialized == "table"
    assert s1.tags == ["all", "staging"]
    assert s1.schema == "main_stg"
    assert s1.config["pre-hook"] == ["select 1"]
    assert n1.materialized == "view"
    assert n1.tags == ["all", "staging", "nested"]
    assert n1.alias == "renamed" and n1.database == "dev"
    assert "model.proj.gone" not in m.nodes and "model.proj.gone" in m.disabled


def test_config_precedence_project_yaml_file(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        models:
          proj:
            +materialized: table
            +tags: [from_project]
            +alias: project_alias
            +schema: project_schema
    """)
    project.write("models/m.sql", "{{ config(materialized='view', tags=['from_file']) }}\n"
                                  "select 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            config:
              materialized: incremental
              alias: yaml_alias
              tags: [from_yaml]
    """)
    node = _manifest(project).nodes["model.proj.m"]
    assert node.materialized == "view"  # config() in the file wins
    assert node.alias == "yaml_alias"  # YAML beats dbt_project.yml
    assert node.schema == "main_project_schema"  # only dbt_project.yml sets it
    assert sorted(node.tags) == ["from_file", "from_project", "from_yaml"]


def test_config_precedence_with_jinja_model(project: Any) -> None:
    # the file needs Jinja rendering (no static path): config() still wins over YAML
    project.write("models/m.sql", "{% if true %}{{ config(materialized='table') }}{% endif %}"
                                  "\nselect 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            config: {materialized: view, alias: yaml_alias}
    """)
    node = _manifest(project).nodes["model.proj.m"]
    assert node.materialized == "table"
    assert node.alias == "yaml_alias"


# -- profiles.yml ------------------------------------------------------------------------


def test_several_outputs_and_target_flag(project: Any) -> None:
    project.write("profiles.yml", PROFILES_TWO)
    project.write("models/m.sql", "select '{{ target.name }}' as t, '{{ target.schema }}' as s")
    run = project.dvt("run", "--target", "other")
    assert run.exit_code == 0, run.output
    assert (project.root / "other.duckdb").exists()
    assert not (project.root / "dev.duckdb").exists()
    run = project.dvt("show", "-s", "m", "--target", "other", "--output", "json")
    assert json.loads(run.output[run.output.index("{"):])["show"] == [
        {"t": "other", "s": "analytics"}]
    run = project.dvt("run", "--target", "nope")
    assert run.exit_code == 2
    assert "The target 'nope' is not defined" in run.output


def _profile_dir(base: Path, name: str, schema: str) -> Path:
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "profiles.yml").write_text(
        f"proj:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: dev.duckdb\n      schema: {schema}\n")
    return d


def test_profiles_lookup_order(project: Any, tmp_path: Path, monkeypatch: Any) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DVT_PROFILES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (project.root / "profiles.yml").unlink()

    def schema_in_use() -> str:
        session = Session(project.root)
        try:
            return session.output().schema
        finally:
            session.close()

    with pytest.raises(DvtError, match="profiles.yml"):
        schema_in_use()
    _profile_dir(home, ".dbt", "from_dot_dbt")
    assert schema_in_use() == "from_dot_dbt"
    _profile_dir(home, ".dvt", "from_dot_dvt")
    assert schema_in_use() == "from_dot_dvt"
    _profile_dir(project.root.parent, "proj", "from_project")
    assert schema_in_use() == "from_project"
    env_dir = _profile_dir(tmp_path, "envdir", "from_env")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(env_dir))
    assert schema_in_use() == "from_env"
    flag_dir = _profile_dir(tmp_path, "flagdir", "from_flag")
    session = Session(project.root, profiles_dir=str(flag_dir))
    assert session.output().schema == "from_flag"


def test_env_var_in_profiles_project_and_schema_yaml(project: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DVT_TEST_SCHEMA", "envschema")
    monkeypatch.setenv("DVT_TEST_MAT", "table")
    monkeypatch.setenv("DVT_TEST_DESC", "described by env")
    monkeypatch.delenv("DVT_TEST_UNSET", raising=False)
    project.write("profiles.yml", """
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('DVT_TEST_UNSET', 'dev') }}.duckdb"
              schema: "{{ env_var('DVT_TEST_SCHEMA') }}"
              threads: "{{ env_var('DVT_TEST_UNSET', '2') | as_number }}"
    """)
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        models:
          +materialized: "{{ env_var('DVT_TEST_MAT') }}"
    """)
    project.write("models/m.sql", "select 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            description: "{{ env_var('DVT_TEST_DESC') }}"
    """)
    session = _session(project)
    assert session.output().schema == "envschema"
    assert session.output().threads == 2
    node = session.manifest.nodes["model.proj.m"]
    assert node.materialized == "table"
    assert node.description == "described by env"
    assert node.schema == "envschema"
    session.close()
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select table_schema, table_type from information_schema.tables "
                         "where table_name = 'm'") == [("envschema", "BASE TABLE")]


def test_missing_env_var_without_default_is_clear_error(project: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("DVT_TEST_NOT_SET", raising=False)
    project.write("profiles.yml", """
        proj:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
              schema: "{{ env_var('DVT_TEST_NOT_SET') }}"
    """)
    project.write("models/m.sql", "select 1 as id")
    run = project.dvt("run")
    assert run.exit_code == 2
    assert "Env var required but not provided: 'DVT_TEST_NOT_SET'" in run.output
    assert "Traceback" not in run.output


def test_env_var_in_model_and_missing(project: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DVT_TEST_VAL", "hello")
    monkeypatch.delenv("DVT_TEST_NOT_SET", raising=False)
    project.write("models/m.sql", "select '{{ env_var('DVT_TEST_VAL') }}' as v")
    run = project.dvt("compile", "-s", "m", "-q")
    assert "select 'hello' as v" in run.output
    # as in dbt, env_var() runs at parse time: one bad file stops the whole parse
    project.write("models/bad.sql", "select '{{ env_var('DVT_TEST_NOT_SET') }}' as v")
    run = project.dvt("compile", "-s", "m")
    assert run.exit_code == 2
    assert "DVT_TEST_NOT_SET" in run.output and "models/bad.sql" in run.output


# -- YAML schema files -------------------------------------------------------------------


def test_model_properties_anywhere_under_model_paths(project: Any) -> None:
    project.write("models/a/b/m.sql", "select 1 as id")
    project.write("models/elsewhere/deep/props.yml", """
        version: 2
        models:
          - name: m
            description: the m model
            config:
              materialized: table
              tags: [cfg_tag]
            tags: [top_tag]
            columns:
              - name: id
                description: identifier
                data_type: integer
                tests: [unique, not_null]
            data_tests:
              - dbt_utils_like: {}
    """.replace("              - dbt_utils_like: {}\n", ""))
    m = _manifest(project)
    node = m.nodes["model.proj.m"]
    assert node.description == "the m model"
    assert node.materialized == "table"
    assert set(node.tags) == {"cfg_tag", "top_tag"}
    assert node.columns["id"].description == "identifier"
    assert node.columns["id"].data_type == "integer"
    assert node.patch_path == "models/elsewhere/deep/props.yml"
    tests = {n.name for n in m.nodes.values() if n.resource_type == "test"}
    assert tests == {"unique_m_id", "not_null_m_id"}


def test_generic_test_fqn_follows_yaml_folder(project: Any) -> None:
    project.write("models/a/m.sql", "select 1 as id")
    project.write("models/props/sub/schema.yml", """
        version: 2
        models:
          - name: m
            columns:
              - name: id
                tests: [unique]
    """)
    project.write("models/src.yml", """
        version: 2
        sources:
          - name: raw
            tables:
              - name: t
                columns:
                  - name: id
                    tests: [not_null]
    """)
    m = _manifest(project)
    by_name = {n.name: n for n in m.nodes.values()}
    assert by_name["unique_m_id"].fqn == ["proj", "props", "sub", "unique_m_id"]
    assert by_name["source_not_null_raw_t_id"].fqn == ["proj", "source_not_null_raw_t_id"]


def test_sources_properties_and_connections(project: Any) -> None:
    project.write("profiles.yml", PROFILES_TWO)
    project.write("models/sources.yml", """
        version: 2
        sources:
          - name: app
            database: appdb
            schema: app_schema
            description: the app
            loader: fivetran
            quoting: {identifier: true}
            connection: other
            tables:
              - name: users
                identifier: app_users
                description: people
                columns:
                  - name: id
                    description: pk
                    tests: [unique]
              - name: events
                connection: dev
          - name: crm
            config:
              meta: {connection: other}
            tables:
              - name: accounts
              - name: leads
                meta: {connection: dev}
          - name: legacy
            meta: {connection: other}
            tables:
              - name: old
                config: {meta: {connection: dev}}
              - name: older
    """)
    m = _manifest(project)
    users = m.sources["source.proj.app.users"]
    assert users.database == "appdb" and users.schema == "app_schema"
    assert users.identifier == "app_users"
    assert users.quoting == {"identifier": True}
    assert users.description == "people" and users.source_description == "the app"
    assert users.loader == "fivetran"
    assert users.columns["id"].description == "pk"
    assert users.fqn == ["proj", "app", "users"]
    conns = {uid.split(".", 2)[2]: s.config["connection"] for uid, s in m.sources.items()}
    assert conns == {"app.users": "other", "app.events": "dev", "crm.accounts": "other",
                     "crm.leads": "dev", "legacy.old": "dev", "legacy.older": "other"}
    test = next(n for n in m.nodes.values() if n.resource_type == "test")
    assert test.name == "source_unique_app_users_id"
    assert test.depends_on_nodes == ["source.proj.app.users"]


def test_source_schema_defaults_to_source_name(project: Any) -> None:
    project.write("models/sources.yml", """
        version: 2
        sources:
          - name: raw
            tables: [{name: t}]
    """)
    src = _manifest(project).sources["source.proj.raw.t"]
    assert src.schema == "raw" and src.identifier == "t"
    assert src.database == "dev"  # the duckdb file's catalog
    assert src.config["connection"] is None


def test_seed_config_and_column_types(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            +schema: raw
    """)
    project.write("seeds/prices.csv", "id,amount,code\n1,1.5,007\n2,2.25,010\n")
    project.write("seeds/props.yml", """
        version: 2
        seeds:
          - name: prices
            description: price list
            config:
              column_types:
                amount: decimal(10, 2)
                code: varchar
              tags: [money]
    """)
    m = _manifest(project)
    seed = m.nodes["seed.proj.prices"]
    assert seed.schema == "main_raw"
    assert seed.config["column_types"] == {"amount": "decimal(10, 2)", "code": "varchar"}
    assert seed.tags == ["money"] and seed.description == "price list"
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    types = dict(project.query("select column_name, data_type from information_schema.columns "
                               "where table_name = 'prices'"))
    assert types == {"id": "INTEGER", "amount": "DECIMAL(10,2)", "code": "VARCHAR"}
    assert project.query("select code from main_raw.prices order by id") == [("007",), ("010",)]


def test_docs_blocks_in_descriptions(project: Any) -> None:
    project.write("models/m.sql", "select 1 as id")
    project.write("models/docs.md", """
        {% docs m_doc %}
        The **m** model, from a docs block.
        {% enddocs %}

        {% docs id_doc %}Primary key.{% enddocs %}
    """)
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            description: '{{ doc("m_doc") }}'
            columns:
              - name: id
                description: "Key: {{ doc('id_doc') }}"
        sources:
          - name: raw
            description: "{{ doc('id_doc') }}"
            tables:
              - name: t
                description: "{{ doc('m_doc') }}"
    """)
    data = _manifest_json(project)
    node = data["nodes"]["model.proj.m"]
    assert node["description"] == "The **m** model, from a docs block."
    assert node["columns"]["id"]["description"] == "Key: Primary key."
    src = data["sources"]["source.proj.raw.t"]
    assert src["description"] == "The **m** model, from a docs block."
    assert src["source_description"] == "Primary key."
    assert data["docs"]["doc.proj.m_doc"]["block_contents"] == \
        "The **m** model, from a docs block."


def test_unknown_doc_is_parse_error(project: Any) -> None:
    project.write("models/m.sql", "select 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            description: "{{ doc('nope') }}"
    """)
    run = project.dvt("parse")
    assert run.exit_code == 2
    assert "nope" in run.output and "models/schema.yml" in run.output


def test_hooks_from_each_level_run_once(project: Any) -> None:
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        models:
          +pre-hook: "insert into main.log values ('project')"
    """)
    project.write("models/m.sql", "{{ config(pre_hook=\"insert into main.log values ('file')\") }}"
                                  "select 1 as id")
    project.write("models/schema.yml", """
        version: 2
        models:
          - name: m
            config:
              pre_hook: "insert into main.log values ('yaml')"
    """)
    node = _manifest(project).nodes["model.proj.m"]
    assert node.config["pre-hook"] == ["insert into main.log values ('project')",
                                       "insert into main.log values ('yaml')",
                                       "insert into main.log values ('file')"]
    project.query("create table log (src varchar)")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert sorted(project.query("select src from log")) == [("file",), ("project",), ("yaml",)]
