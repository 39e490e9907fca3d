{#- Called from on-run-start: (re)creates main.raw_events, the table behind source('app', 'events'). -#}
{% macro create_raw_events() %}
create or replace table {{ target.schema }}.raw_events as
select * from (values
    (1, 1, 'signup', timestamp '2024-01-02 09:00:00'),
    (2, 1, 'login', timestamp '2024-01-03 10:15:00'),
    (3, 2, 'signup', timestamp '2024-01-04 11:30:00'),
    (4, 3, 'signup', timestamp '2024-01-05 08:45:00'),
    (5, 2, 'login', timestamp '2024-01-06 19:20:00'),
    (6, 4, 'signup', timestamp '2024-01-07 07:05:00'),
    (7, 3, 'purchase', timestamp '2024-01-08 13:40:00'),
    (8, 5, 'signup', timestamp '2024-01-09 16:00:00'),
    (9, 1, 'purchase', timestamp '2024-01-10 12:12:00'),
    (10, 6, 'signup', timestamp '2024-01-11 17:30:00'),
    (11, 4, 'login', timestamp '2024-01-12 09:50:00'),
    (12, 7, 'signup', timestamp '2024-01-13 14:25:00'),
    (13, 5, 'purchase', timestamp '2024-01-14 20:10:00'),
    (14, 8, 'signup', timestamp '2024-01-15 06:55:00'),
    (15, 2, 'purchase', timestamp '2024-01-16 18:35:00')
) as t(event_id, customer_id, event_type, occurred_at)
{% endmacro %}

{#- For run-operation: dbt run-operation log_row_count --args '{relation_name: orders}' -#}
{% macro log_row_count(relation_name='customers') %}
    {% set relation = ref(relation_name) %}
    {% set result = run_query('select count(*) from ' ~ relation) %}
    {% if execute %}
        {{ log('rows in ' ~ relation ~ ': ' ~ result.columns[0].values()[0], info=True) }}
    {% endif %}
{% endmacro %}
