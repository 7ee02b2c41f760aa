import { type ChatRequest, MAX_NESTING_DEPTH, type RejectCode } from "@chatq/contracts";

/**
 * A corpus of hostile and odd values for chat.requests, with good requests interleaved, each knowing what chatq
 * must do with it. Deterministic from its seed: the same options give the same bytes, so a failure can be
 * replayed and the corpus written out for a person (`pnpm fuzz-corpus`, hostile-corpus-cli.ts).
 *
 * What "must" means: `answered` values are requests chatq has to complete (once, however often they are sent);
 * `dead_lettered` values have to reach the DLQ with their bytes unchanged, with `code` when it is determined by
 * construction (random bytes may be not_utf8 or not_json) and `requestId` when a `rejected` reply is due.
 */

export const CATEGORIES = [
  "good",
  "good_odd",
  "duplicate_good",
  "random_bytes",
  "truncated_json",
  "deep_nesting",
  "huge_string",
  "wrong_types",
  "disallowed",
  "prototype_keys",
  "tombstone",
  "empty_value",
  "invalid_utf8",
  "oversize",
  "nul",
  "lone_surrogate",
  "non_finite",
  "not_a_request",
  "many_messages",
] as const;
export type Category = (typeof CATEGORIES)[number];

export type Expectation =
  | { outcome: "answered"; requestId: string }
  | { outcome: "dead_lettered"; code?: RejectCode; requestId?: string };

export interface CorpusItem {
  index: number;
  category: Category;
  key: string | null;
  /** null is a tombstone. */
  value: Buffer | null;
  expect: Expectation;
}

export interface CorpusOptions {
  seed: number;
  /** About how many values (a few fixed edge cases come on top). Default 3000. */
  size?: number;
  /** The worker's REQUEST_MAX_BYTES: what "just under" and "over" mean. Default 256 KiB, the worker's default. */
  maxBytes?: number;
  /** Prefix of every request_id and conversation_id, so runs never collide in a shared database. */
  idPrefix?: string;
}

/** Models the corpus treats as allowed (the worker's known models include them) and one that is never allowed. */
export const CORPUS_MODEL = "gpt-4o-mini";
export const DISALLOWED_MODEL = "gpt-9-ultra";
/** A valid Kafka topic name the worker is never configured to write replies to. */
export const DISALLOWED_REPLY_TOPIC = "not.allowed.replies";

/** Share of `size` per category; the rest of the corpus is made of fixed edge cases. */
const WEIGHTS: Record<Exclude<Category, "huge_string" | "many_messages">, number> = {
  good: 0.4,
  good_odd: 0.07,
  duplicate_good: 0.03,
  random_bytes: 0.06,
  truncated_json: 0.06,
  deep_nesting: 0.03,
  wrong_types: 0.09,
  disallowed: 0.02,
  prototype_keys: 0.04,
  tombstone: 0.02,
  empty_value: 0.01,
  invalid_utf8: 0.04,
  oversize: 0.01,
  nul: 0.04,
  lone_surrogate: 0.03,
  non_finite: 0.02,
  not_a_request: 0.03,
};

export function hostileCorpus(opts: CorpusOptions): CorpusItem[] {
  const size = opts.size ?? 3000;
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  const r = new Rng(opts.seed);
  const ctx: Context = { r, maxBytes, prefix: opts.idPrefix ?? `fuzz${opts.seed}`, serial: 0, goods: [] };
  const items: Fixed[] = [];
  for (const [category, weight] of Object.entries(WEIGHTS) as [keyof typeof WEIGHTS, number][]) {
    const count = Math.max(1, Math.round(size * weight));
    for (let i = 0; i < count; i++) items.push({ category, ...MAKERS[category](ctx) });
  }
  items.push(...hugeStrings(ctx), ...manyMessages(ctx));
  r.shuffle(items);
  return items.map((item, index) => ({ index, ...item }));
}

export function countsByCategory(items: readonly CorpusItem[]): Record<Category, number> {
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const item of items) counts[item.category]++;
  return counts;
}

// --- how each category is made ---

interface Context {
  r: Rng;
  maxBytes: number;
  prefix: string;
  serial: number;
  /** Good items made so far, for duplicates. */
  goods: Omit<CorpusItem, "index" | "category">[];
}
type Made = Omit<CorpusItem, "index" | "category">;
type Maker = (ctx: Context) => Made;

const id = (ctx: Context, kind: string) => `${ctx.prefix}-${kind}${ctx.serial++}`;
const utf8 = (text: string) => Buffer.from(text, "utf8");
const answered = (requestId: string): Expectation => ({ outcome: "answered", requestId });
const dead = (code?: RejectCode, requestId?: string): Expectation => ({
  outcome: "dead_lettered",
  ...(code !== undefined && { code }),
  ...(requestId !== undefined && { requestId }),
});

const TEXTS = [
  "What is the capital of France?",
  "Summarise this in one line, please.",
  "And on day three?",
  "Translate 'good morning' into Spanish.",
  "ok",
];
const ODD_TEXTS = [
  "😀👍🏽🇫🇷👨‍👩‍👧 emoji, skin tones, flags and a family",
  "مرحبا بالعالم — שלום עולם — \u202Eright-to-left override\u202C",
  "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗ text with combining marks é\u0301",
  'line\u2028separator\u2029paragraph \t tab \u0001\u001f controls "quotes" \\ back/slash',
  `${"a".repeat(79)}😀 an astral character across an 80-character boundary`,
  "中文，日本語，한국어 and 𝄞 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
];

/**
 * A key as producers send them: the request id, sometimes none, sometimes something odd. A conversation's turns
 * always carry the conversation id, so they share a partition and stay in order.
 */
function keyFor(ctx: Context, natural: string, conversation: boolean): string | null {
  if (conversation) return natural;
  const roll = ctx.r.next();
  if (roll < 0.15) return null;
  if (roll < 0.25) return `🔑 ${natural}`;
  return natural;
}

function goodRequest(ctx: Context, content: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  const r = ctx.r;
  const request: ChatRequest = { request_id: id(ctx, "g"), messages: [{ role: "user", content }] };
  if (r.chance(0.4)) request.conversation_id = `${ctx.prefix}-conv${r.int(0, 40)}`;
  if (r.chance(0.3)) request.tenant = r.pick(["acme", "globex", "initech"]);
  if (r.chance(0.3)) request.model = CORPUS_MODEL;
  if (r.chance(0.2)) request.priority = r.pick(["interactive", "batch"] as const);
  if (r.chance(0.2))
    request.params = { temperature: Math.round(r.next() * 200) / 100, max_tokens: r.int(1, 200) };
  if (r.chance(0.2)) request.metadata = { source: "fuzz", n: r.int(0, 1e6), tags: ["a", "b"] };
  return { ...request, ...extra };
}

function asGood(ctx: Context, request: ChatRequest, value: Buffer = utf8(JSON.stringify(request))): Made {
  const made: Made = {
    key: keyFor(ctx, request.conversation_id ?? request.request_id, request.conversation_id !== undefined),
    value,
    expect: answered(request.request_id),
  };
  ctx.goods.push(made);
  return made;
}

/** A valid request (not sent elsewhere) to break: its id is a bad item's, never a good one's. */
function badBase(ctx: Context): ChatRequest {
  return { request_id: id(ctx, "b"), messages: [{ role: "user", content: ctx.r.pick(TEXTS) }] };
}
const badKey = (ctx: Context, request: { request_id: string }) => keyFor(ctx, request.request_id, false);

/** Builds a request's JSON text with `member` (raw JSON text) spliced in as its last member. */
const withMember = (request: ChatRequest, member: string) =>
  `${JSON.stringify(request).slice(0, -1)},${member}}`;

const MAKERS: Record<keyof typeof WEIGHTS, Maker> = {
  good: (ctx) => asGood(ctx, goodRequest(ctx, `${ctx.r.pick(TEXTS)} (${ctx.serial})`)),

  good_odd: (ctx) => {
    const r = ctx.r;
    const variant = r.int(0, 8);
    if (variant === 0) return asGood(ctx, goodRequest(ctx, r.pick(ODD_TEXTS)));
    if (variant === 1) {
      // Every id at its longest.
      const base = goodRequest(ctx, "ids at their length limits");
      const request: ChatRequest = {
        ...base,
        request_id: pad(base.request_id, 128),
        conversation_id: pad(`${ctx.prefix}-longconv${r.int(0, 3)}`, 128),
        tenant: pad("tenant", 128),
        user_id: pad("user", 256),
      };
      return asGood(ctx, request);
    }
    if (variant === 2) {
      // Nesting exactly at the limit: the request is level 1, metadata 2, then arrays down to the last level.
      const request = goodRequest(ctx, "metadata nested to the limit");
      const inner = `${"[".repeat(MAX_NESTING_DEPTH - 2)}${"]".repeat(MAX_NESTING_DEPTH - 2)}`;
      const { metadata: _none, ...rest } = request;
      return asGood(ctx, rest, utf8(withMember(rest, `"metadata":{"deep":${inner}}`)));
    }
    if (variant === 3) {
      const request = goodRequest(ctx, "a leading byte order mark");
      return asGood(
        ctx,
        request,
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(JSON.stringify(request))]),
      );
    }
    if (variant === 4) {
      // Duplicate keys: the last wins, as in JSON.parse and Postgres jsonb.
      const request = goodRequest(ctx, "duplicate keys, the last one wins");
      const text = `{"request_id":"${id(ctx, "shadowed")}","messages":[],${JSON.stringify(request).slice(1)}`;
      return asGood(ctx, request, utf8(text));
    }
    if (variant === 5) {
      const request = goodRequest(ctx, "odd but legal numbers and keys");
      const { metadata: _none, ...rest } = request;
      const metadata =
        '"metadata":{"z":-0,"big":1e308,"tiny":5e-324,"long":123456789012345678901234567890,' +
        '"__proto":1,"proto":2,"Constructor":3,"__PROTO__":4,"prototypes":5,"":6,"😀":7}';
      return asGood(ctx, rest, utf8(withMember(rest, metadata)));
    }
    if (variant === 6) {
      const request = goodRequest(ctx, "whitespace around the value");
      return asGood(ctx, request, utf8(`\n\t  ${JSON.stringify(request, null, 2)}  \r\n`));
    }
    if (variant === 7) {
      // Escapes for everything JSON allows to be escaped.
      const request = goodRequest(ctx, "escaped text");
      const text = JSON.stringify(request).replace(
        '"escaped text"',
        '"\\u0065scaped \\ud83d\\ude00 \\/ \\b\\f\\n\\r\\t \\u00e9"',
      );
      return asGood(ctx, request, utf8(text));
    }
    return asGood(
      ctx,
      goodRequest(ctx, r.pick(ODD_TEXTS), {
        tenant: "t",
        user_id: "u",
        model: CORPUS_MODEL,
        priority: "batch",
        created_at: new Date(Date.UTC(2024, r.int(0, 11), r.int(1, 28))).toISOString(),
        params: { temperature: 0, top_p: 1, max_tokens: 50, stop: ["\n\n"], seed: -0 },
      }),
    );
  },

  duplicate_good: (ctx) => {
    const original = ctx.r.pick(ctx.goods);
    return { key: original.key, value: original.value, expect: original.expect };
  },

  random_bytes: (ctx) => ({
    key: ctx.r.chance(0.5) ? null : `raw-${ctx.serial++}`,
    value: ctx.r.bytes(ctx.r.int(1, 2000)),
    expect: dead(),
  }),

  truncated_json: (ctx) => {
    const request = badBase(ctx);
    request.metadata = { note: "cut short somewhere", list: [1, 2, 3] };
    const text = JSON.stringify(request);
    return {
      key: badKey(ctx, request),
      value: utf8(text.slice(0, ctx.r.int(1, text.length - 1))),
      expect: dead("not_json"),
    };
  },

  deep_nesting: (ctx) => {
    const r = ctx.r;
    const depth = Math.round(1000 * 100 ** r.next()); // 1k–100k, log-uniform
    const shape = r.pick(["array", "object", "mixed"] as const);
    const closed = r.chance(0.85);
    const inner = nested(depth, shape, closed);
    const request = badBase(ctx);
    const atRoot = r.chance(0.3);
    const text = atRoot ? inner : withMember(request, `"metadata":{"deep":${inner}}`);
    const value = utf8(text);
    const code: RejectCode = value.length > ctx.maxBytes ? "oversize" : closed ? "too_deep" : "not_json";
    return {
      key: badKey(ctx, request),
      value,
      expect: dead(code, code === "too_deep" && !atRoot ? request.request_id : undefined),
    };
  },

  wrong_types: (ctx) => {
    const r = ctx.r;
    const request = badBase(ctx);
    const wrong = r.pick(WRONG_FIELDS);
    const body = { ...request } as Record<string, unknown>;
    wrong.apply(body, r);
    const keepsId = wrong.field !== "request_id";
    return {
      key: badKey(ctx, request),
      value: utf8(JSON.stringify(body)),
      expect: dead(wrong.code, keepsId ? request.request_id : undefined),
    };
  },

  disallowed: (ctx) => {
    const request = badBase(ctx);
    const model = ctx.r.chance(0.5);
    const body = model
      ? { ...request, model: DISALLOWED_MODEL }
      : { ...request, reply_topic: DISALLOWED_REPLY_TOPIC };
    return {
      key: badKey(ctx, request),
      value: utf8(JSON.stringify(body)),
      expect: dead(model ? "unknown_model" : "bad_reply_topic", request.request_id),
    };
  },

  prototype_keys: (ctx) => {
    const r = ctx.r;
    const request = badBase(ctx);
    const key = r.pick(["__proto__", "constructor", "prototype"]);
    const payload = r.pick([`{"polluted":true}`, `{"prototype":{"polluted":true}}`, "1", "null"]);
    const where = r.int(0, 4);
    let text: string;
    if (where === 0) text = withMember(request, `"${key}":${payload}`);
    else if (where === 1) text = withMember(request, `"metadata":{"${key}":${payload}}`);
    else if (where === 2) text = withMember(request, `"metadata":{"list":[1,{"x":{"${key}":${payload}}}]}`);
    else if (where === 3)
      text = JSON.stringify(request).replace('"role":"user"', `"role":"user","${key}":${payload}`);
    else text = withMember(request, `"params":{"${key}":${payload}}`);
    return { key: badKey(ctx, request), value: utf8(text), expect: dead("schema", request.request_id) };
  },

  tombstone: (ctx) => ({
    key: ctx.r.chance(0.5) ? null : `tomb-${ctx.serial++}`,
    value: null,
    expect: dead("missing_value"),
  }),

  empty_value: (ctx) => ({
    key: ctx.r.chance(0.5) ? null : `empty-${ctx.serial++}`,
    value: Buffer.alloc(0),
    expect: dead("missing_value"),
  }),

  invalid_utf8: (ctx) => {
    const request = badBase(ctx);
    const bad = ctx.r.pick(INVALID_UTF8);
    const [before, after] = JSON.stringify({ ...request, messages: [{ role: "user", content: "@@" }] }).split(
      "@@",
    ) as [string, string];
    const value = bad.whole
      ? Buffer.from(bad.bytes)
      : Buffer.concat([utf8(before), Buffer.from(bad.bytes), utf8(after)]);
    return { key: badKey(ctx, request), value, expect: dead("not_utf8") };
  },

  oversize: (ctx) => {
    const request = badBase(ctx);
    const text = JSON.stringify(request);
    const pad = ctx.maxBytes + ctx.r.int(1, 50_000) - text.length;
    return { key: badKey(ctx, request), value: utf8(`${text}${" ".repeat(pad)}`), expect: dead("oversize") };
  },

  nul: (ctx) => {
    const r = ctx.r;
    const request = badBase(ctx);
    const where = r.int(0, 6);
    const body = { ...request } as Record<string, unknown>;
    if (where === 0) body.messages = [{ role: "user", content: "before\u0000after" }];
    else if (where === 1) body.conversation_id = "conv\u0000";
    else if (where === 2) body.metadata = { "k\u0000": 1 };
    else if (where === 3) body.metadata = { k: ["x", "\u0000"] };
    else if (where === 4) body.request_id = `${request.request_id}\u0000`;
    if (where <= 4) {
      const keepsId = where !== 4;
      return {
        key: badKey(ctx, request),
        value: utf8(JSON.stringify(body)),
        expect: dead("schema", keepsId ? request.request_id : undefined),
      };
    }
    // A raw NUL byte: JSON allows no unescaped control character in a string, nor a NUL between tokens.
    const text = JSON.stringify(request);
    const raw = where === 5 ? text.replace('"user"', '"us\u0000er"') : `${text}\u0000`;
    return { key: badKey(ctx, request), value: utf8(raw), expect: dead("not_json") };
  },

  lone_surrogate: (ctx) => {
    const r = ctx.r;
    const request = badBase(ctx);
    const surrogate = r.pick(["\\ud800", "\\udfff", "\\udbffA", "\\udc00\\ud800"]);
    const where = r.int(0, 4);
    const text = JSON.stringify({ ...request, __FIELD__: 1 });
    let out: string;
    if (where === 0) out = JSON.stringify(request).replace(/"content":"[^"]*"/, `"content":"x${surrogate}y"`);
    else if (where === 1) out = text.replace('"__FIELD__":1', `"tenant":"t${surrogate}"`);
    else if (where === 2) out = text.replace('"__FIELD__":1', `"metadata":{"${surrogate}":1}`);
    else if (where === 3) out = text.replace('"__FIELD__":1', `"metadata":{"a":["${surrogate}"]}`);
    else
      out = JSON.stringify(request).replace(`"${request.request_id}"`, `"${request.request_id}${surrogate}"`);
    return {
      key: badKey(ctx, request),
      value: utf8(out),
      expect: dead("schema", where === 4 ? undefined : request.request_id),
    };
  },

  non_finite: (ctx) => {
    const request = badBase(ctx);
    const n = ctx.r.pick(["1e400", "-1e400", "1E999"]);
    const member = ctx.r.chance(0.5) ? `"params":{"temperature":${n}}` : `"metadata":{"n":[1,${n}]}`;
    return {
      key: badKey(ctx, request),
      value: utf8(withMember(request, member)),
      expect: dead("schema", request.request_id),
    };
  },

  not_a_request: (ctx) => ({
    key: ctx.r.chance(0.5) ? null : `nar-${ctx.serial++}`,
    value: utf8(
      ctx.r.pick([
        "null",
        "true",
        "42",
        '"a string"',
        "[]",
        "{}",
        '[{"request_id":"x"}]',
        '{"request_id":{}}',
      ]),
    ),
    expect: dead("schema"),
  }),
};

interface WrongField {
  field: string;
  code: RejectCode;
  apply: (body: Record<string, unknown>, r: Rng) => void;
}
/** One field made wrong at a time, so the expected code is known: the schema's first issue decides it. */
const WRONG_FIELDS: WrongField[] = [
  {
    field: "request_id",
    code: "schema",
    apply: (b, r) => (b.request_id = r.pick([42, null, "", "x".repeat(129), ["id"], {}])),
  },
  {
    field: "conversation_id",
    code: "schema",
    apply: (b, r) => (b.conversation_id = r.pick([7, "", "c".repeat(129), false])),
  },
  { field: "tenant", code: "schema", apply: (b, r) => (b.tenant = r.pick([[], 1.5, ""])) },
  { field: "user_id", code: "schema", apply: (b) => (b.user_id = "u".repeat(257)) },
  { field: "model", code: "schema", apply: (b, r) => (b.model = r.pick([0, "", { name: "gpt-4o" }])) },
  {
    field: "messages",
    code: "schema",
    apply: (b, r) => (b.messages = r.pick(["hello", null, { role: "user" }, 3])),
  },
  { field: "messages", code: "empty_messages", apply: (b) => (b.messages = []) },
  {
    field: "role",
    code: "bad_role",
    apply: (b, r) => (b.messages = [{ role: r.pick(["wizard", 1, null, "USER"]), content: "hi" }]),
  },
  {
    field: "content",
    code: "schema",
    apply: (b, r) =>
      (b.messages = [{ role: "user", content: r.pick(["", 5, null, ["hi"], { text: "hi" }]) }]),
  },
  { field: "message", code: "schema", apply: (b, r) => (b.messages = [r.pick(["hi", 1, null, []])]) },
  {
    field: "params",
    code: "schema",
    apply: (b, r) =>
      (b.params = r.pick([
        { temperature: 7 },
        { temperature: "hot" },
        { max_tokens: 0 },
        { max_tokens: 1.5 },
        { top_p: -1 },
        { stop: ["a", "b", "c", "d", "e"] },
        { frobnicate: true },
        { response_format: { type: "xml" } },
        "fast",
        [],
      ])),
  },
  { field: "metadata", code: "schema", apply: (b, r) => (b.metadata = r.pick([[1, 2], "meta", 3, true])) },
  { field: "priority", code: "schema", apply: (b, r) => (b.priority = r.pick(["urgent", 1, ""])) },
  {
    field: "reply_topic",
    code: "schema",
    apply: (b, r) => (b.reply_topic = r.pick(["bad topic!", "", "t".repeat(250), 9])),
  },
  {
    field: "created_at",
    code: "schema",
    apply: (b, r) => (b.created_at = r.pick(["yesterday", "2024-02-30T00:00:00Z", "2024-01-01", 1700000000])),
  },
];

const INVALID_UTF8: { bytes: number[]; whole?: boolean }[] = [
  { bytes: [0xc0, 0xaf] }, // overlong "/"
  { bytes: [0xe0, 0x80, 0xaf] }, // overlong, three bytes
  { bytes: [0xc1, 0xbf] },
  { bytes: [0xed, 0xa0, 0x80] }, // a surrogate encoded as UTF-8 (CESU-8)
  { bytes: [0xed, 0xbf, 0xbf] },
  { bytes: [0xe2, 0x82] }, // truncated sequence
  { bytes: [0x80] }, // lone continuation byte
  { bytes: [0xff] },
  { bytes: [0xf5, 0x80, 0x80, 0x80] }, // beyond U+10FFFF
  { bytes: [0xf4, 0x90, 0x80, 0x80] },
  { bytes: [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00], whole: true }, // UTF-16LE "{}" with its BOM
];

type Fixed = Omit<CorpusItem, "index">;

/** Requests of exactly `target` bytes (just below the limit: answered; just above: oversize), ASCII and not. */
function hugeStrings(ctx: Context): Fixed[] {
  const made: Fixed[] = [];
  for (const [over, filler] of [
    [false, "lorem ipsum dolor sit amet "],
    [false, "lorem ipsum 😀 dolor sit amet "],
    [true, "lorem ipsum dolor sit amet "],
    [true, "éèê "],
  ] as const) {
    const target = over ? ctx.maxBytes + ctx.r.int(1, 100) : ctx.maxBytes - ctx.r.int(0, 100);
    const request = over ? badBase(ctx) : goodRequest(ctx, "");
    const room =
      target - Buffer.byteLength(JSON.stringify({ ...request, messages: [{ role: "user", content: "" }] }));
    const repeats = Math.floor(room / Buffer.byteLength(filler));
    const content = filler.repeat(repeats) + ".".repeat(room - repeats * Buffer.byteLength(filler));
    const body = { ...request, messages: [{ role: "user" as const, content }] };
    const value = utf8(JSON.stringify(body));
    made.push(
      over
        ? { category: "huge_string", key: badKey(ctx, body), value, expect: dead("oversize") }
        : { category: "huge_string", ...asGood(ctx, body, value) },
    );
  }
  return made;
}

/** The schema's message count, at the limit (answered) and one past it (refused). */
function manyMessages(ctx: Context): Fixed[] {
  const turns = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      role: i % 2 === 0 ? ("user" as const) : ("assistant" as const),
      content: `turn ${i}`,
    }));
  const atLimit = goodRequest(ctx, "", {
    messages: [...turns(999), { role: "user", content: "the last turn" }],
  });
  const over = { ...badBase(ctx), messages: turns(1001) };
  return [
    { category: "many_messages", ...asGood(ctx, atLimit) },
    {
      category: "many_messages",
      key: badKey(ctx, over),
      value: utf8(JSON.stringify(over)),
      expect: dead("schema", over.request_id),
    },
  ];
}

function nested(depth: number, shape: "array" | "object" | "mixed", closed: boolean): string {
  const opens: string[] = [];
  const closes: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = shape === "array" || (shape === "mixed" && i % 2 === 0);
    opens.push(array ? "[" : '{"k":');
    closes.push(array ? "]" : "}");
  }
  return closed ? `${opens.join("")}0${closes.reverse().join("")}` : opens.join("");
}

function pad(text: string, length: number): string {
  return `${text}-`.padEnd(length, "x").slice(0, length);
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
  shuffle<T>(list: T[]): void {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [list[i], list[j]] = [list[j] as T, list[i] as T];
    }
  }
}
