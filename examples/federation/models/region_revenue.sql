-- Federated again: a warehouse model joined with a CRM table.
select r.region_name, sum(cr.revenue) as revenue
from {{ ref('customer_revenue') }} as cr
join {{ source('crm', 'regions') }} as r on r.region_id = cr.region_id
group by 1
