import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChatRequestSchema } from "./chat-request.ts";
import { type Decoded, type DecodeLimits, decodeChatRequest, REJECT_CODES } from "./decode-request.ts";
import { MAX_NESTING_DEPTH, PROTOTYPE_KEYS, REJECTION_MESSAGE_MAX_LENGTH } from "./request-limits.ts";
import { isStorableText } from "./storable-text.ts";

// The decoder's whole contract, for any input: it returns (never throws), and either
//   ok: a request the schema accepts, that survives JSON.stringify/parse unchanged, whose every string and key
//       Postgres can store, no deeper than the limit, with no prototype key and only finite numbers; or
//   a rejection whose code is a stable one and whose message is non-empty, bounded and itself storable, with a
//       request_id only when the input had that very one at its top level.

const limits: DecodeLimits = { maxBytes: 256 * 1024 };
const encode = (text: string) => new TextEncoder().encode(text);

function decodeAndCheck(value: Uint8Array | null, lim: DecodeLimits = limits): Decoded {
  let decoded: Decoded | undefined;
  expect(() => {
    decoded = decodeChatRequest(value, lim);
  }).not.toThrow();
  const d = decoded as Decoded;
  if (d.ok) {
    expect(ChatRequestSchema.safeParse(d.request).success).toBe(true);
    expect(JSON.parse(JSON.stringify(d.request))).toStrictEqual(d.request);
    expect(hazardsIn(d.request)).toEqual({ depth: expect.any(Number), bad: [] });
    expect(hazardsIn(d.request).depth).toBeLessThanOrEqual(MAX_NESTING_DEPTH);
    if (d.request.created_at !== undefined)
      expect(Number.isFinite(Date.parse(d.request.created_at))).toBe(true);
    return d;
  }
  const { code, message, requestId } = d.rejection;
  expect(REJECT_CODES).toContain(code);
  expect(message.length).toBeGreaterThan(0);
  expect(message.length).toBeLessThanOrEqual(REJECTION_MESSAGE_MAX_LENGTH);
  expect(isStorableText(message)).toBe(true);
  if (requestId !== undefined) {
    expect(requestId.length).toBeGreaterThanOrEqual(1);
    expect(requestId.length).toBeLessThanOrEqual(128);
    expect(isStorableText(requestId)).toBe(true);
    const top = JSON.parse(new TextDecoder().decode(value ?? new Uint8Array())) as { request_id?: unknown };
    expect(top.request_id).toBe(requestId);
  }
  return d;
}

/** Depth and every hazard in an accepted value, found iteratively (the test must not overflow either). */
function hazardsIn(root: unknown): { depth: number; bad: string[] } {
  const bad: string[] = [];
  let depth = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [value, d] = item;
    if (typeof value === "string" && !isStorableText(value)) bad.push("unstorable string");
    if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0)))
      bad.push(`number ${value}`);
    if (typeof value !== "object" || value === null) continue;
    depth = Math.max(depth, d + 1);
    if (Object.getPrototypeOf(value) !== (Array.isArray(value) ? Array.prototype : Object.prototype)) {
      bad.push("changed prototype");
    }
    for (const [k, v] of Object.entries(value)) {
      if (!isStorableText(k)) bad.push("unstorable key");
      if (!Array.isArray(value) && PROTOTYPE_KEYS.has(k)) bad.push(`key ${k}`);
      stack.push([v, d + 1]);
    }
  }
  return { depth, bad };
}

// --- generators ---

/** Any UTF-16 code unit: lone surrogates and NUL included (JSON.stringify escapes what needs escaping). */
const anyUnitString = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength });

const storableText = (minLength: number, maxLength: number) =>
  fc
    .string({ unit: "binary", minLength, maxLength })
    .filter((s) => isStorableText(s) && s.length <= maxLength);

const validRequest = fc.record(
  {
    request_id: storableText(1, 128),
    conversation_id: storableText(1, 128),
    tenant: storableText(1, 128),
    user_id: storableText(1, 256),
    model: storableText(1, 128),
    messages: fc.array(
      fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: storableText(1, 200) }),
      { minLength: 1, maxLength: 5 },
    ),
    params: fc.record(
      {
        temperature: fc.double({ min: 0, max: 2, noNaN: true }),
        top_p: fc.double({ min: 0, max: 1, noNaN: true }),
        max_tokens: fc.integer({ min: 1 }),
        stop: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 4 })),
        seed: fc.integer(),
        response_format: fc.record({ type: fc.constantFrom("text", "json_object") }),
      },
      { requiredKeys: [] },
    ),
    metadata: fc.dictionary(
      fc.string({ unit: "binary" }),
      fc.jsonValue({ maxDepth: 6, stringUnit: "binary" }),
    ),
    priority: fc.constantFrom("interactive", "batch"),
    reply_topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,249}$/),
    created_at: fc
      .date({ min: new Date("1970-01-01"), max: new Date("2999-12-31"), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { requiredKeys: ["request_id", "messages"] },
);

/** Values that are wrong, or hostile, wherever they land. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withNullPrototype: false }),
  fc.constantFrom(
    null,
    "",
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    true,
    [],
    {},
    "\u0000",
    "\ud800",
    "\udc00x",
  ),
  fc.constantFrom("__proto__", "constructor", "x".repeat(300), "😀".repeat(70)),
  fc.jsonValue({ maxDepth: 80, depthSize: "large" }),
  anyUnitString(40),
);

const FIELDS = [
  "request_id",
  "conversation_id",
  "tenant",
  "user_id",
  "model",
  "messages",
  "params",
  "metadata",
  "priority",
  "reply_topic",
  "created_at",
  "messages.0",
  "messages.0.role",
  "messages.0.content",
  "params.temperature",
  "params.max_tokens",
  "params.stop",
  "params.response_format",
  "metadata.__proto__",
  "metadata.constructor",
  "__proto__",
  "prototype",
] as const;

/** Sets `path` in a JSON-shaped value as an own data property, creating objects on the way (never a prototype). */
function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let at: Record<string, unknown> = root;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== "object" || next === null) Object.defineProperty(at, key, own({}));
    at = at[key] as Record<string, unknown>;
  }
  Object.defineProperty(at, keys[keys.length - 1] as string, own(value));
}
const own = (value: unknown) => ({ value, enumerable: true, writable: true, configurable: true });

/** A nesting `depth` levels deep, as text (building it as a value would recurse in JSON.stringify). */
function nestedText(depth: number, shape: "array" | "object" | "mixed", closed: boolean): string {
  const opens: string[] = [];
  const closes: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = shape === "array" || (shape === "mixed" && i % 2 === 0);
    opens.push(array ? "[" : '{"k":');
    closes.push(array ? "]" : "}");
  }
  return `${opens.join("")}${closed ? "1" : ""}${closed ? closes.reverse().join("") : ""}`;
}

describe("decodeChatRequest never throws and keeps its contract", () => {
  it("for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(anyUnitString(500), fc.string({ unit: "binary", maxLength: 500 })), (s) => {
        decodeAndCheck(encode(s));
      }),
      { numRuns: 1000 },
    );
  });

  it("for arbitrary bytes, tombstones included", () => {
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 1000 }), { freq: 20 }), (bytes) => {
        decodeAndCheck(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it("for arbitrary JSON, deeply nested included", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json({ maxDepth: 100, depthSize: "large" }),
          fc.jsonValue({ maxDepth: 8, stringUnit: "binary" }).map((v) => JSON.stringify(v)),
        ),
        (text) => {
          decodeAndCheck(encode(text), { maxBytes: 4 * 1024 * 1024 });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("accepts every valid request, unchanged", () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        fc.pre(hazardsIn(request).bad.length === 0 && hazardsIn(request).depth <= MAX_NESTING_DEPTH);
        const text = JSON.stringify(request);
        const d = decodeAndCheck(encode(text), { maxBytes: 1024 * 1024 });
        expect(d.ok).toBe(true);
        if (d.ok) expect(d.request).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it("for valid requests corrupted at any fields", () => {
    fc.assert(
      fc.property(
        validRequest,
        fc.array(fc.tuple(fc.constantFrom(...FIELDS), hostileValue), { minLength: 1, maxLength: 4 }),
        (request, corruptions) => {
          const value = request as Record<string, unknown>;
          for (const [path, hostile] of corruptions) setAt(value, path, hostile);
          let text: string;
          try {
            text = JSON.stringify(value);
          } catch {
            return; // fc.anything can build what JSON cannot say (a BigInt): nothing to decode
          }
          if (text === undefined) return;
          const d = decodeAndCheck(encode(text), { maxBytes: 1024 * 1024 });
          // A request_id left intact is kept for the rejected reply, however bad the rest.
          const intact = !corruptions.some(([p]) => p === "request_id");
          if (!d.ok && intact && d.rejection.code !== "oversize") {
            expect(d.rejection.requestId).toBe(request.request_id);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("for raw fragments JSON can parse but chatq must not carry", () => {
    const fragment = fc.constantFrom(
      "1e400",
      "-1e400",
      "-0",
      "0e-400",
      "123456789012345678901234567890",
      '"\\u0000"',
      '"\\ud800"',
      '"\\udfff\\ud800"',
      '"\\ud83d\\ude00"',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":1,"a":2}',
      '{"\\u0000":1}',
      '"\\ufeff"',
      "[]",
      "{}",
    );
    fc.assert(
      fc.property(
        fc.array(fragment, { minLength: 1, maxLength: 6 }),
        fc.constantFrom("metadata", "content", "params", "root"),
        (fragments, where) => {
          const list = `[${fragments.join(",")}]`;
          const text =
            where === "root"
              ? list
              : where === "content"
                ? `{"request_id":"r-1","messages":[{"role":"user","content":${list}}]}`
                : `{"request_id":"r-1","messages":[{"role":"user","content":"x"}],"${where}":{"x":${list}}}`;
          decodeAndCheck(encode(text));
          expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
  });

  it("for nesting up to 100,000 levels, at the root or inside a request: too_deep past the limit", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100_000 })),
        fc.constantFrom("array", "object", "mixed"),
        fc.constantFrom("root", "metadata", "content", "messages", "params"),
        fc.boolean(),
        (depth, shape, where, closed) => {
          const inner = nestedText(depth, shape, closed);
          const [text, levelsAbove] = {
            root: [inner, 0],
            metadata: [
              `{"request_id":"r-1","messages":[{"role":"user","content":"x"}],"metadata":{"m":${inner}}}`,
              2,
            ],
            content: [`{"request_id":"r-1","messages":[{"role":"user","content":${inner}}]}`, 3],
            messages: [`{"request_id":"r-1","messages":${inner}}`, 1],
            params: [`{"request_id":"r-1","messages":[{"role":"user","content":"x"}],"params":${inner}}`, 1],
          }[where] as [string, number];
          const d = decodeAndCheck(encode(text), { maxBytes: 1024 * 1024 });
          if (!closed) expect(d).toMatchObject({ ok: false, rejection: { code: "not_json" } });
          else if (depth + levelsAbove > MAX_NESTING_DEPTH) {
            expect(d).toMatchObject({ ok: false, rejection: { code: "too_deep" } });
            if (where !== "root") expect(d.ok || d.rejection.requestId).toBe("r-1");
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("for huge values: long strings, many messages, many keys", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.constantFrom("content", "messages", "keys", "ids"),
        (n, kind) => {
          const text = {
            content: () =>
              JSON.stringify({ request_id: "r", messages: [{ role: "user", content: "é".repeat(n / 2) }] }),
            messages: () =>
              `{"request_id":"r","messages":[${Array.from({ length: Math.ceil(n / 40) }, () => '{"role":"user","content":"x"}').join(",")}]}`,
            keys: () =>
              `{"request_id":"r","messages":[{"role":"user","content":"x"}],"metadata":{${Array.from({ length: Math.ceil(n / 12) }, (_, i) => `"k${i}":${i}`).join(",")}}}`,
            ids: () =>
              JSON.stringify({
                request_id: "r".repeat(n / 1000),
                messages: [{ role: "user", content: "x" }],
              }),
          }[kind]();
          const d = decodeAndCheck(encode(text));
          if (encode(text).length > limits.maxBytes)
            expect(d).toMatchObject({ ok: false, rejection: { code: "oversize" } });
        },
      ),
      { numRuns: 60 },
    );
  });
});
