import type { KeyWrapper } from "./key-wrapper.ts";
import { CHECK_KEY_ID, CHECK_PLAINTEXT, type Queryable, verifyMasterKey } from "./vault.ts";

/**
 * `chatq keys rotate-master`: every data key re-wrapped from the current master key to the next, and the check
 * value with them, in one transaction on one connection (`db` must be a single client, not a pool). Content is
 * not touched: it is sealed under the data keys, which do not change. Inserts of new data keys wait for the
 * duration (the table is locked), so none is left wrapped by the old key; rerunning it is harmless.
 */
export async function rotateMasterKey(
  db: Queryable,
  current: KeyWrapper,
  next: KeyWrapper,
): Promise<{ rewrapped: number }> {
  await db.query("begin");
  try {
    await db.query("lock table data_keys in share row exclusive mode");
    await db.query("select 1 from vault_master where id = 1 for update");
    const { rows: check } = await db.query<{ master_id: string }>(
      "select master_id from vault_master where id = 1",
    );
    // A rerun after success finds the check value on the next key already; the keys it still re-wraps are those
    // services on the current key created meanwhile.
    await verifyMasterKey(db, check[0]?.master_id === next.masterId ? next : current);
    const { rows } = await db.query<{ key_id: string; wrapped: Buffer }>(
      "select key_id, wrapped from data_keys where master_id <> $1",
      [next.masterId],
    );
    const ids: string[] = [];
    const wrapped: Buffer[] = [];
    for (const r of rows) {
      ids.push(r.key_id);
      wrapped.push(await next.wrap(await current.unwrap(r.wrapped, r.key_id), r.key_id));
    }
    if (ids.length > 0)
      await db.query(
        `update data_keys k set wrapped = u.wrapped, master_id = $3
         from unnest($1::text[], $2::bytea[]) as u(key_id, wrapped) where k.key_id = u.key_id`,
        [ids, wrapped, next.masterId],
      );
    await db.query(
      "update vault_master set master_id = $1, check_value = $2, rotated_at = now() where id = 1",
      [next.masterId, await next.wrap(CHECK_PLAINTEXT, CHECK_KEY_ID)],
    );
    await db.query("commit");
    return { rewrapped: ids.length };
  } catch (err) {
    await db.query("rollback").catch(() => {});
    throw err;
  }
}
