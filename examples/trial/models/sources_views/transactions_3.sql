select * from {{ source('Postgres', 'transactions_c') }}
