import { createHash } from "node:crypto";
import type { Recogniser, Span } from "./entity.ts";
import { resolveOverlaps } from "./resolve-overlaps.ts";

/** What becomes of a finding (Presidio's operators): a typed placeholder, a mask, a hash, or a placeholder restored later. */
export type Operator = "replace" | "mask" | "hash" | "reversible";

/**
 * The placeholders of one call and what they stand for: kept in memory for that call only, so the model's answer
 * can be given back with the user's own data in it and nothing of it is ever stored or sent.
 */
export class PlaceholderMap {
  readonly #byValue = new Map<string, string>();
  readonly #byPlaceholder = new Map<string, string>();
  readonly #counters = new Map<string, number>();

  /** The same value always gets the same placeholder within one call, so the model sees one person, not two. */
  placeholderFor(entity: string, value: string, avoid: (candidate: string) => boolean): string {
    const key = `${entity}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known !== undefined) return known;
    let n = this.#counters.get(entity) ?? 0;
    let candidate: string;
    // A text that already holds "<EMAIL_1>" literally keeps it; ours takes the next free number.
    do candidate = `<${entity}_${++n}>`;
    while (avoid(candidate));
    this.#counters.set(entity, n);
    this.#byValue.set(key, candidate);
    this.#byPlaceholder.set(candidate, value);
    return candidate;
  }

  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** The answer with every placeholder of this call put back; text the model wrote around them is untouched. */
  restore(text: string): string {
    if (this.#byPlaceholder.size === 0) return text;
    return text.replace(/<[A-Z][A-Z0-9_]*_\d+>/g, (p) => this.#byPlaceholder.get(p) ?? p);
  }
}

export interface RedactOptions {
  operatorFor: (entity: string) => Operator;
  /** Salt of the hash operator, so hashes cannot be looked up across tenants. */
  hashSalt: string;
  /** Reversible placeholders: restored in the answer. */
  placeholders: PlaceholderMap;
  /** Placeholders of the replace operator: never restored. */
  replaced: PlaceholderMap;
}

export interface Redaction {
  text: string;
  /** The findings that were replaced, in text order. */
  findings: Span[];
}

/**
 * Findings of texts seen lately, per recogniser set: a conversation's history is sent again with every turn, and
 * finding its entities again each time was most of the guardrails' cost at the throughput preset. Bounded by the
 * characters it holds (oldest out first); the map lives in memory only, as the texts do in the request anyway.
 */
const CACHE_MAX_CHARS = 4_000_000;
const caches = new WeakMap<readonly Recogniser[], { spans: Map<string, Span[]>; chars: number }>();

export function findEntities(text: string, recognisers: readonly Recogniser[]): Span[] {
  let cache = caches.get(recognisers);
  if (cache === undefined) {
    cache = { spans: new Map(), chars: 0 };
    caches.set(recognisers, cache);
  }
  const known = cache.spans.get(text);
  if (known !== undefined) return known;
  const all: Span[] = [];
  for (const r of recognisers) all.push(...r.find(text));
  const spans = resolveOverlaps(all);
  if (text.length <= CACHE_MAX_CHARS / 100) {
    cache.spans.set(text, spans);
    cache.chars += text.length;
    for (const [old] of cache.spans) {
      if (cache.chars <= CACHE_MAX_CHARS) break;
      cache.spans.delete(old);
      cache.chars -= old.length;
    }
  }
  return spans;
}

/** Finds entities and applies each one's operator. Pure but for the placeholder map it fills. */
export function redactText(text: string, recognisers: readonly Recogniser[], opts: RedactOptions): Redaction {
  const findings = findEntities(text, recognisers);
  if (findings.length === 0) return { text, findings };
  let out = "";
  let at = 0;
  for (const f of findings) {
    const value = text.slice(f.start, f.end);
    out += text.slice(at, f.start) + applyOperator(f.entity, value, text, opts);
    at = f.end;
  }
  return { text: out + text.slice(at), findings };
}

function applyOperator(entity: string, value: string, text: string, opts: RedactOptions): string {
  switch (opts.operatorFor(entity)) {
    case "mask":
      return maskValue(value);
    case "hash":
      return `<${entity}_${createHash("sha256").update(opts.hashSalt).update(value).digest("hex").slice(0, 12)}>`;
    case "replace":
      return opts.replaced.placeholderFor(entity, value, (c) => text.includes(c));
    case "reversible":
      // Looks the same to the model as replace; only this map is used to give the values back.
      return opts.placeholders.placeholderFor(entity, value, (c) => text.includes(c));
  }
}

/** Letters and digits become "*" but the last four (enough for a user to recognise their card), separators stay. */
export function maskValue(value: string): string {
  let keep = 4;
  const chars = Array.from(value);
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!/[\p{L}\p{N}]/u.test(chars[i] as string)) continue;
    if (keep > 0) keep--;
    else chars[i] = "*";
  }
  return chars.join("");
}
