select pack_id, pack_name, category_id, price from {{ ref('packs_db') }}
