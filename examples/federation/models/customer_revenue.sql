-- Federated: orders (warehouse seed) joined with customers from the SQLite CRM.
-- Only customer_id, name and region_id are read from the CRM, is_active pushed down.
-- The CRM rows are few: DVT stages them on the warehouse and runs the model there.
select c.customer_id, c.name, c.region_id, sum(o.amount) as revenue, count(*) as orders
from {{ ref('orders') }} as o
join {{ source('crm', 'customers') }} as c on c.customer_id = o.customer_id
where c.is_active
group by 1, 2, 3
