import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * A tenant key: `cq_<key id>_<secret>`. The key id (8 hex) is the visible prefix that names the key in logs and
 * listings; the secret is 32 random bytes, so a keyed hash is enough (no slow KDF needed: nothing to brute-force).
 */
export interface NewApiKey {
  keyId: string;
  /** `cq_<key id>`: safe to log. */
  prefix: string;
  /** Shown once, never stored. */
  plaintext: string;
  hash: Buffer;
}

const KEY_PATTERN = /^cq_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export function generateApiKey(pepper: string, random: (n: number) => Buffer = randomBytes): NewApiKey {
  const keyId = random(4).toString("hex");
  const plaintext = `cq_${keyId}_${random(32).toString("base64url")}`;
  return { keyId, prefix: `cq_${keyId}`, plaintext, hash: hashApiKey(pepper, plaintext) };
}

/** The key id of a well-formed key, else undefined (no lookup is made for a malformed key). */
export function parseApiKey(plaintext: string): { keyId: string; prefix: string } | undefined {
  const m = KEY_PATTERN.exec(plaintext);
  return m?.[1] === undefined ? undefined : { keyId: m[1], prefix: `cq_${m[1]}` };
}

/** HMAC-SHA-256 with the server's pepper: a stolen table cannot be checked offline without the pepper. */
export function hashApiKey(pepper: string, plaintext: string): Buffer {
  return createHmac("sha256", pepper).update(plaintext).digest();
}

/** Constant time, so response timing says nothing about how much of a guessed key was right. */
export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
