import { VaultError } from "./vault-error.ts";

/**
 * A sealed value as it is stored: `cq1.<key id>.<key version>.<base64url(iv ‖ ciphertext ‖ tag)>`. Self-describing,
 * so a reader needs nothing but the row to find the data key, and plain ASCII, so it fits the text and jsonb
 * columns content has always lived in (no migration of column types). `cq1.` can never start a plaintext that
 * was sealed, since every content column is sealed whole; a value without it is plaintext from before encryption.
 */
export interface Envelope {
  keyId: string;
  version: number;
  /** iv (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes). */
  body: Buffer;
}

export const ENVELOPE_PREFIX = "cq1.";
const KEY_ID = /^[0-9a-f]{16,32}$/;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export function isSealed(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

export function formatEnvelope(e: Envelope): string {
  return `${ENVELOPE_PREFIX}${e.keyId}.${e.version}.${e.body.toString("base64url")}`;
}

export function parseEnvelope(value: string): Envelope {
  const parts = value.split(".");
  const [tag, keyId, version, body] = parts;
  if (
    parts.length !== 4 ||
    `${tag}.` !== ENVELOPE_PREFIX ||
    keyId === undefined ||
    !KEY_ID.test(keyId) ||
    version === undefined ||
    !/^[1-9][0-9]{0,8}$/.test(version) ||
    body === undefined ||
    !/^[A-Za-z0-9_-]*$/.test(body)
  ) {
    throw new VaultError("bad_envelope", "not a chatq cq1 envelope");
  }
  const bytes = Buffer.from(body, "base64url");
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new VaultError("bad_envelope", "envelope body too short");
  return { keyId, version: Number(version), body: bytes };
}
