/** The statements behind the vault's key table (infra/migrations/0004_protection.sql). */

export const SELECT_CHECK_SQL = "select master_id, check_value from vault_master where id = 1";

export const INSERT_CHECK_SQL = `
insert into vault_master (id, master_id, check_value) values (1, $1, $2)
on conflict (id) do nothing`;

export const ACTIVE_KEYS_SQL = `
select k.key_id, k.tenant, k.user_id, k.version, k.wrapped
from data_keys k
join json_to_recordset($1::json) as s(tenant text, user_id text) using (tenant, user_id)
where k.state = 'active'`;

export const INSERT_KEYS_SQL = `
insert into data_keys (key_id, tenant, user_id, version, wrapped, master_id)
select x.key_id, x.tenant, x.user_id,
       coalesce((select max(version) from data_keys d where d.tenant = x.tenant and d.user_id = x.user_id), 0) + 1,
       decode(x.wrapped, 'base64'), $2
from json_to_recordset($1::json) as x(key_id text, tenant text, user_id text, wrapped text)
on conflict (tenant, user_id) where state = 'active' do nothing
returning key_id, tenant, user_id, version, wrapped`;

export const KEYS_BY_ID_SQL = "select key_id, version, wrapped from data_keys where key_id = any($1::text[])";
