import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { BatchApi, BatchApiDeps } from "./batches.ts";
import { validateChatRequest } from "./chat-request.ts";
import { MAX_BATCH_FILE_BYTES } from "./files.ts";
import {
  ApiErrorReply,
  bodyTooLarge,
  invalidRequest,
  invalidUrl,
  methodNotAllowed,
  unparsableJson,
} from "./openai-errors.ts";
import { buildCompletion } from "./reply.ts";

/** What a Files or Batches call answers: JSON, or a file's raw bytes. */
export type RouteAnswer = { status: number; json: unknown } | { status: number; bytes: Buffer };

/** Multipart framing around a 200 MB file. */
const UPLOAD_SLACK_BYTES = 64 * 1024;

export function isBatchPath(path: string): boolean {
  return (
    path === "/v1/files" ||
    path.startsWith("/v1/files/") ||
    path === "/v1/batches" ||
    path.startsWith("/v1/batches/")
  );
}

/** /v1/files and /v1/batches, as OpenAI routes them. Throws the ApiErrorReply the API would answer. */
export async function routeBatchCall(
  api: BatchApi,
  req: IncomingMessage,
  method: string,
  path: string,
  query: URLSearchParams,
  readJson: () => Promise<unknown>,
): Promise<RouteAnswer> {
  const parts = path.split("/").filter(Boolean).slice(1); // ["files", id?, "content"?]
  const [kind, id, action] = parts;
  const only = (m: string) => {
    if (method !== m) throw methodNotAllowed(method, path);
  };
  if (kind === "files") {
    if (id === undefined) {
      only("POST");
      const { filename, purpose, content } = await readUpload(req);
      return { status: 200, json: api.uploadFile(filename, purpose, content) };
    }
    only("GET");
    if (action === undefined) return { status: 200, json: api.files.meta(id) };
    if (action === "content") return { status: 200, bytes: api.files.content(id) };
  }
  if (kind === "batches") {
    if (id === undefined) {
      if (method === "POST") return { status: 200, json: api.create(await readJson()) };
      only("GET");
      const limit = Math.min(100, Math.max(1, Number(query.get("limit") ?? 20) || 20));
      return { status: 200, json: api.list(limit, query.get("after") ?? undefined) };
    }
    if (action === undefined) {
      only("GET");
      return { status: 200, json: api.retrieve(id) };
    }
    if (action === "cancel") {
      only("POST");
      return { status: 200, json: api.cancel(id) };
    }
  }
  throw invalidUrl(method, path);
}

/**
 * The admin side for tests: `POST /_fake/batches/config` (time scale, limits), `POST /_fake/batches/{id}/expire`
 * and `/fail`, `POST /_fake/batches/expire` (every batch not yet final). Undefined for other paths.
 */
export function routeBatchAdmin(
  api: BatchApi,
  method: string,
  path: string,
  body: unknown,
): RouteAnswer | undefined {
  if (!path.startsWith("/_fake/batches")) return undefined;
  if (method === "GET" && path === "/_fake/batches/config") return { status: 200, json: api.settings() };
  if (method !== "POST") return undefined;
  if (path === "/_fake/batches/config") {
    api.configure((body ?? {}) as Record<string, never>);
    return { status: 200, json: api.settings() };
  }
  if (path === "/_fake/batches/expire") {
    return { status: 200, json: { data: api.activeIds().map((id) => api.forceExpire(id)) } };
  }
  const m = /^\/_fake\/batches\/([^/]+)\/(expire|fail)$/.exec(path);
  if (!m) return undefined;
  const id = m[1] as string;
  return { status: 200, json: m[2] === "expire" ? api.forceExpire(id) : api.forceFail(id) };
}

/** A multipart upload (`file`, `purpose`), parsed by the platform's own FormData. */
async function readUpload(
  req: IncomingMessage,
): Promise<{ filename: string; purpose: string; content: Buffer }> {
  const length = Number(req.headers["content-length"] ?? 0);
  if (length > MAX_BATCH_FILE_BYTES + UPLOAD_SLACK_BYTES) {
    req.resume();
    throw bodyTooLarge(MAX_BATCH_FILE_BYTES);
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === "string") headers.set(k, v);
  }
  let form: FormData;
  try {
    form = await new Request("http://fake/upload", {
      method: "POST",
      headers,
      body: Readable.toWeb(req) as ReadableStream,
      duplex: "half",
    } as RequestInit).formData();
  } catch {
    throw unparsableJson();
  }
  const file = form.get("file");
  const purpose = form.get("purpose");
  if (!(file instanceof Blob)) throw invalidRequest("'file' is a required property", "file", null);
  if (typeof purpose !== "string") throw invalidRequest("'purpose' is a required property", "purpose", null);
  const filename = file instanceof File ? file.name : "upload.jsonl";
  return { filename, purpose, content: Buffer.from(await file.arrayBuffer()) };
}

/** A batch line gets what POST /v1/chat/completions would answer: the same validation and reply generator. */
export function batchLineDeps(replyTokens: () => number): Pick<BatchApiDeps, "answer" | "measure"> {
  return {
    answer(body) {
      try {
        const call = validateChatRequest(body);
        const completion = buildCompletion(call, replyTokens(), {
          id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
          createdSeconds: Math.floor(Date.now() / 1000),
        });
        return { statusCode: 200, body: completion };
      } catch (err) {
        if (err instanceof ApiErrorReply) return { statusCode: err.status, body: err.body() };
        throw err;
      }
    },
    measure(body) {
      try {
        const call = validateChatRequest(body);
        return { model: call.model.id, tokens: call.promptTokens };
      } catch {
        return undefined;
      }
    },
  };
}
