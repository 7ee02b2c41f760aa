import { createHash } from "node:crypto";
import { open, seal } from "./aead.ts";
import { VaultError } from "./vault-error.ts";

/**
 * Wraps data keys under a master key. The local one holds the master key in memory; a KMS implementation (AWS KMS
 * Encrypt/Decrypt, Vault transit) fits the same two calls, which is why they are async.
 */
export interface KeyWrapper {
  /** Names the master key (not secret): stored beside each wrapped key, so a rotation knows what is left. */
  readonly masterId: string;
  wrap(dataKey: Buffer, keyId: string): Promise<Buffer>;
  /** Throws VaultError `wrong_master_key` when the wrapped key was not wrapped by this master key. */
  unwrap(wrapped: Buffer, keyId: string): Promise<Buffer>;
}

export const MASTER_KEY_BYTES = 32;

/** `CHATQ_MASTER_KEY` (or the key file's content): base64 of exactly 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, "base64");
  if (key.length !== MASTER_KEY_BYTES || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new VaultError(
      "bad_master_key",
      `the master key must be ${MASTER_KEY_BYTES} bytes in base64 (openssl rand -base64 32), got ${key.length} bytes`,
    );
  }
  return key;
}

export class LocalKeyWrapper implements KeyWrapper {
  readonly masterId: string;
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== MASTER_KEY_BYTES)
      throw new VaultError("bad_master_key", "master key must be 32 bytes");
    this.#key = masterKey;
    // A fingerprint, not the key: SHA-256 over a label, truncated; enough to tell master keys apart in a table.
    this.masterId = createHash("sha256")
      .update("chatq-master-id\0")
      .update(masterKey)
      .digest("hex")
      .slice(0, 16);
  }

  async wrap(dataKey: Buffer, keyId: string): Promise<Buffer> {
    return seal(this.#key, dataKey, `data-key|${keyId}`);
  }

  async unwrap(wrapped: Buffer, keyId: string): Promise<Buffer> {
    try {
      return open(this.#key, wrapped, `data-key|${keyId}`);
    } catch (err) {
      throw new VaultError(
        "wrong_master_key",
        `data key ${keyId} does not open with master key ${this.masterId}`,
        {
          cause: err,
        },
      );
    }
  }
}
