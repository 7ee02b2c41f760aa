import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook, webhookBackoffMs, webhookSecret } from "./webhook-signature.ts";

describe("webhook signatures", () => {
  const secret = webhookSecret("pepper-0123456789", "acme");

  it("verify with the tenant's secret, within the tolerance, for the exact body only", () => {
    const header = signWebhook(secret, '{"id":"r1"}', 1_700_000_000_000);
    expect(verifyWebhook(secret, '{"id":"r1"}', header, 1_700_000_010_000)).toBe(true);
    expect(verifyWebhook(secret, '{"id":"r2"}', header, 1_700_000_010_000)).toBe(false);
    expect(
      verifyWebhook(webhookSecret("pepper-0123456789", "other"), '{"id":"r1"}', header, 1_700_000_010_000),
    ).toBe(false);
    expect(verifyWebhook(secret, '{"id":"r1"}', header, 1_700_001_000_000)).toBe(false);
    expect(verifyWebhook(secret, '{"id":"r1"}', "garbage", 1_700_000_000_000)).toBe(false);
  });

  it("back off 1 s, 2 s, 4 s … up to an hour", () => {
    expect([1, 2, 3, 4].map(webhookBackoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(webhookBackoffMs(40)).toBe(3_600_000);
  });
});
