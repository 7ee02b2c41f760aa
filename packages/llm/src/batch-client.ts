import { toFile } from "openai";
import type { Batch } from "openai/resources/batches";
import type { ChatClientOptions } from "./chat-client.ts";
import { openaiSdk } from "./chat-client.ts";
import { classifyError } from "./classify-error.ts";

/** What chatq reads of an OpenAI batch object. */
export interface BatchStatusReport {
  id: string;
  status: Batch["status"];
  outputFileId: string | null;
  errorFileId: string | null;
  /** The batch's own errors (a failed batch: invalid input, token_limit_exceeded), joined. */
  error: string | null;
  counts: { total: number; completed: number; failed: number };
}

/** The Files and Batches endpoints, through the official SDK. Every method throws LlmError. */
export interface BatchClient {
  /** Uploads a JSONL file (purpose `batch`) and creates a 24 h batch of /v1/chat/completions from it. */
  submit(jsonl: string, metadata: Record<string, string>): Promise<{ batchId: string; inputFileId: string }>;
  retrieve(batchId: string): Promise<BatchStatusReport>;
  /** A file's content as text (output and error files are JSONL). */
  fileText(fileId: string): Promise<string>;
}

export function createBatchClient(opts: ChatClientOptions): BatchClient {
  const sdk = openaiSdk(opts);
  const classified = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw classifyError(err);
    }
  };
  return {
    submit: (jsonl, metadata) =>
      classified(async () => {
        const file = await sdk.files.create({
          file: await toFile(Buffer.from(jsonl, "utf8"), "chatq-batch.jsonl"),
          purpose: "batch",
        });
        const batch = await sdk.batches.create({
          input_file_id: file.id,
          endpoint: "/v1/chat/completions",
          completion_window: "24h",
          metadata,
        });
        return { batchId: batch.id, inputFileId: file.id };
      }),
    retrieve: (batchId) =>
      classified(async () => {
        const b = await sdk.batches.retrieve(batchId);
        const errors = b.errors?.data?.map((e) => `${e.code ?? "error"}: ${e.message ?? ""}`) ?? [];
        return {
          id: b.id,
          status: b.status,
          outputFileId: b.output_file_id ?? null,
          errorFileId: b.error_file_id ?? null,
          error: errors.length > 0 ? errors.join("; ") : null,
          counts: {
            total: b.request_counts?.total ?? 0,
            completed: b.request_counts?.completed ?? 0,
            failed: b.request_counts?.failed ?? 0,
          },
        };
      }),
    fileText: (fileId) => classified(async () => (await sdk.files.content(fileId)).text()),
  };
}
