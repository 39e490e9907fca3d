"""Relation and Column with dbt-adapters' API, as package macros (dbt_utils, audit_helper,
codegen) use them: in Python, and from Jinja on a DuckDB project."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from dvt_engine.adapters.column import Column
from dvt_engine.adapters.databricks import DatabricksAdapter, DatabricksColumn
from dvt_engine.adapters.duckdb import DuckDBColumn
from dvt_engine.adapters.postgres import PostgresAdapter, PostgresColumn
from dvt_engine.adapters.relation import Relation
from dvt_engine.adapters.snowflake import SnowflakeAdapter, SnowflakeColumn
from dvt_engine.adapters.sqlite import SQLiteAdapter
from dvt_engine.errors import CompilationError
from dvt_engine.jinja.context import RelationFactory
from dvt_engine.project.profiles import Output

PACKAGES = Path("/work/shared/dbt_packages")


# -- Relation ---------------------------------------------------------------------------


def test_relation_is_hashable_and_equal_by_value():
    a = Relation("db", "main", "orders", "table")
    same = Relation("db", "main", "orders", "table")
    assert a == same and hash(a) == hash(same)
    assert {a: 1}[same] == 1  # dbt_utils.union_relations keys a dict by relation
    assert len({a, same, a.quote(identifier=False)}) == 2
    assert a != a.include(database=False) and a != "db.main.orders"


def test_relation_is_a_mapping_with_dbt_metadata():
    rel = Relation("db", "main", "orders")
    assert isinstance(rel, Mapping)  # Jinja's `is mapping` (dbt_utils._is_relation)
    assert rel.get("metadata")["type"].endswith("Relation")
    assert rel["schema"] == "main" and rel.get("nope", 7) == 7
    with pytest.raises(KeyError):
        rel["nope"]
    assert bool(rel) and repr(rel) == '<Relation "db"."main"."orders">'


def test_relation_create_incorporate_include_quote():
    rel = Relation.create("db", "s", "t", type=Relation.View,
                          quote_policy={"identifier": False})
    assert rel.render() == '"db"."s".t' and rel.is_view and not rel.is_table
    assert rel.quote_policy.database and not rel.quote_policy["identifier"]
    moved = rel.incorporate(path={"identifier": "t2"}, type="table",
                            include_policy={"database": False})
    assert str(moved) == '"s".t2' and moved.is_table and moved.type == Relation.Table
    assert rel.include(schema=False).render() == '"db".t'
    assert rel.quote(identifier=True).render() == '"db"."s"."t"'
    assert (rel.database, rel.schema, rel.identifier, rel.name, rel.table) == \
        ("db", "s", "t", "t", "t")
    assert rel.path.schema == "s" and rel.path.get_lowered_part("database") == "db"


def test_relation_without_identifier_types_and_limit():
    rel = Relation("db", "s", "t")
    schema_only = rel.without_identifier()
    assert schema_only.identifier is None and schema_only.render() == '"db"."s"'
    assert Relation("db", "s", "mv", type="materialized_view").is_materialized_view
    assert (Relation.Table, Relation.View, Relation.CTE, Relation.MaterializedView,
            Relation.External) == ("table", "view", "cte", "materialized_view", "external")
    assert Relation.add_ephemeral_prefix("x") == "__dbt__cte__x"
    limited = rel.incorporate(limit=5)
    assert limited.render_limited() == '(select * from "db"."s"."t" limit 5) _dbt_limit_subq_t'
    assert str(limited.incorporate(limit=0, require_alias=False)) == \
        '(select * from "db"."s"."t" where false limit 0)'
    assert rel.render_limited() == rel.render()
    assert str(rel.information_schema("columns")) == '"db".INFORMATION_SCHEMA.columns'
    assert str(Relation(None, "s", "t").information_schema()) == "INFORMATION_SCHEMA"


def test_relation_matches_like_dbt():
    rel = Relation("db", "s", "T")
    assert rel.matches(identifier="T") and not rel.matches(identifier="other")
    with pytest.raises(CompilationError, match="approximate match"):
        rel.matches(identifier="t")  # quoted: another case is another relation
    assert rel.quote(schema=False, identifier=False).matches(schema="S", identifier="t")
    with pytest.raises(CompilationError, match="no search path"):
        rel.matches()
    with pytest.raises(CompilationError, match="invalid path schema"):
        Relation("db", 3, "t")  # type: ignore[arg-type]


def _adapter(cls: type, kind: str, **settings: object):
    return cls(Output("o", kind, {"schema": "s", **settings}), Path("."))


def test_api_relation_create_takes_dbts_keywords_per_adapter():
    sf = RelationFactory(_adapter(SnowflakeAdapter, "snowflake", database="DB"))
    assert str(sf.create("DB", "S", "t", quote_policy={"identifier": True})) == 'DB.S."t"'
    assert sf.Table == "table" and sf.add_ephemeral_prefix("m") == "__dbt__cte__m"
    dbx = RelationFactory(_adapter(DatabricksAdapter, "databricks"))
    assert str(dbx.create(schema="s", identifier="t", type="view")) == "`s`.`t`"
    lite = RelationFactory(_adapter(SQLiteAdapter, "sqlite", path="x.db"))
    made = lite.create_from(None, {"resource_type": "model", "database": "main",
                                   "schema": "s", "alias": "a", "name": "n"})
    assert str(made) == '"s"."a"'


# -- Column -----------------------------------------------------------------------------


def test_column_api_like_dbt():
    col = Column("name", "character varying", 20)
    assert (col.name, col.column, col.quoted) == ("name", "name", '"name"')
    assert col.is_string() and not col.is_number() and col.string_size() == 20
    assert col.data_type == "character varying(20)"
    assert col.can_expand_to(Column("x", "varchar", 30))
    assert not col.can_expand_to(Column("x", "varchar", 10))
    assert col.literal("'a'") == "'a'::character varying(20)"
    num = Column("amount", "numeric", None, 10, 2)
    assert num.is_numeric() and num.is_number() and num.data_type == "numeric(10,2)"
    assert Column("f", "double precision").is_float()
    assert Column("i", "bigint").is_integer() and Column("t", "text").string_size() == 256
    with pytest.raises(CompilationError, match="non-string"):
        Column("i", "integer").string_size()
    assert Column.translate_type("string") == "TEXT" and Column.string_type(5) == \
        "character varying(5)"
    assert Column.numeric_type("number", 38, 0) == "number(38,0)"
    assert Column.create("c", "STRING").dtype == "TEXT"
    parsed = Column.from_description("c", "varchar(12)")
    assert (parsed.dtype, parsed.char_size) == ("varchar", 12)
    assert Column("a", "int") == Column("a", "int") != Column("a", "bigint")


def test_columns_per_adapter():
    # PostgreSQL: unsized varchar and text stay; sizes split off the catalog's type
    assert PostgresColumn("t", "text").data_type == "text"
    assert PostgresColumn("v", "character varying").data_type == "character varying"
    sized = PostgresColumn.described("v", "character varying(20)")
    assert (sized.dtype, sized.char_size, sized.data_type, sized.native_type) == \
        ("character varying", 20, "character varying(20)", "character varying(20)")
    ts = PostgresColumn.described("ts", "timestamp(3) without time zone")
    assert ts.dtype == ts.native_type == "timestamp(3) without time zone"
    # Snowflake: integers are NUMBER, unsized strings are 16 MB
    number = SnowflakeColumn.described("n", "NUMBER(38,0)")
    assert number.is_numeric() and not number.is_integer() and number.data_type == \
        "NUMBER(38,0)"
    assert SnowflakeColumn("s", "VARCHAR").string_size() == 16777216
    # DuckDB: its own integer names; a VARCHAR reads as dbt-duckdb reads it
    assert DuckDBColumn("h", "HUGEINT").is_integer() and DuckDBColumn("d", "DOUBLE").is_float()
    assert DuckDBColumn("v", "VARCHAR").data_type == "character varying(256)"
    # Spark: types as written, backticks, CAST literals
    spark = DatabricksColumn("c", "decimal(10,2)")
    assert (spark.data_type, spark.quoted, spark.literal("1")) == \
        ("decimal(10,2)", "`c`", "cast(1 as decimal(10,2))")
    assert DatabricksColumn.translate_type("string") == "string"
    assert DatabricksColumn.numeric_type("numeric", 5, 1) == "decimal(5,1)"


def test_expand_column_types_widens_strings_where_dbt_does(monkeypatch):
    pg = _adapter(PostgresAdapter, "postgres", database="d")
    cols = {"goal": [PostgresColumn("a", "character varying", 50),
                     PostgresColumn("b", "character varying", 5), PostgresColumn("n", "integer")],
            "cur": [PostgresColumn("a", "character varying", 10),
                    PostgresColumn("b", "character varying", 9), PostgresColumn("n", "integer")]}
    altered: list[tuple[str, str]] = []
    monkeypatch.setattr(pg, "get_columns", lambda rel: cols[rel.identifier])
    monkeypatch.setattr(pg, "alter_column_type",
                        lambda rel, name, dtype: altered.append((name, dtype)))
    pg.expand_column_types(Relation("d", "s", "goal"), Relation("d", "s", "cur"))
    assert altered == [("a", "character varying(50)")]


# -- from Jinja -------------------------------------------------------------------------


def _log_macro(body: str) -> str:
    return "{% macro m() %}\n" + body + "\n{% endmacro %}\n"


def test_jinja_relations_and_columns(project):
    project.write("models/a.sql", "{{ config(materialized='table') }}\n"
                  "select 1 as id, 'x' as name, 2.50::decimal(6,2) as amount")
    project.write("models/b.sql", "{{ config(materialized='table') }}\nselect 2 as id")
    project.write("macros/m.sql", _log_macro("""
  {% set a = ref('a') %}
  {% set seen = {} %}{% do seen.update({a: 'a'}) %}
  {{ log('hash ' ~ seen[ref('a')] ~ ' mapping ' ~ (a is mapping) ~ ' '
         ~ a.get('metadata').type, info=True) }}
  {{ log('api ' ~ api.Relation.Table ~ ' ' ~ api.Relation.create(schema='s', identifier='t',
         quote_policy={'identifier': false}) ~ ' ' ~ api.Column.translate_type('string'),
         info=True) }}
  {% for c in adapter.get_columns_in_relation(a) %}
    {{ log(c.name ~ ' ' ~ c.dtype ~ ' ' ~ c.data_type ~ ' ' ~ c.is_string() ~ ' '
           ~ c.is_number() ~ ' ' ~ c.quoted, info=True) }}
  {% endfor %}
  {% set col = api.Column('v', 'character varying', 12) %}
  {{ log('column ' ~ col.data_type ~ ' ' ~ col.string_size(), info=True) }}
  {{ log('load ' ~ (load_relation(a) is not none) ~ ' '
         ~ (load_relation(api.Relation.create(schema='main', identifier='zz')) is none) ~ ' '
         ~ adapter.load_relation(a).type, info=True) }}
  {% set missing = adapter.get_missing_columns(a, ref('b')) %}
  {{ log('missing ' ~ missing | map(attribute='name') | join(','), info=True) }}
  {% do adapter.expand_target_column_types(a, ref('b')) %}
"""))
    assert project.dvt("run").exit_code == 0
    run = project.dvt("run-operation", "m")
    assert run.exit_code == 0, run.output
    assert run.output.splitlines() == [
        "hash a mapping True Relation",
        'api table "s".t TEXT',
        'id INTEGER INTEGER False True "id"',
        'name VARCHAR character varying(256) True False "name"',
        'amount DECIMAL(6,2) DECIMAL(6,2) False False "amount"',
        "column character varying(12) 12",
        "load True True table",
        "missing name,amount",
    ]


def test_jinja_relation_methods_check_their_arguments(project):
    project.write("models/a.sql", "select 1 as id")
    project.write("macros/m.sql", """
        {% macro cols() %}{% do adapter.get_columns_in_relation('main.a') %}{% endmacro %}
        {% macro missing() %}{% do adapter.get_missing_columns(ref('a'), 'a') %}{% endmacro %}
    """)
    assert project.dvt("run").exit_code == 0
    run = project.dvt("run-operation", "cols")
    assert run.exit_code != 0
    assert "'adapter.get_columns_in_relation' expects argument 'relation' to be of type " \
           "'Relation', instead got main.a (str)" in run.output
    run = project.dvt("run-operation", "missing")
    assert run.exit_code != 0 and "argument 'to_relation'" in run.output


def test_jinja_get_drop_rename_relation(project):
    project.write("models/a.sql", "{{ config(materialized='table') }}\nselect 1 as id")
    project.write("macros/m.sql", _log_macro("""
  {% set a = adapter.get_relation(database=target.database, schema='main', identifier='a') %}
  {{ log('got ' ~ a ~ ' ' ~ a.type, info=True) }}
  {% set moved = a.incorporate(path={'identifier': 'a2'}) %}
  {% do adapter.rename_relation(a, moved) %}
  {{ log('renamed ' ~ (adapter.get_relation(a.database, a.schema, 'a') is none) ~ ' '
         ~ adapter.get_relation(a.database, a.schema, 'a2').identifier, info=True) }}
  {% do adapter.drop_relation(moved) %}
  {{ log('dropped ' ~ (load_relation(moved) is none), info=True) }}
"""))
    assert project.dvt("run").exit_code == 0
    run = project.dvt("run-operation", "m")
    assert run.exit_code == 0, run.output
    assert run.output.splitlines() == ['got "dev"."main"."a" table', "renamed True a2",
                                       "dropped True"]
    assert project.query("select count(*) from information_schema.tables "
                         "where table_name in ('a', 'a2')") == [(0,)]


@pytest.mark.skipif(not (PACKAGES / "dbt_utils").is_dir(), reason="no pinned dbt_utils")
def test_dbt_utils_star_and_union_relations(project):
    shutil.copytree(PACKAGES / "dbt_utils", project.root / "dbt_packages" / "dbt_utils")
    project.write("packages.yml", "packages:\n  - local: dbt_packages/dbt_utils\n")
    project.write("models/a.sql", "select 1 as id, 'x' as name")
    project.write("models/b.sql", "select 2 as id, 3.5 as score")
    project.write("models/s.sql", "select {{ dbt_utils.star(ref('a'), except=['name']) }} "
                  "from {{ ref('a') }}")
    project.write("models/u.sql", "{{ dbt_utils.union_relations([ref('a'), ref('b')]) }}")
    run = project.dvt("run")
    assert run.exit_code == 0, run.output
    assert project.query("select * from s") == [(1,)]
    assert project.query("select _dbt_source_relation, id, name, score from u order by id") \
        == [('"dev"."main"."a"', 1, "x", None), ('"dev"."main"."b"', 2, None, 3.5)]
