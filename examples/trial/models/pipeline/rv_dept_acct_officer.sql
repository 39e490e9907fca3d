select officer_id, officer_name, country_code,
       case dept_code when 'RET' then 'Retail' when 'COR' then 'Corporate'
                      else 'Other' end as department
from {{ ref('sv_dept_acct_officer') }}
