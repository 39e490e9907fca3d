-- snowflake into databricks: federated
{{ config(target='databricks') }}
select k.country_code, k.country_name from {{ source('snowflake_exim', 'cbs_f_country') }} k
