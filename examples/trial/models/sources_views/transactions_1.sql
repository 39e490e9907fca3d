select * from {{ source('Postgres', 'transactions_a') }}
