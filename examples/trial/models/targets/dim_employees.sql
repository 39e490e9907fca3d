{{ config(materialized='incremental', unique_key='employee_id') }}
select employee_id, employee_name, region_id
from {{ source('postgres_source', 'employees') }}
{% if is_incremental() %}
where employee_id > (select coalesce(max(employee_id), 0) from {{ this }})
{% endif %}
