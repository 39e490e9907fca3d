-- postgres + databricks, landed on postgres: federated
select c.customer_id, c.customer_name, r.region_name
from {{ source('postgres_source', 'customers_db_1') }} c
join {{ source('databricks_source', 'dim_regions') }} r on r.region_id = c.region_id
