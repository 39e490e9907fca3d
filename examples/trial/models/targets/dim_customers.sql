select customer_id, customer_name, country_code, region_id from {{ ref('customer_1') }}
union all
select customer_id, customer_name, country_code, region_id from {{ ref('customer_2') }}
