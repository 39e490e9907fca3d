{{ config(tags=['STG']) }}
select * from {{ source('Postgres', 'customers_db_1') }}
