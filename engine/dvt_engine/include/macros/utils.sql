{% macro current_timestamp() -%}
    {{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}
{%- endmacro %}

{% macro default__current_timestamp() -%}
    current_timestamp
{%- endmacro %}

{% macro type_string() -%}varchar{%- endmacro %}
{% macro type_int() -%}integer{%- endmacro %}
{% macro type_bigint() -%}bigint{%- endmacro %}
{% macro type_float() -%}float{%- endmacro %}
{% macro type_numeric() -%}numeric(28,6){%- endmacro %}
{% macro type_timestamp() -%}timestamp{%- endmacro %}
{% macro type_boolean() -%}boolean{%- endmacro %}

{% macro concat(fields) -%}
    {{ fields | join(' || ') }}
{%- endmacro %}

{% macro safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro hash(field) -%}
    md5(cast({{ field }} as varchar))
{%- endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
    {{ from_date_or_timestamp }} + ((interval '1 {{ datepart }}') * ({{ interval }}))
{%- endmacro %}

{% macro datediff(first_date, second_date, datepart) -%}
    date_diff('{{ datepart }}', {{ first_date }}::timestamp, {{ second_date }}::timestamp)
{%- endmacro %}
