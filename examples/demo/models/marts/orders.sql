{{ config(tags=['finance']) }}

select
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    o.amount,
    p.credit_card_amount,
    p.bank_transfer_amount,
    p.coupon_amount,
    p.gift_card_amount,
    p.payment_count,
    p.total_paid
from {{ ref('stg_orders') }} as o
left join {{ ref('int_order_payments') }} as p using (order_id)
