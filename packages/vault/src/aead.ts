import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { IV_BYTES, TAG_BYTES } from "./envelope.ts";
import { VaultError } from "./vault-error.ts";

/** AES-256-GCM: a fresh 96-bit random iv per value (at most 2^32 values per key keeps collisions negligible). */
export function seal(key: Buffer, plaintext: Buffer, associatedData: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]);
}

/** Fails with `tampered` when the body or the associated data is not what was sealed. */
export function open(key: Buffer, body: Buffer, associatedData: string): Buffer {
  const iv = body.subarray(0, IV_BYTES);
  const tag = body.subarray(body.length - TAG_BYTES);
  const ct = body.subarray(IV_BYTES, body.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch (err) {
    throw new VaultError("tampered", `ciphertext does not authenticate for ${associatedData}`, {
      cause: err,
    });
  }
}
