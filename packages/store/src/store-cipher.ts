import { type ContentCipher, type KeyWrapper, plaintextCipher, rotateMasterKey, Vault } from "@chatq/vault";
import pg from "pg";
import { type ConnectionOptions, clientConfig, type Database } from "./postgres-pool.ts";

export interface StoreEncryption {
  wrapper: KeyWrapper;
  /** Unwrapped data keys kept in memory. */
  cacheSize?: number;
}

/** The store's cipher: the vault over the store's own pool (its key table lives in the same schema), or none. */
export async function openCipher(
  db: Database,
  encryption: StoreEncryption | undefined,
): Promise<ContentCipher> {
  if (encryption === undefined) return plaintextCipher;
  return Vault.open({
    db: { query: async (text, values) => ({ rows: await db.query("vault", text, values) }) },
    wrapper: encryption.wrapper,
    ...(encryption.cacheSize === undefined ? {} : { cacheSize: encryption.cacheSize }),
  });
}

/**
 * `chatq keys rotate-master` on one dedicated connection (the rotation is one transaction), audited with who ran it.
 */
export async function rotateMaster(
  opts: ConnectionOptions,
  current: KeyWrapper,
  next: KeyWrapper,
  by: string,
): Promise<{ rewrapped: number }> {
  const client = new pg.Client(clientConfig(opts));
  await client.connect();
  try {
    const result = await rotateMasterKey(client, current, next);
    await client.query(
      "insert into audit_log (at, event, detail) values (now(), 'keys_rotated', $1::jsonb)",
      [JSON.stringify({ by, from: current.masterId, to: next.masterId, ...result })],
    );
    return result;
  } finally {
    await client.end();
  }
}
