// The hostile corpus for a person: counts by category and expected outcome, or the values as files.
//   pnpm fuzz-corpus [--seed 1] [--size 3000] [--max-bytes 262144] [--out DIR]
// With --out, DIR gets one file per value (NNNNN-category.bin; a tombstone is an empty .tombstone file) and
// manifest.json with each value's key and what chatq must do with it; replay them with kcat or `pnpm chatq`.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CATEGORIES, type CorpusItem, hostileCorpus } from "./hostile-corpus.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    size: { type: "string", default: "3000" },
    "max-bytes": { type: "string", default: String(256 * 1024) },
    out: { type: "string" },
  },
});
const corpus = hostileCorpus({
  seed: Number(values.seed),
  size: Number(values.size),
  maxBytes: Number(values["max-bytes"]),
});

const expected = (i: CorpusItem) =>
  i.expect.outcome === "answered" ? "answered" : `dead_lettered:${i.expect.code ?? "any"}`;
const rows = CATEGORIES.map((category) => {
  const items = corpus.filter((i) => i.category === category);
  const outcomes = new Map<string, number>();
  for (const i of items) outcomes.set(expected(i), (outcomes.get(expected(i)) ?? 0) + 1);
  const bytes = items.reduce((n, i) => n + (i.value?.length ?? 0), 0);
  return { category, count: items.length, bytes, expected: Object.fromEntries(outcomes) };
});
const width = Math.max(...CATEGORIES.map((c) => c.length));
for (const r of rows) {
  const outcomes = Object.entries(r.expected)
    .map(([k, n]) => `${k}=${n}`)
    .join(" ");
  console.log(
    `${r.category.padEnd(width)}  ${String(r.count).padStart(5)}  ${String(r.bytes).padStart(9)} B  ${outcomes}`,
  );
}
const total = corpus.reduce((n, i) => n + (i.value?.length ?? 0), 0);
console.log(`${"total".padEnd(width)}  ${String(corpus.length).padStart(5)}  ${String(total).padStart(9)} B`);

if (values.out !== undefined) {
  const dir = resolve(values.out);
  await mkdir(dir, { recursive: true });
  const manifest = [];
  for (const item of corpus) {
    const file = `${String(item.index).padStart(5, "0")}-${item.category}.${item.value === null ? "tombstone" : "bin"}`;
    await writeFile(join(dir, file), item.value ?? Buffer.alloc(0));
    manifest.push({ file, key: item.key, category: item.category, expect: item.expect });
  }
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  console.log(`wrote ${corpus.length} files and manifest.json to ${dir}`);
}
