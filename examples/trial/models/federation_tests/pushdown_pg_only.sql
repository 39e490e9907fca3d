-- postgres only: pushed down
select c.customer_id, c.customer_name, e.employee_name
from {{ source('postgres_source', 'customers_db_1') }} c
join {{ source('postgres_source', 'employees') }} e on e.employee_id = c.customer_id
