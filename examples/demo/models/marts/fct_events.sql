{{
    config(
        materialized='incremental',
        unique_key='event_id',
        tags=['events']
    )
}}

-- First run: all events. Later runs: events at or after the latest one already loaded;
-- the overlapping row is replaced through unique_key (delete+insert on DuckDB).
select
    e.event_id,
    e.customer_id,
    e.event_type,
    e.occurred_at,
    current_timestamp as loaded_at
from {{ ref('stg_events') }} as e
{% if is_incremental() %}
where e.occurred_at >= (select max(occurred_at) from {{ this }})
{% endif %}
