import { createHmac, timingSafeEqual } from "node:crypto";

/** The header a webhook carries: `t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = "x-chatq-signature";

/**
 * Each tenant's webhook secret, derived from the server's pepper: nothing to store, the same on every replica, and
 * one tenant's secret says nothing about another's. `chatq tenants webhook-secret T` prints it.
 */
export function webhookSecret(pepper: string, tenantId: string): string {
  return createHmac("sha256", pepper).update(`webhook:${tenantId}`).digest("base64url");
}

export function signWebhook(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

/** What a receiver does: same HMAC, constant-time comparison, and a timestamp no older than `toleranceS`. */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  nowMs: number,
  toleranceS = 300,
): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m?.[1] || !m[2]) return false;
  if (Math.abs(nowMs / 1000 - Number(m[1])) > toleranceS) return false;
  const expected = createHmac("sha256", secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], "hex"));
}

/** Delay before attempt `n + 1` after `n` failed ones: 1 s, 2 s, 4 s … capped at an hour. */
export function webhookBackoffMs(failedAttempts: number): number {
  return Math.min(3_600_000, 1000 * 2 ** Math.max(0, failedAttempts - 1));
}
