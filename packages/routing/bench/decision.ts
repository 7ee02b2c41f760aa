// Routing decision cost per request: `pnpm bench routing` (first part). Prints figures; asserts nothing.
import { chooseVariant, parseRouteTable, resolveRoute } from "../src/index.ts";

const table = parseRouteTable({
  deployments: {
    a: { model: "gpt-4o-mini", base_url: "http://a.example/v1" },
    b: { model: "gpt-4o-mini", base_url: "http://b.example/v1" },
    c: { model: "gpt-4.1-mini", base_url: "http://c.example/v1" },
  },
  routes: {
    "chat-default": {
      variants: [
        { name: "A", deployment: "a", weight: 50 },
        { name: "B", deployment: "b", weight: 30 },
        { name: "C", deployment: "c", weight: 20 },
      ],
      fallbacks: ["b", "a"],
    },
  },
  // Retired already: its requests resolve to the replacement route.
  deprecations: { "gpt-3.5-turbo": { retires: "2026-01-01", replacement: "chat-default" } },
});
const variants = table.routes["chat-default"]?.variants ?? [];
const keys = Array.from({ length: 100_000 }, (_, i) => `conversation-${i}-${(i * 2654435761) % 1_000_003}`);
const now = Date.now();

function measure(name: string, rounds: number, fn: (key: string) => unknown): void {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += fn(keys[i % keys.length] as string) ? 1 : 0; // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) sink += fn(keys[i % keys.length] as string) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - started) / rounds;
  console.log(
    `${name.padEnd(44)} ${(ns / 1000).toFixed(3)} µs/request  (${rounds} rounds${sink < 0 ? "!" : ""})`,
  );
}

console.log("# routing decision cost (one process, one core)");
measure("chooseVariant, 3 variants", 1_000_000, (k) => chooseVariant(variants, k));
measure("resolveRoute, route with 3 variants + chain", 1_000_000, (k) =>
  resolveRoute(table, "chat-default", k, now),
);
measure("resolveRoute, plain model (no route)", 1_000_000, (k) => resolveRoute(table, "gpt-4o", k, now));
measure("resolveRoute, retired model → its route", 1_000_000, (k) =>
  resolveRoute(table, "gpt-3.5-turbo", k, now),
);
