/**
 * The guardrail pipeline's own cost per request with every local step on (PII with reversible placeholders,
 * language, topics, injection; moderation is an API call and is left out): CPU µs per request and the added
 * latency p50/p99 of screenInput + outgoing + screenOutput (the newest turn unseen, the history seen before). Run: `pnpm bench guardrails` (first part).
 */
import { defaultPolicy, type Message, recognisersOf, type Screening, screenInput } from "../src/index.ts";
import { piiCorpus } from "../src/pii/corpus.ts";

const policy = defaultPolicy({ topics: { health: "disclaim", finance: "disclaim", legal: "allow" } });
const recognisers = recognisersOf(policy);
const corpus = piiCorpus().map((c) => c.text);
// A request as the worker sees it: a system prompt, two earlier turns, the newest user turn (from the corpus).
const requests: Message[][] = corpus.map((text, i) => [
  { role: "system", content: "You are a helpful support assistant for an online shop." },
  { role: "user", content: corpus[(i + 7) % corpus.length] as string },
  { role: "assistant", content: "Thanks, I have noted that. Anything else I can help with today?" },
  { role: "user", content: text },
]);

async function once(messages: Message[]): Promise<void> {
  const s = (await screenInput(messages, policy, recognisers)) as Screening;
  if (s.kind !== "go") return;
  const out = s.outgoing(messages, () => false);
  await s.screenOutput(`Echo: ${out.at(-1)?.content ?? ""}\nThe quick brown fox jumps over the lazy dog.`);
}

for (let i = 0; i < 2; i++) for (const r of requests) await once(r);
const rounds = 5;
const latencies: number[] = [];
const cpuBefore = process.cpuUsage();
for (let round = 0; round < rounds; round++) {
  for (const r of requests) {
    // The newest turn is new every time (as in production); history repeats, and findEntities' cache serves it.
    const fresh = r.map((m, i) => (i === r.length - 1 ? { ...m, content: `${m.content} (${round})` } : m));
    const t = performance.now();
    await once(fresh);
    latencies.push((performance.now() - t) * 1000);
  }
}
const cpu = process.cpuUsage(cpuBefore);
latencies.sort((a, b) => a - b);
const q = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
const figures = {
  requests: latencies.length,
  "CPU µs/request": Math.round((cpu.user + cpu.system) / latencies.length),
  "added latency p50 (µs)": Math.round(q(0.5)),
  "added latency p99 (µs)": Math.round(q(0.99)),
};
console.log("# guardrail pipeline, all local steps on (4-message requests from the PII corpus)");
for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(28)} ${v}`);
console.log(`JSON ${JSON.stringify({ bench: "guardrails-pipeline", ...figures })}`);
