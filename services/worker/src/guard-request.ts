import type { ChatMessage, ChatReply } from "@chatq/contracts";
import {
  type Moderate,
  type Policy,
  type PolicyBook,
  type Recogniser,
  recognisersOf,
  type Screening,
  type Stop,
  screenInput,
} from "@chatq/guardrails";
import { countTextTokens, type LlmError, type ModerationClient } from "@chatq/llm";
import { CONTEXT_HEADING } from "@chatq/retrieval";
import type { Outcome } from "@chatq/store";
import { callWithRetries, type RetryDeps } from "./answer-with-retries.ts";
import type { Job } from "./job.ts";

/** What the worker's guardrails need: the tenants' policies and the moderation endpoint. Absent: guardrails off. */
export interface GuardDeps {
  policies: PolicyBook;
  moderation: ModerationClient;
  /** With a fail_open tenant, how long a moderation call may wait for its budget before the request goes on unmoderated. */
  failOpenWaitMs: number;
}

/** A request's guardrails in the worker: the stop (no chat call), or what shapes its messages and its reply. */
export type Guarded =
  | { kind: "stop"; code: string; message: string; decorate: (reply: ChatReply) => ChatReply }
  | {
      kind: "go";
      /** The messages as the API is sent them: redacted, with the tenant's rules before the newest user turn. */
      outgoing: (messages: ChatMessage[]) => ChatMessage[];
      /** The answer screened and restored, language and flags on the reply; verdicts to the audit log and metrics. */
      finish: (outcome: Outcome) => Promise<Outcome>;
    };

// Recognisers compile a tenant's dictionary into regexes: once per policy, not per request.
const recognisersCache = new WeakMap<Policy, Recogniser[]>();

/** Screens a request's own messages before anything is sent: undefined when guardrails are off. */
export async function guardInput(
  job: Job,
  guard: GuardDeps | undefined,
  retry: RetryDeps,
): Promise<Guarded | undefined> {
  if (guard === undefined) return undefined;
  const { request } = job;
  const policy = guard.policies.of(request.tenant);
  let recognisers = recognisersCache.get(policy);
  if (recognisers === undefined) {
    recognisers = recognisersOf(policy);
    recognisersCache.set(policy, recognisers);
  }
  const moderate = moderation(job, guard, retry, policy);
  const ids = idsOf(job);
  let screened: Screening | Stop;
  try {
    screened = await screenInput(request.messages, policy, recognisers, { moderate });
  } catch (err) {
    if (!(err instanceof ModerationFailed)) throw err;
    retry.audit({
      ...ids,
      event: "guardrail",
      errorCode: err.code,
      detail: { stopped: err.code },
      at: new Date(),
    });
    return { kind: "stop", code: err.code, message: err.message, decorate: (reply) => reply };
  }
  const record = (s: Screening | Stop, extra: Record<string, unknown> = {}) => {
    retry.events.emit("guardrails", { verdicts: s.verdicts, language: s.language });
    retry.audit({ ...ids, event: "guardrail", detail: { verdicts: s.verdicts, ...extra }, at: new Date() });
  };
  if (screened.kind === "stop") {
    record(screened, { stopped: screened.code });
    return {
      kind: "stop",
      code: screened.code,
      message: screened.message,
      decorate: (reply) => ({
        ...reply,
        ...(screened.content !== undefined && { content: screened.content }),
        ...(screened.language !== undefined && { language: screened.language }),
        ...(reply.error && { error: { ...reply.error, categories: screened.categories } }),
      }),
    };
  }
  return {
    kind: "go",
    outgoing: (messages) => screened.outgoing(messages, isRetrievedContext) as ChatMessage[],
    finish: async (outcome) => {
      const done = await finishOutcome(outcome, screened);
      record(screened);
      return done;
    },
  };
}

function isRetrievedContext(m: { role: string; content: string }): boolean {
  return m.role === "system" && m.content.startsWith(CONTEXT_HEADING);
}

/** The answer moderated, restored and disclaimed; a blocked answer becomes a rejected reply (its cost stays spent). */
async function finishOutcome(outcome: Outcome, screening: Screening): Promise<Outcome> {
  let reply = outcome.reply;
  let newTurns = outcome.newTurns;
  if (reply.status === "completed" && reply.content !== undefined) {
    const out = await screening.screenOutput(reply.content).catch((err: unknown) => {
      if (err instanceof ModerationFailed) return { failed: err, content: "" };
      throw err;
    });
    const blocked =
      "failed" in out
        ? { code: out.failed.code, message: out.failed.message, categories: [] }
        : out.blocked && {
            code: "moderation",
            message: `the answer was blocked by moderation (${out.blocked.categories.join(", ")})`,
            categories: out.blocked.categories,
          };
    if (blocked) {
      const { content: _, finish_reason: __, ...rest } = reply;
      reply = { ...rest, status: "rejected", error: { ...blocked, retryable: false } };
      // The exchange is not kept as history: the next turn must not build on an answer nobody was shown.
      newTurns = [];
    } else reply = { ...reply, content: out.content };
  }
  reply = {
    ...reply,
    ...(screening.language !== undefined && { language: screening.language }),
    ...(screening.flags.length > 0 && { flags: [...screening.flags] }),
  };
  return { ...outcome, reply, newTurns };
}

/** Thrown out of a fail_closed moderation call that failed for a reason of its own (not an outage, which waits). */
class ModerationFailed extends Error {
  override readonly name = "ModerationFailed";
  readonly code = "moderation_unavailable";
  readonly error: LlmError;
  constructor(error: LlmError) {
    super(`moderation failed: ${error.message}`);
    this.error = error;
  }
}

/**
 * Moderation through the same account gate, model circuit, shared limiter (under the moderation model's own
 * limits) and retry policy as chat calls. fail_closed: an outage waits behind the circuit like any other, so
 * nothing is lost; fail_open: a routed call with a short wait budget, whose "fallback" means go on unmoderated.
 */
function moderation(job: Job, guard: GuardDeps, retry: RetryDeps, policy: Policy): Moderate {
  const failOpen = policy.moderation.onOutage === "fail_open";
  let n = 0;
  return async (text, model) => {
    const call = n++;
    const called = await callWithRetries(
      {
        model,
        priority: job.priority,
        lease: job.lease,
        ids: idsOf(job),
        weight: { promptTokens: countTextTokens("gpt-4o-mini", text), outputBudget: 0 },
        call: () =>
          guard.moderation.moderate({
            model,
            input: text,
            requestId: `${job.request.request_id}:moderation:${call}`,
            timeoutMs: retry.timeoutMs,
          }),
        ...(failOpen && { deployment: { key: model, isLast: false, waitBudgetMs: guard.failOpenWaitMs } }),
      },
      retry,
    );
    if (called.ok === true) return { ok: true, result: called.answer };
    if (called.ok === "fallback") return { ok: false, reason: called.reason };
    if (failOpen) return { ok: false, reason: called.error.code };
    throw new ModerationFailed(called.error);
  };
}

function idsOf(job: Job) {
  const { request } = job;
  return {
    requestId: request.request_id,
    ...(request.conversation_id !== undefined && { conversationId: request.conversation_id }),
    ...(request.tenant !== undefined && { tenant: request.tenant }),
  };
}
