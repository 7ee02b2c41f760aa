import { z } from "zod";

export const UsageSchema = z.object({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
});

export const ReplyStatusSchema = z.enum(["completed", "failed", "rejected"]);

export const ReplyErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  categories: z
    .array(z.string())
    .optional()
    .describe("What a guardrail refused for: moderation categories, sensitive topics or the injection rule."),
});

export const GuardrailFlagSchema = z
  .object({
    step: z.enum(["moderation", "injection", "topic"]),
    on: z.enum(["input", "output", "retrieved"]),
    categories: z.array(z.string()),
  })
  .describe(
    "A guardrail that let the request through but marked it (a moderation flag, an injection heuristic, a disclaimed topic).",
  );

export const HistoryModeSchema = z
  .enum(["full", "trimmed", "summarised"])
  .describe(
    "How the conversation's stored history was sent: all of it, with its oldest turns dropped, or with a summary standing in for them.",
  );

export const SourceSchema = z.object({
  document: z.string(),
  chunk: z.int().min(0),
  score: z.number(),
});

export const ChatReplySchema = z
  .object({
    request_id: z.string(),
    conversation_id: z.string().optional(),
    status: ReplyStatusSchema,
    model: z.string().optional(),
    content: z.string().optional(),
    finish_reason: z.string().optional(),
    usage: UsageSchema.optional(),
    cost_usd: z.number().min(0).optional(),
    latency_ms: z.number().min(0),
    attempts: z.int().min(0),
    error: ReplyErrorSchema.optional(),
    history: HistoryModeSchema.optional(),
    sources: z.array(SourceSchema).optional().describe("The document chunks given to the model as context."),
    route: z.string().optional().describe("The route the request's model named (absent for a plain model)."),
    variant: z.string().optional().describe("The route's variant chosen for this conversation (sticky)."),
    deployment: z.string().optional().describe("The deployment that answered (or last tried)."),
    fallbacks: z
      .array(z.object({ from: z.string(), reason: z.string() }))
      .optional()
      .describe(
        "Deployments left before the one that answered, in order, and why (circuit_open, rate_limited, context_length).",
      ),
    language: z
      .string()
      .optional()
      .describe("The detected language (ISO 639-1) of the newest user turn, with guardrails on."),
    flags: z.array(GuardrailFlagSchema).optional(),
  })
  .describe("The answer to one chat request, published to chat.replies (or the request's reply_topic).");

export type ChatReply = z.infer<typeof ChatReplySchema>;
export type Usage = z.infer<typeof UsageSchema>;
export type ReplyStatus = z.infer<typeof ReplyStatusSchema>;
export type HistoryMode = z.infer<typeof HistoryModeSchema>;
export type Source = z.infer<typeof SourceSchema>;
export type ReplyError = z.infer<typeof ReplyErrorSchema>;
export type GuardrailFlag = z.infer<typeof GuardrailFlagSchema>;
