import type { ChatRequest } from "@chatq/contracts";
import { apiParams, codeForStatus, type LlmErrorCode } from "@chatq/llm";

/** The Batch API's limits per file (OpenAI's): a file never holds more. */
export const BATCH_API_MAX_REQUESTS = 50_000;
export const BATCH_API_MAX_BYTES = 200 * 1024 * 1024;

/** One input line: custom_id = request_id, so output lines (which come in any order) join back by it. */
export function batchLine(request: ChatRequest, model: string): string {
  return JSON.stringify({
    custom_id: request.request_id,
    method: "POST",
    url: "/v1/chat/completions",
    body: {
      model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      ...apiParams(model, request.params),
    },
  });
}

/**
 * Splits lines into files within the API's limits (count, and bytes with each line's newline), in order. A line
 * alone over the byte limit still gets a file of its own: the API refuses it and that request fails with the reason.
 */
export function packLines<T extends { line: string }>(
  items: readonly T[],
  maxCount = BATCH_API_MAX_REQUESTS,
  maxBytes = BATCH_API_MAX_BYTES,
): T[][] {
  const files: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.line) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      files.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) files.push(current);
  return files;
}

export interface LineAnswer {
  content: string;
  finishReason: string;
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  cachedPromptTokens: number;
}

/**
 * What one output or error line says about its request:
 *   answer — a chat completion;
 *   error  — the request's own failure (a 4xx): it fails with this code, resubmitting would fail the same way;
 *   retry  — not answered for a reason of the batch (expired, cancelled, a 429 or 5xx): resubmit it.
 */
export type LineResult =
  | { customId: string; kind: "answer"; answer: LineAnswer }
  | { customId: string; kind: "error"; code: LlmErrorCode; message: string }
  | { customId: string; kind: "retry"; reason: string };

/** Parses an output or error file; lines that are not understood are skipped (their requests stay unanswered). */
export function parseResultFile(text: string): LineResult[] {
  const out: LineResult[] = [];
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    const result = parseResultLine(raw);
    if (result !== undefined) out.push(result);
  }
  return out;
}

export function parseResultLine(raw: string): LineResult | undefined {
  let line: unknown;
  try {
    line = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(line) || typeof line.custom_id !== "string") return undefined;
  const customId = line.custom_id;
  const response = isRecord(line.response) ? line.response : undefined;
  if (response !== undefined && typeof response.status_code === "number") {
    const status = response.status_code;
    const body = isRecord(response.body) ? response.body : {};
    if (status === 200) {
      const answer = answerOf(body);
      return answer === undefined
        ? {
            customId,
            kind: "error",
            code: "unknown",
            message: "the batch answered without a choice or usage",
          }
        : { customId, kind: "answer", answer };
    }
    const err = isRecord(body.error) ? body.error : {};
    const bodyCode = typeof err.code === "string" ? err.code : undefined;
    const message = typeof err.message === "string" ? err.message : `status ${status}`;
    const code = codeForStatus(status, bodyCode);
    if (status === 429 || status >= 500) return { customId, kind: "retry", reason: `${code}: ${message}` };
    return { customId, kind: "error", code, message };
  }
  const error = isRecord(line.error) ? line.error : {};
  const reason = `${typeof error.code === "string" ? error.code : "error"}: ${typeof error.message === "string" ? error.message : ""}`;
  return { customId, kind: "retry", reason };
}

function answerOf(body: Record<string, unknown>): LineAnswer | undefined {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const choice = choices[0];
  const usage = isRecord(body.usage) ? body.usage : undefined;
  if (!isRecord(choice) || usage === undefined) return undefined;
  const message = isRecord(choice.message) ? choice.message : {};
  const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    content: typeof message.content === "string" ? message.content : "",
    finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : "stop",
    model: typeof body.model === "string" ? body.model : "",
    usage: {
      prompt_tokens: n(usage.prompt_tokens),
      completion_tokens: n(usage.completion_tokens),
      total_tokens: n(usage.total_tokens),
    },
    cachedPromptTokens: n(details.cached_tokens),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
