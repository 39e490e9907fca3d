select
    id as customer_id,
    first_name,
    last_name,
    first_name || ' ' || last_name as full_name,
    nullif(lower(email), '') as email,
    signup_date,
    country_code
from {{ ref('raw_customers') }}
