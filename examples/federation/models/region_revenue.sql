-- Federated again: a warehouse model joined with a CRM table. Small inputs are staged on
-- the target by default (see customer_revenue); this one asks for Spark to show that route.
{{ config(federation_route='spark') }}
select r.region_name, sum(cr.revenue) as revenue
from {{ ref('customer_revenue') }} as cr
join {{ source('crm', 'regions') }} as r on r.region_id = cr.region_id
group by 1
