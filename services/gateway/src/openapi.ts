import { ChatReplySchema } from "@chatq/contracts";
import { z } from "zod";
import {
  AsyncBatchSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  OpenAIErrorSchema,
} from "./openai-schema.ts";

/** JSON Schema 2020-12 of a zod schema, without its own $schema (OpenAPI 3.1 documents declare it once). */
function schemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/**
 * The gateway's OpenAPI 3.1 document, generated from the same zod schemas that validate its requests, so it cannot
 * drift from what the gateway accepts. Committed as services/gateway/openapi.json (a unit test keeps it equal).
 */
export function openApiDocument(): Record<string, unknown> {
  const errors = {
    "400": error("Malformed JSON or a body that does not match the schema"),
    "401": error("Missing, unknown or revoked API key"),
    "403": error("The tenant may not use this model"),
    "404": error("Unknown model"),
    "408": error("The body did not arrive in time"),
    "413": error("The body is too large"),
    "429": error(
      "Over the tenant's RPM/TPM quota (`rate_limit_exceeded`) or budget (`budget_exceeded`); see retry-after",
    ),
    "503": error("Kafka (or the key database) is unavailable; retry"),
  };
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "chatq gateway",
      version: "0.1.0",
      description:
        "OpenAI-compatible chat completions and chatq's asynchronous request API, answered by chatq's workers over Kafka.",
    },
    components: {
      securitySchemes: { tenantKey: { type: "http", scheme: "bearer", description: "A tenant key (cq_…)" } },
      schemas: {
        ChatCompletionRequest: schemaOf(ChatCompletionRequestSchema, "input"),
        ChatCompletion: schemaOf(ChatCompletionSchema, "output"),
        AsyncBatch: schemaOf(AsyncBatchSchema, "input"),
        ChatReply: schemaOf(ChatReplySchema, "output"),
        Error: schemaOf(OpenAIErrorSchema, "output"),
      },
    },
    security: [{ tenantKey: [] }],
    paths: {
      "/v1/chat/completions": {
        post: {
          operationId: "createChatCompletion",
          summary: "A chat completion, as OpenAI's API answers it (server-sent events with stream: true)",
          parameters: [
            {
              name: "Idempotency-Key",
              in: "header",
              schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,63}$" },
              description:
                "A retried call with the same key gets the same reply and never makes a second API call",
            },
            {
              name: "X-Chatq-Conversation-Id",
              in: "header",
              schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,63}$" },
              description: "Use the stored history of this conversation (send only the new turns)",
            },
          ],
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/ChatCompletionRequest" } },
            },
          },
          responses: {
            "200": {
              description: "The completion (or, with stream: true, its chunks as text/event-stream)",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/ChatCompletion" } },
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            ...errors,
            "502": error("The workers could not get an answer from the API"),
            "504": error("No reply within GATEWAY_REPLY_TIMEOUT_MS"),
          },
        },
      },
      "/v1/requests": {
        post: {
          operationId: "submitRequests",
          summary: "Queue one or many chat requests (chatq's contract); answers 202 with their ids",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/AsyncBatch" } } },
          },
          responses: {
            "202": {
              description: "Queued",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      object: { const: "list" },
                      data: {
                        type: "array",
                        items: {
                          type: "object",
                          properties: { id: { type: "string" }, status: { const: "queued" } },
                          required: ["id", "status"],
                        },
                      },
                    },
                    required: ["object", "data"],
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      "/v1/requests/{id}": {
        get: {
          operationId: "getRequest",
          summary: "The stored reply of a request, or status pending",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": {
              description: 'The reply (with `id` in place of request_id), or `{ id, status: "pending" }`',
              content: { "application/json": { schema: { $ref: "#/components/schemas/ChatReply" } } },
            },
            "401": errors["401"],
          },
        },
      },
      "/v1/models": {
        get: {
          operationId: "listModels",
          summary: "The models this tenant may use",
          responses: { "200": { description: "OpenAI's model list" }, "401": errors["401"] },
        },
      },
    },
  };
}

export function renderOpenApi(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
