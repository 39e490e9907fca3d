with order_stats as (
    select
        customer_id,
        count(*) as order_count,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        sum(amount) filter (where status <> 'returned') as lifetime_value
    from {{ ref('orders') }}
    group by customer_id
)

select
    c.customer_id,
    c.full_name,
    c.email,
    c.country_code,
    c.signup_date,
    coalesce(s.order_count, 0) as order_count,
    s.first_order_date,
    s.last_order_date,
    coalesce(s.lifetime_value, 0) as lifetime_value
from {{ ref('stg_customers') }} as c
left join order_stats as s using (customer_id)
