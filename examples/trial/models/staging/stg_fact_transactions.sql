-- the three transaction tables as one, priced from the packs
with transactions as (
    select * from {{ ref('transactions_1') }}
    union all
    select * from {{ ref('transactions_2') }}
    union all
    select * from {{ ref('transactions_3') }}
)
select t.transaction_id, t.customer_id, t.pack_id, t.quantity, t.sold_at,
       p.price, t.quantity * p.price as amount
from transactions t
join {{ ref('packs_db') }} p on p.pack_id = t.pack_id
