export type VaultErrorCode =
  /** The master key does not open the check value stored with the keys: wrong key, nothing was changed. */
  | "wrong_master_key"
  /** Encryption is on but no master key is configured. */
  | "master_key_missing"
  /** A master key that is not 32 bytes of base64. */
  | "bad_master_key"
  /** A ciphertext that fails authentication: altered, or moved from another row or column. */
  | "tampered"
  /** The data key of a ciphertext is gone: its data subject was erased (crypto-shredded). */
  | "key_erased"
  /** Not an envelope this version can read. */
  | "bad_envelope";

/** Nothing here heals by trying again: each needs a different key, a different row or an operator. */
export class VaultError extends Error {
  override readonly name = "VaultError";
  readonly code: VaultErrorCode;
  readonly retryable = false;

  constructor(code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
