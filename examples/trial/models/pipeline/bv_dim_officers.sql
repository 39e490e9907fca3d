select department, country_code, count(*) as officers
from {{ ref('rv_dept_acct_officer') }}
group by department, country_code
