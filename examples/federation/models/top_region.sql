-- Pushdown: everything it reads is on the warehouse.
select * from {{ ref('region_revenue') }} order by revenue desc limit 1
