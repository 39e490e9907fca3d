select * from {{ source('Postgres', 'packs') }}
