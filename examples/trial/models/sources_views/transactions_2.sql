select * from {{ source('Postgres', 'transactions_b') }}
