select officer_id, officer_name, dept_code, country_code
from {{ ref('bv_cbs_f_dept_acct_officer') }}
where active_flag = 'Y'
