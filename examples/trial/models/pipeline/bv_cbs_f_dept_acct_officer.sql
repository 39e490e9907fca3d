-- the pipeline's base: a Snowflake table landed on postgres (federated)
select officer_id, officer_name, dept_code, country_code, active_flag
from {{ source('Exim', 'cbs_f_dept_acct_officer') }}
