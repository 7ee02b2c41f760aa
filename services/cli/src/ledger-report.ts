import type { SpendRow, UnpricedModel, VariantFigures } from "@chatq/store";

/** `--since 7d`, `24h`, `30m` or an ISO date/time (UTC when no offset is given). */
export function parseSince(text: string, nowMs: number): Date {
  const rel = /^(\d+)([dhm])$/.exec(text.trim());
  if (rel) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as "d" | "h" | "m"];
    return new Date(nowMs - Number(rel[1]) * unit);
  }
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`--since must be like 7d, 24h or 2026-12-01 (got "${text}")`);
  return new Date(ms);
}

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-$\d.,%]*$/.test(r[i] ?? "")));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`;

export function formatSpend(rows: readonly SpendRow[]): string {
  const total = rows.reduce((a, r) => a + r.costUsd, 0);
  const unpriced = rows.reduce((a, r) => a + r.unpriced, 0);
  const body = table(
    ["period", "tenant", "route", "requests", "tokens", "cost"],
    rows.map((r) => [
      r.period,
      r.tenant ?? "-",
      r.route ?? "-",
      String(r.requests),
      String(r.tokens),
      usd(r.costUsd),
    ]),
  );
  const note =
    unpriced > 0 ? `\n${unpriced} completed requests had no price (run \`chatq prices check\`)` : "";
  return `${body}\ntotal ${usd(total)}${note}`;
}

/** Models seen in traffic that the price table in force has no price for. */
export function unpriced(
  seen: readonly UnpricedModel[],
  hasPrice: (model: string) => boolean,
): UnpricedModel[] {
  return seen.filter((m) => !hasPrice(m.model));
}

export function formatUnpriced(models: readonly UnpricedModel[], priceVersion: string): string {
  if (models.length === 0) return `every model seen in traffic has a price (prices ${priceVersion})`;
  return `${table(
    ["model", "requests", "last seen"],
    models.map((m) => [m.model, String(m.requests), m.lastSeen.toISOString()]),
  )}\n${models.length} model(s) without a price in prices ${priceVersion}: add them to the price file or PRICES_OVERRIDES`;
}

export function formatComparison(route: string, figures: readonly VariantFigures[]): string {
  const rows: [string, (f: VariantFigures) => string][] = [
    ["requests", (f) => String(f.requests)],
    ["completed", (f) => String(f.completed)],
    ["failed", (f) => String(f.failed)],
    ["cost", (f) => usd(f.costUsd)],
    ["cost / request", (f) => usd(f.costPerRequestUsd)],
    ["cost / 1K tokens", (f) => usd(f.costPer1kTokensUsd)],
    ["latency p50 ms", (f) => f.latencyP50Ms.toFixed(0)],
    ["latency p95 ms", (f) => f.latencyP95Ms.toFixed(0)],
    ["answer tokens (mean)", (f) => f.answerTokensMean.toFixed(1)],
    ["finish reasons", (f) => kv(f.finishReasons)],
    ["refusals", (f) => String(f.refusals)],
    ["errors", (f) => kv(f.errors)],
    ["fallbacks", (f) => String(f.fallbacks)],
  ];
  return `route ${route}\n${table(
    ["", ...figures.map((f) => f.variant)],
    rows.map(([name, of]) => [name, ...figures.map(of)]),
  )}`;
}

function kv(o: Record<string, number>): string {
  const entries = Object.entries(o).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}:${v}`).join(" ");
}
