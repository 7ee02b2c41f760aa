import { ChatParamsSchema, ChatRequestSchema } from "@chatq/contracts";
import { z } from "zod";

// The OpenAI Chat Completions request as chatq accepts it. Fields chatq cannot honour (n > 1, tools, logprobs…)
// are refused by name rather than silently dropped; unknown fields are ignored, as clients (LangChain, the SDKs)
// send extras that mean nothing here.

const TextPart = z.object({ type: z.literal("text"), text: z.string() });

export const OpenAIMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string().min(1, "content must not be empty"), z.array(TextPart).min(1)]),
  name: z.string().max(64).optional(),
});

const params = ChatParamsSchema.shape;

export const ChatCompletionRequestSchema = z
  .object({
    model: z.string().min(1).max(128),
    messages: z.array(OpenAIMessageSchema).min(1, "messages must not be empty").max(1000),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    temperature: params.temperature.optional(),
    top_p: params.top_p.optional(),
    max_tokens: params.max_tokens.nullish(),
    max_completion_tokens: params.max_completion_tokens.nullish(),
    stop: params.stop.nullish(),
    seed: params.seed.nullish(),
    response_format: params.response_format.optional(),
    user: z.string().max(256).optional(),
    n: z.literal(1, { error: "chatq answers with one choice (n must be 1)" }).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
  })
  .describe("OpenAI's Chat Completions request, as the gateway accepts it.");
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.int(),
        message: z.object({
          role: z.literal("assistant"),
          content: z.string().nullable(),
          refusal: z.null(),
        }),
        finish_reason: z.string(),
        logprobs: z.null(),
      }),
    ),
    usage: z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() }).optional(),
    system_fingerprint: z.null(),
  })
  .describe("OpenAI's Chat Completions response.");
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

export const OpenAIErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .describe("OpenAI's error shape, used for every gateway error.");

/** chatq's own contract minus what the gateway decides (tenant from the key, reply topic, priority). */
export const AsyncRequestSchema = ChatRequestSchema.omit({
  tenant: true,
  reply_topic: true,
  created_at: true,
})
  .extend({
    request_id: ChatRequestSchema.shape.request_id.max(63).optional(),
    callback_url: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .max(2048)
      .optional()
      .describe("POSTed the reply once it is stored, signed (X-Chatq-Signature), retried with backoff"),
  })
  .describe("One chat request for POST /v1/requests; request_id is generated when absent.");

export const AsyncBatchSchema = z
  .object({ requests: z.array(AsyncRequestSchema).min(1).max(1000) })
  .describe("POST /v1/requests: one or many chat requests.");
export type AsyncBatch = z.infer<typeof AsyncBatchSchema>;
