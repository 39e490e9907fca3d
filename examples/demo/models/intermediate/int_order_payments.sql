-- Ephemeral (see dbt_project.yml): inlined as a CTE into the models that ref it.
{% set methods = ['credit_card', 'bank_transfer', 'coupon', 'gift_card'] %}
select
    order_id,
    {% for m in methods -%}
    sum(case when payment_method = '{{ m }}' then amount else 0 end) as {{ m }}_amount,
    {% endfor -%}
    count(*) as payment_count,
    sum(amount) as total_paid
from {{ ref('stg_payments') }}
group by order_id
