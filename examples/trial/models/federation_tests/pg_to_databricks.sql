-- postgres into databricks: federated
{{ config(target='databricks') }}
select c.customer_id, c.customer_name, c.country_code
from {{ source('postgres_source', 'customers_db_1') }} c
where c.customer_id <= 100
