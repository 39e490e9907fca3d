{% snapshot customers_snapshot %}
{{
    config(
        target_schema='snapshots',
        unique_key='id',
        strategy='check',
        check_cols=['email', 'country_code'],
    )
}}
-- Type-2 history of customer contact details (re-run after editing raw_customers.csv).
select * from {{ ref('raw_customers') }}
{% endsnapshot %}
