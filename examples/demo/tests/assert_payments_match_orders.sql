-- Singular test: every order's payments add up to the order amount.
select
    o.order_id,
    o.amount,
    p.total_paid
from {{ ref('stg_orders') }} as o
left join (
    select order_id, sum(amount) as total_paid
    from {{ ref('stg_payments') }}
    group by order_id
) as p on p.order_id = o.order_id
where coalesce(p.total_paid, 0) <> o.amount
