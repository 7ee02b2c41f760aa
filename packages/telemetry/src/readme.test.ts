import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics, METRIC_NAMES } from "./metrics.ts";

// The README's metric table is what SREs read; it must not drift from what the registry exports.
describe("README metric table", () => {
  it("lists every metric with its type and labels", async () => {
    const readme = await readFile(join(import.meta.dirname, "..", "README.md"), "utf8");
    const rows = new Map<string, { type: string; labels: string }>();
    for (const m of readme.matchAll(/^\|\s*`(chatq_\w+)`\s*\|\s*(\w+)\s*\|([^|]*)\|/gm)) {
      rows.set(m[1] ?? "", { type: m[2] ?? "", labels: (m[3] ?? "").trim() });
    }
    const { registry } = createMetrics({ defaultMetrics: false });
    for (const name of Object.values(METRIC_NAMES)) {
      const metric = registry.getSingleMetric(name);
      const labelNames = (metric as unknown as { labelNames: string[] }).labelNames;
      expect(rows.get(name), name).toEqual({
        type: String((await metric?.get())?.type),
        labels: labelNames.length === 0 ? "–" : labelNames.join(", "),
      });
    }
    expect([...rows.keys()].sort()).toEqual(Object.values(METRIC_NAMES).sort());
  });
});
