select
    id as order_id,
    customer_id,
    order_date,
    status,
    amount
from {{ ref('raw_orders') }}
where order_date >= '{{ var("start_date") }}'
