import { z } from "zod";
import { MAX_NESTING_DEPTH, PROTOTYPE_KEYS } from "./request-limits.ts";

/** Kafka's own rule for topic names. */
const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, "must be a valid Kafka topic name");

export const RoleSchema = z.enum(["system", "user", "assistant"]);

export const ChatMessageSchema = z.object({
  role: RoleSchema,
  content: z.string().min(1, "content must not be empty"),
});

export const ChatParamsSchema = z
  .object({
    temperature: z.number().min(0).max(2),
    top_p: z.number().min(0).max(1),
    /** Answer limit for classic models; chatq sends it as max_completion_tokens to reasoning models. */
    max_tokens: z.int().min(1),
    /** The newer name of the same limit (required by o-series and gpt-5); sent as max_tokens to older models. */
    max_completion_tokens: z.int().min(1),
    stop: z.union([z.string(), z.array(z.string()).max(4)]),
    seed: z.int(),
    response_format: z.object({ type: z.enum(["text", "json_object"]) }),
  })
  .partial()
  // Params go to the API as they are: an unknown one is a producer's mistake, not something to drop silently.
  .strict()
  .refine((p) => p.max_tokens === undefined || p.max_completion_tokens === undefined, {
    error: "set max_tokens or max_completion_tokens, not both (they are one limit)",
    path: ["max_completion_tokens"],
  });

export const RetrievalSchema = z
  .object({
    collection: z.string().min(1).max(128),
    k: z.int().min(1).max(100).default(4),
  })
  .strict()
  .describe("Insert the k chunks of the tenant's collection most similar to the last user turn as context.");

export const PrioritySchema = z.enum(["interactive", "batch"]);

export const ChatRequestSchema = z
  .object({
    request_id: z.string().min(1).max(128).describe("Idempotency key: one reply per request_id, ever."),
    conversation_id: z.string().min(1).max(128).optional(),
    tenant: z.string().min(1).max(128).optional(),
    user_id: z.string().min(1).max(256).optional(),
    model: z.string().min(1).max(128).optional(),
    messages: z.array(ChatMessageSchema).min(1, "messages must not be empty").max(1000),
    params: ChatParamsSchema.optional(),
    metadata: z
      .record(z.string(), z.unknown())
      .describe(
        `Free-form JSON kept with the request. The whole request may nest at most ${MAX_NESTING_DEPTH} levels (the request object is level 1); no key anywhere may be ${[...PROTOTYPE_KEYS].join(", ")}.`,
      )
      .optional(),
    priority: PrioritySchema.optional(),
    reply_topic: topicName.optional(),
    created_at: z.iso.datetime({ offset: true }).optional(),
    retrieval: RetrievalSchema.optional(),
    replay_of: z
      .string()
      .min(1)
      .max(128)
      .describe(
        "The request_id this request re-runs (`chatq replay`, `chatq dlq replay`): originals and replays side by side.",
      )
      .optional(),
  })
  .describe("A chat request published to chat.requests, keyed by conversation_id (or request_id).");

export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type ChatMessage = z.infer<typeof ChatMessageSchema>;
export type ChatParams = z.infer<typeof ChatParamsSchema>;
export type Retrieval = z.infer<typeof RetrievalSchema>;
export type Priority = z.infer<typeof PrioritySchema>;
export type Role = z.infer<typeof RoleSchema>;
