import { z } from "zod";
import { ChatReplySchema } from "./chat-reply.ts";
import { ChatRequestSchema } from "./chat-request.ts";

/** The JSON Schema files producers in other languages validate against; generated from the zod schemas. */
export function jsonSchemas(): Record<string, unknown> {
  return {
    "chat-request.schema.json": z.toJSONSchema(ChatRequestSchema, { io: "input" }),
    "chat-reply.schema.json": z.toJSONSchema(ChatReplySchema, { io: "output" }),
  };
}

export function renderJsonSchema(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
