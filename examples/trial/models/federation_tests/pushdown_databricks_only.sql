-- databricks only: pushed down
{{ config(target='databricks') }}
select r.region_id, r.region_name, g.category_id, g.category_name
from {{ source('databricks_source', 'dim_regions') }} r
cross join {{ source('databricks_source', 'dim_categories') }} g
