-- postgres + databricks + snowflake into databricks: federated
{{ config(target='databricks') }}
select c.customer_id, c.customer_name, k.country_name, r.region_name
from {{ source('postgres_source', 'customers_db_1') }} c
join {{ source('snowflake_exim', 'cbs_f_country') }} k on k.country_code = c.country_code
join {{ source('databricks_source', 'dim_regions') }} r on r.region_id = c.region_id
