/**
 * Language detectors on short chat texts: accuracy, µs per text and resident memory once loaded, each detector
 * in its own process so memory is its own. Run: `pnpm bench language` (or node bench/language-detectors.ts).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SAMPLES } from "../src/language-samples.ts";

type Detect = (text: string) => string;

async function load(name: string): Promise<Detect> {
  if (name === "tinyld") {
    const { detect } = await import("tinyld");
    return (t) => detect(t);
  }
  if (name === "tinyld-light") {
    const { detect } = await import("tinyld/light");
    return (t) => detect(t);
  }
  if (name === "franc-min") {
    const { franc } = await import("franc-min");
    const iso3: Record<string, string> = { eng: "en", spa: "es", fra: "fr", deu: "de", ita: "it", por: "pt" };
    return (t) => iso3[franc(t, { minLength: 1 })] ?? "und";
  }
  if (name === "eld") {
    const { eld } = await import("eld/small");
    return (t) => eld.detect(t).language;
  }
  throw new Error(`unknown detector ${name}`);
}

async function measureOne(name: string): Promise<void> {
  const before = process.memoryUsage().rss;
  const detect = await load(name);
  let right = 0;
  for (const [lang, text] of SAMPLES) if (detect(text) === lang) right++;
  const rounds = 20;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) for (const [, text] of SAMPLES) detect(text);
  const us = ((performance.now() - started) * 1000) / (rounds * SAMPLES.length);
  const mb = (process.memoryUsage().rss - before) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ detector: name, correct: `${right}/${SAMPLES.length}`, us_per_text: Math.round(us * 10) / 10, added_rss_mb: Math.round(mb) })}\n`,
  );
}

const only = process.argv[2];
if (only !== undefined) await measureOne(only);
else {
  for (const name of ["tinyld", "tinyld-light", "franc-min", "eld"]) {
    try {
      process.stdout.write(
        execFileSync(process.execPath, [fileURLToPath(import.meta.url), name], { encoding: "utf8" }),
      );
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ detector: name, error: String(err).slice(0, 200) })}\n`);
    }
  }
}
