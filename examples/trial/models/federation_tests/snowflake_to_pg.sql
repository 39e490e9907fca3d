-- snowflake into postgres: federated
select k.country_code, k.country_name
from {{ source('snowflake_exim', 'cbs_f_country') }} k
where k.country_code <> 'BE'
