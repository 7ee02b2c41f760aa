import { describe, expect, it } from "vitest";
import { resolveRoute } from "./resolve-route.ts";
import { parseRouteTable } from "./route-table.ts";

const table = parseRouteTable({
  deployments: {
    "east-mini": { model: "gpt-4o-mini", base_url: "http://east.example/v1", api_key_env: "EAST_KEY" },
    "west-mini": { model: "gpt-4o-mini", base_url: "http://west.example/v1" },
    "east-41": { model: "gpt-4.1-mini", base_url: "http://east.example/v1" },
  },
  routes: {
    "chat-default": {
      variants: [
        { name: "mini", deployment: "east-mini", weight: 90 },
        { name: "41", deployment: "east-41", weight: 10 },
      ],
      fallbacks: ["west-mini", "east-mini"],
    },
  },
  deprecations: {
    "gpt-3.5-turbo": { retires: "2027-01-01", replacement: "chat-default" },
    "gpt-4": { retires: "2026-06-01", replacement: "gpt-4o", on_retired: "reject" },
  },
});
const now = Date.parse("2026-12-10T12:00:00Z");

describe("resolveRoute", () => {
  it("sends a route to its chosen variant first, then its fallbacks, each deployment once", () => {
    const r = resolveRoute(table, "chat-default", "conv-1", now);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.route).toBe("chat-default");
    const first = r.variant === "mini" ? "east-mini" : "east-41";
    expect(r.chain[0]?.deployment).toBe(first);
    expect(new Set(r.chain.map((t) => t.deployment)).size).toBe(r.chain.length);
    expect(r.chain.map((t) => t.deployment)).toContain("west-mini");
  });

  it("sends a plain model name to the worker's default deployment", () => {
    expect(resolveRoute(table, "gpt-4o", "k", now)).toEqual({
      ok: true,
      variant: "default",
      chain: [{ deployment: "default", model: "gpt-4o" }],
    });
  });

  it("marks a model within 30 days of retirement, and routes a retired one to its replacement", () => {
    const retiring = resolveRoute(table, "gpt-3.5-turbo", "k", now);
    expect(retiring).toMatchObject({ ok: true, deprecated: { state: "retiring", model: "gpt-3.5-turbo" } });
    const after = resolveRoute(table, "gpt-3.5-turbo", "k", Date.parse("2027-01-01T00:00:00Z"));
    expect(after).toMatchObject({ ok: true, route: "chat-default", deprecated: { state: "retired" } });
  });

  it("rejects a retired model whose deprecation says reject", () => {
    expect(resolveRoute(table, "gpt-4", "k", now)).toMatchObject({ ok: false, code: "model_retired" });
  });
});
