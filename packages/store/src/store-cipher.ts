import { type ContentCipher, type KeyWrapper, plaintextCipher, Vault } from "@chatq/vault";
import type { Database } from "./postgres-pool.ts";

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
