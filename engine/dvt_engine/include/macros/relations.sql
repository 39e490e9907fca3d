{# dbt's global relation helpers, as package macros call them (dbt_utils, codegen) #}
{% macro load_cached_relation(relation) %}
  {% do return(adapter.get_relation(
    database=relation.database,
    schema=relation.schema,
    identifier=relation.identifier
  )) -%}
{% endmacro %}

{% macro load_relation(relation) %}
    {{ return(load_cached_relation(relation)) }}
{% endmacro %}
