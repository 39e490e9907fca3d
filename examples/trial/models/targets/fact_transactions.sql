select transaction_id, customer_id, pack_id, quantity, amount, sold_at
from {{ ref('stg_fact_transactions') }}
