import { randomUUID } from "node:crypto";
import { ApiErrorReply, invalidRequest } from "./openai-errors.ts";

/** The Batch API's limits per input file (OpenAI's documented figures). */
export const MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024;
export const MAX_BATCH_LINES = 50_000;
export const BATCH_ENDPOINT = "/v1/chat/completions";

export type FilePurpose = "batch" | "batch_output";

/** OpenAI's `file` object, as `GET /v1/files/{id}` returns it. */
export interface FileObjectBody {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: "processed";
  expires_at: number | null;
  status_details: null;
}

/** One line of a batch input file: `{custom_id, method, url, body}`. */
export interface BatchInputLine {
  custom_id: string;
  method: "POST";
  url: string;
  body: Record<string, unknown>;
}

/** Uploaded and generated files, in memory: the fake lives as long as a test. */
export class FileStore {
  readonly #files = new Map<string, { meta: FileObjectBody; content: Buffer }>();

  create(filename: string, purpose: FilePurpose, content: Buffer, nowSeconds: number): FileObjectBody {
    const meta: FileObjectBody = {
      id: `file-${randomUUID().replaceAll("-", "").slice(0, 24)}`,
      object: "file",
      bytes: content.length,
      created_at: nowSeconds,
      filename,
      purpose,
      status: "processed",
      expires_at: null,
      status_details: null,
    };
    this.#files.set(meta.id, { meta, content });
    return meta;
  }

  meta(id: string): FileObjectBody {
    return this.#get(id).meta;
  }

  content(id: string): Buffer {
    return this.#get(id).content;
  }

  #get(id: string) {
    const file = this.#files.get(id);
    if (!file) throw new ApiErrorReply(404, "invalid_request_error", `No such File object: ${id}`);
    return file;
  }
}

/**
 * Validates a batch input file the way the Files endpoint does for purpose `batch`: JSONL, at most 50,000 lines
 * and 200 MB, each line `{custom_id, method: "POST", url, body}`, custom_ids unique (duplicates have hung
 * OpenAI-compatible servers; OpenAI refuses them). Throws the 400 the API would answer.
 */
export function parseBatchInput(content: Buffer): BatchInputLine[] {
  if (content.length > MAX_BATCH_FILE_BYTES) {
    throw invalidRequest(
      `File is too large: ${content.length} bytes; the maximum for purpose 'batch' is ${MAX_BATCH_FILE_BYTES} bytes.`,
      "file",
      "file_too_large",
    );
  }
  const lines = content
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  if (lines.length === 0) throw invalidRequest("The batch input file is empty.", "file", "empty_file");
  if (lines.length > MAX_BATCH_LINES) {
    throw invalidRequest(
      `The batch input file has ${lines.length} requests; the maximum is ${MAX_BATCH_LINES}.`,
      "file",
      "too_many_requests",
    );
  }
  const seen = new Set<string>();
  return lines.map((text, i) => {
    const line = parseLine(text, i + 1);
    if (seen.has(line.custom_id)) {
      throw invalidRequest(
        `Line ${i + 1}: the custom_id '${line.custom_id}' is duplicated; custom_id must be unique within a batch.`,
        "file",
        "duplicate_custom_id",
      );
    }
    seen.add(line.custom_id);
    return line;
  });
}

function parseLine(text: string, n: number): BatchInputLine {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalidRequest(`Line ${n} is not valid JSON.`, "file", "invalid_json_line");
  }
  const bad = (what: string) => invalidRequest(`Line ${n}: ${what}.`, "file", "invalid_request_line");
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("must be a JSON object");
  const r = raw as Record<string, unknown>;
  if (typeof r.custom_id !== "string" || r.custom_id === "")
    throw bad("custom_id must be a non-empty string");
  if (r.method !== "POST") throw bad("method must be POST");
  if (typeof r.url !== "string") throw bad("url must be a string");
  if (typeof r.body !== "object" || r.body === null || Array.isArray(r.body))
    throw bad("body must be an object");
  return { custom_id: r.custom_id, method: "POST", url: r.url, body: r.body as Record<string, unknown> };
}
