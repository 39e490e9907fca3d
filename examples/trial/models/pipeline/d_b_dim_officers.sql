{{ config(schema='gold', tags=['TRGT']) }}
select department, sum(officers) as officers, count(distinct country_code) as countries
from {{ ref('bv_dim_officers') }}
group by department
