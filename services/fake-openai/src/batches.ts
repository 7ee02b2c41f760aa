import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  BATCH_ENDPOINT,
  type BatchInputLine,
  type FileObjectBody,
  FileStore,
  parseBatchInput,
} from "./files.ts";
import { ApiErrorReply, FAKE_ORGANIZATION, invalidRequest } from "./openai-errors.ts";

export type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

const TERMINAL: ReadonlySet<BatchStatus> = new Set(["failed", "completed", "expired", "cancelled"]);
const COMPLETION_WINDOW_SECONDS = 24 * 3600;

/**
 * How fast batches move, in simulated seconds. `timeScale` simulated seconds pass per real second, so a test at
 * 3600 sees an hour a second; OpenAI's real pace is the default (1).
 */
export const BatchSettingsSchema = z
  .object({
    time_scale: z.number().positive(),
    validating_seconds: z.number().min(0),
    /** In progress, requests finish one after another at this pace. */
    seconds_per_request: z.number().min(0),
    finalizing_seconds: z.number().min(0),
    /** Enqueued input tokens per model over all unfinished batches (OpenAI's batch queue limit). */
    enqueued_token_limit: z.int().min(1),
    model_enqueued_token_limits: z.record(z.string(), z.int().min(1)),
  })
  .partial()
  .strict();
export interface BatchSettings {
  time_scale: number;
  validating_seconds: number;
  seconds_per_request: number;
  finalizing_seconds: number;
  enqueued_token_limit: number;
  model_enqueued_token_limits: Record<string, number>;
}

export const DEFAULT_BATCH_SETTINGS: Readonly<BatchSettings> = {
  time_scale: 1,
  validating_seconds: 30,
  seconds_per_request: 0.2,
  finalizing_seconds: 30,
  enqueued_token_limit: 20_000_000,
  model_enqueued_token_limits: {},
};

/** What one line of a batch gets: the chat endpoint's answer (the fake's own reply generator) or its error. */
export interface LineAnswer {
  statusCode: number;
  body: unknown;
}

export interface BatchApiDeps {
  /** Answers one request body the way POST /v1/chat/completions would. */
  answer: (body: Record<string, unknown>) => LineAnswer;
  /** The model and prompt tokens of a body, for the enqueued-token limit; undefined when it is not a valid call. */
  measure: (body: Record<string, unknown>) => { model: string; tokens: number } | undefined;
  /** Real epoch ms. */
  now?: () => number;
  settings?: Partial<BatchSettings>;
}

interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** OpenAI's `batch` object. */
export interface BatchBody {
  id: string;
  object: "batch";
  endpoint: string;
  errors: { object: "list"; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  };
  metadata: Record<string, string> | null;
  model?: string;
}

interface FakeBatch {
  body: BatchBody;
  lines: BatchInputLine[];
  model: string | undefined;
  tokens: number;
  /** Simulated seconds, with fractions: the public timestamps are whole seconds. */
  phaseStartedAt: number;
  /** Answers so far, by line index. */
  answers: (LineAnswer | undefined)[];
}

const CreateSchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

/**
 * The Files and Batches endpoints with OpenAI's state machine: validating → in_progress → finalizing → completed;
 * failed when the input is invalid or the model's enqueued-token limit is reached (checked after create, as on
 * OpenAI: the batch fails later, not the create call); expired past the 24 h window with the answers so far in the
 * output file and the rest in the error file (`batch_expired`); cancelling → cancelled. State advances lazily on
 * every call from a simulated clock, so nothing runs in the background.
 */
export class BatchApi {
  readonly files = new FileStore();
  readonly #batches = new Map<string, FakeBatch>();
  readonly #deps: BatchApiDeps;
  readonly #now: () => number;
  #settings: BatchSettings;
  /** Simulated clock: seconds, rebased whenever the time scale changes so time never jumps. */
  #simBase: number;
  #realBase: number;

  constructor(deps: BatchApiDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#settings = { ...DEFAULT_BATCH_SETTINGS, ...deps.settings };
    this.#realBase = this.#now();
    this.#simBase = this.#realBase / 1000;
  }

  settings(): BatchSettings {
    return { ...this.#settings };
  }

  configure(patch: Partial<BatchSettings>): void {
    this.#advanceAll();
    this.#simBase = this.#simNow();
    this.#realBase = this.#now();
    const parsed = BatchSettingsSchema.parse(patch);
    for (const [k, v] of Object.entries(parsed))
      if (v !== undefined) Object.assign(this.#settings, { [k]: v });
  }

  uploadFile(filename: string, purpose: string, content: Buffer): FileObjectBody {
    if (purpose !== "batch") {
      throw invalidRequest(`The fake supports purpose 'batch' only, not '${purpose}'.`, "purpose", null);
    }
    parseBatchInput(content);
    return this.files.create(filename, "batch", content, Math.floor(this.#simNow()));
  }

  create(raw: unknown): BatchBody {
    const parsed = CreateSchema.safeParse(raw);
    if (!parsed.success) throw invalidRequest(parsed.error.issues[0]?.message ?? "invalid body", null, null);
    const { input_file_id, endpoint, completion_window, metadata } = parsed.data;
    if (endpoint !== BATCH_ENDPOINT) {
      throw invalidRequest(`The fake batches ${BATCH_ENDPOINT} only, not ${endpoint}.`, "endpoint", null);
    }
    if (completion_window !== "24h") {
      throw invalidRequest("completion_window must be '24h'.", "completion_window", null);
    }
    const file = this.files.meta(input_file_id);
    if (file.purpose !== "batch")
      throw invalidRequest("The input file's purpose must be 'batch'.", "input_file_id", null);
    const lines = parseBatchInput(this.files.content(input_file_id));
    const now = this.#simNow();
    let tokens = 0;
    const models = new Set<string>();
    for (const line of lines) {
      const m = this.#deps.measure(line.body);
      if (m === undefined) continue;
      tokens += m.tokens;
      models.add(m.model);
    }
    const model = models.size === 1 ? [...models][0] : undefined;
    const body: BatchBody = {
      id: `batch_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
      object: "batch",
      endpoint,
      errors: null,
      input_file_id,
      completion_window,
      status: "validating",
      output_file_id: null,
      error_file_id: null,
      created_at: Math.floor(now),
      in_progress_at: null,
      expires_at: Math.floor(now) + COMPLETION_WINDOW_SECONDS,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: lines.length, completed: 0, failed: 0 },
      usage: zeroUsage(),
      metadata: metadata ?? null,
      ...(model !== undefined && { model }),
    };
    this.#batches.set(body.id, { body, lines, model, tokens, phaseStartedAt: now, answers: [] });
    return structuredClone(body);
  }

  retrieve(id: string): BatchBody {
    this.#advanceAll();
    return structuredClone(this.#get(id).body);
  }

  list(limit: number, after: string | undefined) {
    this.#advanceAll();
    // Newest first, as OpenAI lists them.
    const all = [...this.#batches.values()].map((b) => b.body).reverse();
    const start = after === undefined ? 0 : all.findIndex((b) => b.id === after) + 1;
    const data = all.slice(start, start + limit).map((b) => structuredClone(b));
    return {
      object: "list" as const,
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: start + limit < all.length,
    };
  }

  cancel(id: string): BatchBody {
    this.#advanceAll();
    const b = this.#get(id);
    if (TERMINAL.has(b.body.status) || b.body.status === "cancelling") {
      throw new ApiErrorReply(
        409,
        "invalid_request_error",
        `Cannot cancel a batch with status '${b.body.status}'.`,
      );
    }
    this.#progress(b, this.#simNow());
    this.#enter(b, "cancelling", this.#simNow());
    return structuredClone(b.body);
  }

  /** Admin: the window ends now (the answers so far stay, the rest are `batch_expired`). */
  forceExpire(id: string): BatchBody {
    this.#advanceAll();
    const b = this.#get(id);
    if (!TERMINAL.has(b.body.status)) {
      const now = this.#simNow();
      this.#progress(b, now);
      this.#finish(b, "expired", now);
    }
    return structuredClone(b.body);
  }

  /** Admin: the batch fails now, as one whose input turned out invalid (no output file). */
  forceFail(id: string, message = "The batch failed (forced by the fake's admin endpoint)."): BatchBody {
    this.#advanceAll();
    const b = this.#get(id);
    if (!TERMINAL.has(b.body.status)) {
      this.#fail(b, { code: "forced_failure", message, param: null, line: null }, this.#simNow());
    }
    return structuredClone(b.body);
  }

  /** Ids of every batch not yet final (admin: a test expires "whatever is running"). */
  activeIds(): string[] {
    this.#advanceAll();
    return [...this.#batches.values()].filter((b) => !TERMINAL.has(b.body.status)).map((b) => b.body.id);
  }

  #get(id: string): FakeBatch {
    const b = this.#batches.get(id);
    if (!b) throw new ApiErrorReply(404, "invalid_request_error", `No batch found with id '${id}'.`);
    return b;
  }

  #simNow(): number {
    return this.#simBase + ((this.#now() - this.#realBase) / 1000) * this.#settings.time_scale;
  }

  #advanceAll(): void {
    const now = this.#simNow();
    // In creation order: an earlier batch takes the enqueued-token budget before a later one is validated.
    for (const b of this.#batches.values()) this.#advance(b, now);
  }

  #advance(b: FakeBatch, now: number): void {
    const s = this.#settings;
    for (;;) {
      const { status } = b.body;
      if (TERMINAL.has(status)) return;
      const expiresAt = b.body.expires_at;
      if (status === "validating") {
        const done = b.phaseStartedAt + s.validating_seconds;
        if (now < done) return;
        const limit = b.model === undefined ? s.enqueued_token_limit : this.#limitOf(b.model);
        if (b.model !== undefined && this.#enqueuedTokens(b.model, b) + b.tokens > limit) {
          this.#fail(b, tokenLimitError(b.model, limit), done);
          return;
        }
        this.#enter(b, "in_progress", done);
        continue;
      }
      if (status === "in_progress") {
        const done = b.phaseStartedAt + b.lines.length * s.seconds_per_request;
        if (Math.min(now, done) >= expiresAt) {
          this.#progress(b, expiresAt);
          this.#finish(b, "expired", expiresAt);
          return;
        }
        if (now < done) {
          this.#progress(b, now);
          return;
        }
        this.#progress(b, done);
        this.#enter(b, "finalizing", done);
        continue;
      }
      const done = b.phaseStartedAt + s.finalizing_seconds;
      if (now < done) return;
      this.#finish(b, status === "cancelling" ? "cancelled" : "completed", done);
      return;
    }
  }

  #limitOf(model: string): number {
    return this.#settings.model_enqueued_token_limits[model] ?? this.#settings.enqueued_token_limit;
  }

  #enqueuedTokens(model: string, except: FakeBatch): number {
    let sum = 0;
    for (const b of this.#batches.values()) {
      if (b === except || b.model !== model) continue;
      const st = b.body.status;
      if (st === "in_progress" || st === "finalizing" || st === "cancelling") sum += b.tokens;
    }
    return sum;
  }

  /** Answers the lines whose turn has come by simulated time `at` (in progress, one after another). */
  #progress(b: FakeBatch, at: number): void {
    if (b.body.status !== "in_progress") return;
    const pace = this.#settings.seconds_per_request;
    const due = pace === 0 ? b.lines.length : Math.floor((at - b.phaseStartedAt) / pace);
    const upTo = Math.min(b.lines.length, Math.max(0, due));
    for (let i = b.answers.length; i < upTo; i++) {
      const line = b.lines[i] as BatchInputLine;
      const answer =
        line.url === BATCH_ENDPOINT
          ? this.#deps.answer(line.body)
          : { statusCode: 400, body: invalidRequest(`Unsupported url ${line.url}.`, "url", null).body() };
      b.answers.push(answer);
      if (answer.statusCode === 200) {
        b.body.request_counts.completed++;
        addUsage(b.body.usage, answer.body);
      } else b.body.request_counts.failed++;
    }
  }

  #enter(b: FakeBatch, status: BatchStatus, at: number): void {
    b.body.status = status;
    b.phaseStartedAt = at;
    const stamp = Math.floor(at);
    if (status === "in_progress") b.body.in_progress_at = stamp;
    if (status === "finalizing") b.body.finalizing_at = stamp;
    if (status === "cancelling") b.body.cancelling_at = stamp;
  }

  #fail(b: FakeBatch, error: BatchError, at: number): void {
    b.body.status = "failed";
    b.body.failed_at = Math.floor(at);
    b.body.errors = { object: "list", data: [error] };
  }

  /** Writes the output file (answered lines) and the error file (failed lines, and on expiry the unanswered). */
  #finish(b: FakeBatch, status: "completed" | "expired" | "cancelled", at: number): void {
    const out: string[] = [];
    const errors: string[] = [];
    b.lines.forEach((line, i) => {
      const answer = b.answers[i];
      const id = `batch_req_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
      if (answer === undefined) {
        if (status !== "expired") return;
        b.body.request_counts.failed++;
        errors.push(
          JSON.stringify({
            id,
            custom_id: line.custom_id,
            response: null,
            error: {
              code: "batch_expired",
              message: "This request could not be executed before the completion window expired.",
            },
          }),
        );
        return;
      }
      const response = {
        status_code: answer.statusCode,
        request_id: `req_${randomUUID().replaceAll("-", "")}`,
        body: answer.body,
      };
      (answer.statusCode === 200 ? out : errors).push(
        JSON.stringify({ id, custom_id: line.custom_id, response, error: null }),
      );
    });
    const seconds = Math.floor(this.#simNow());
    // Like OpenAI: a batch whose every line failed has no output file, only an error file.
    if (out.length > 0) {
      b.body.output_file_id = this.files.create(
        `${b.body.id}_output.jsonl`,
        "batch_output",
        Buffer.from(`${out.join("\n")}\n`),
        seconds,
      ).id;
    }
    if (errors.length > 0) {
      b.body.error_file_id = this.files.create(
        `${b.body.id}_error.jsonl`,
        "batch_output",
        Buffer.from(`${errors.join("\n")}\n`),
        seconds,
      ).id;
    }
    b.body.status = status;
    const stamp = Math.floor(at);
    if (status === "completed") b.body.completed_at = stamp;
    if (status === "expired") b.body.expired_at = stamp;
    if (status === "cancelled") b.body.cancelled_at = stamp;
  }
}

function tokenLimitError(model: string, limit: number): BatchError {
  return {
    code: "token_limit_exceeded",
    message: `Enqueued token limit reached for ${model} in organization ${FAKE_ORGANIZATION}. Limit: ${limit.toLocaleString("en-US")} enqueued tokens. Please try submitting your batch again later.`,
    param: null,
    line: null,
  };
}

function zeroUsage(): BatchBody["usage"] {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

function addUsage(usage: BatchBody["usage"], body: unknown): void {
  const u = (body as { usage?: { prompt_tokens?: number; completion_tokens?: number } }).usage;
  usage.input_tokens += u?.prompt_tokens ?? 0;
  usage.output_tokens += u?.completion_tokens ?? 0;
  usage.total_tokens = usage.input_tokens + usage.output_tokens;
}
