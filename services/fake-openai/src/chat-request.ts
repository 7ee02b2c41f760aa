import { type core, z } from "zod";
import { type FakeModel, findModel } from "./models.ts";
import {
  type ApiErrorReply,
  invalidRequest,
  modelNotFound,
  streamingUnsupported,
  unsupportedByFake,
} from "./openai-errors.ts";
import { countPromptTokens } from "./prompt-tokens.ts";

const ROLES = ["system", "user", "assistant", "developer", "tool"] as const;

const MessageSchema = z.object({
  role: z.enum(ROLES),
  content: z.string(),
  name: z.string().nullish(),
  tool_call_id: z.string().nullish(),
});

const passthrough = z.unknown().optional();

/**
 * The Chat Completions body the fake accepts. Strict like the real API, which rejects arguments it does not know
 * ("Unrecognized request argument supplied: …"); the parameters listed as `passthrough` exist on the real API and
 * do not change the fake's answer.
 */
const ChatBodySchema = z.strictObject({
  model: z.string(),
  messages: z.array(MessageSchema).min(1),
  max_tokens: z.int().min(1).nullish(),
  max_completion_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.int().min(1).max(128).nullish(),
  stop: passthrough,
  seed: z.int().nullish(),
  response_format: z.object({ type: z.enum(["text", "json_object", "json_schema"]) }).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stream: z.boolean().nullish(),
  stream_options: passthrough,
  tools: passthrough,
  tool_choice: passthrough,
  functions: passthrough,
  function_call: passthrough,
  parallel_tool_calls: passthrough,
  user: passthrough,
  metadata: passthrough,
  store: passthrough,
  logit_bias: passthrough,
  logprobs: passthrough,
  top_logprobs: passthrough,
  service_tier: passthrough,
  reasoning_effort: passthrough,
  verbosity: passthrough,
  modalities: passthrough,
  prediction: passthrough,
  audio: passthrough,
  web_search_options: passthrough,
  prompt_cache_key: passthrough,
  safety_identifier: passthrough,
});

type ChatBody = z.infer<typeof ChatBodySchema>;
export type ChatMessage = z.infer<typeof MessageSchema>;

/** A validated request, with everything the rest of the fake needs worked out once. */
export interface ChatCall {
  model: FakeModel;
  /** The name the client asked for (an alias or a dated snapshot). */
  requestedModel: string;
  messages: readonly ChatMessage[];
  /** max_completion_tokens ?? max_tokens, when the client set one. */
  maxTokens: number | undefined;
  n: number;
  stop: readonly string[];
  seed: number | undefined;
  jsonObject: boolean;
  promptTokens: number;
  /** Content of the last user message ("" when there is none): what the reply echoes and markers live in. */
  lastUserContent: string;
  /** Number of user messages: the reply's "turn N", proof that the history was sent. */
  userTurns: number;
}

/** Validates a parsed JSON body the way the real API does, or throws the ApiErrorReply it would answer. */
export function validateChatRequest(raw: unknown): ChatCall {
  // Streaming is refused before anything else: it is the one thing a client cannot get from this fake at all.
  if (isRecord(raw) && raw.stream === true) throw streamingUnsupported();
  const parsed = ChatBodySchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw issueToError(parsed.error.issues);
  const body = parsed.data;

  const model = findModel(body.model);
  if (!model) throw modelNotFound(body.model);

  if (nonEmpty(body.tools) || nonEmpty(body.functions))
    throw unsupportedByFake("tools", "Tool and function calling");
  if (body.response_format?.type === "json_schema") {
    throw unsupportedByFake("response_format", "response_format of type 'json_schema'");
  }
  const jsonObject = body.response_format?.type === "json_object";
  if (jsonObject && !body.messages.some((m) => /json/i.test(m.content))) {
    throw invalidRequest(
      "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      "messages",
      null,
    );
  }
  checkReasoningParams(model, body);

  const [maxParam, maxTokens] =
    body.max_completion_tokens != null
      ? (["max_completion_tokens", body.max_completion_tokens] as const)
      : (["max_tokens", body.max_tokens ?? undefined] as const);
  if (maxTokens !== undefined && maxTokens > model.maxOutputTokens) {
    throw invalidRequest(
      `${maxParam} is too large: ${maxTokens}. This model supports at most ${model.maxOutputTokens} completion tokens, whereas you provided ${maxTokens}.`,
      maxParam,
      "invalid_value",
    );
  }
  const stop = parseStop(body.stop);

  const promptTokens = countPromptTokens(model.encoding, body.messages);
  checkContextWindow(model, promptTokens, maxTokens);

  let lastUserContent = "";
  let userTurns = 0;
  for (const message of body.messages) {
    if (message.role !== "user") continue;
    userTurns += 1;
    lastUserContent = message.content;
  }

  return {
    model,
    requestedModel: body.model,
    messages: body.messages,
    maxTokens,
    n: body.n ?? 1,
    stop,
    seed: body.seed ?? undefined,
    jsonObject,
    promptTokens,
    lastUserContent,
    userTurns,
  };
}

function checkReasoningParams(model: FakeModel, body: ChatBody): void {
  if (!model.reasoning) return;
  if (body.max_tokens != null) {
    throw invalidRequest(
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      "max_tokens",
      "unsupported_parameter",
    );
  }
  if (body.temperature != null && body.temperature !== 1) {
    throw invalidRequest(
      `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`,
      "temperature",
      "unsupported_value",
    );
  }
}

function checkContextWindow(model: FakeModel, promptTokens: number, maxTokens: number | undefined): void {
  const window = model.contextWindow;
  if (maxTokens !== undefined && promptTokens + maxTokens > window) {
    throw invalidRequest(
      `This model's maximum context length is ${window} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
      "messages",
      "context_length_exceeded",
    );
  }
  if (promptTokens >= window) {
    throw invalidRequest(
      `This model's maximum context length is ${window} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`,
      "messages",
      "context_length_exceeded",
    );
  }
}

/** `stop`: null, a string, or up to 4 strings. Checked by hand so a long array gets the API's own message. */
function parseStop(stop: unknown): string[] {
  if (stop === undefined || stop === null) return [];
  if (typeof stop === "string") return stop === "" ? [] : [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) {
    if (stop.length > 4) {
      throw invalidRequest(
        `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${stop.length} instead.`,
        "stop",
        "array_above_max_length",
      );
    }
    return stop.filter((s) => s !== "");
  }
  throw invalidRequest(
    `Invalid type for 'stop': expected one of a string or array of strings, but got ${describeValue(stop)} instead.`,
    "stop",
    "invalid_type",
  );
}

/** One zod issue → the error the real API gives for the same mistake (it reports one problem at a time). */
function issueToError(issues: readonly core.$ZodIssue[]): ApiErrorReply {
  const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  if (!issue) return invalidRequest("Invalid request.", null, null);
  const param = formatParam(issue.path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const keys = issue.keys.join(", ");
      const noun = issue.keys.length > 1 ? "arguments" : "argument";
      return invalidRequest(`Unrecognized request ${noun} supplied: ${keys}`, null, null);
    }
    case "invalid_type": {
      if (param === null) {
        return invalidRequest(
          `Invalid type for request body: expected an object, but got ${describeValue(issue.input)} instead.`,
          null,
          "invalid_type",
        );
      }
      if (!("input" in issue) || issue.input === undefined) {
        if (param === "model") return invalidRequest("you must provide a model parameter", null, null);
        return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
      }
      return invalidRequest(
        `Invalid type for '${param}': expected ${describeExpected(issue.expected)}, but got ${describeValue(issue.input)} instead.`,
        param,
        "invalid_type",
      );
    }
    case "too_small": {
      if (issue.origin === "array") {
        return invalidRequest(
          `Invalid '${param}': empty array. Expected an array with minimum length ${issue.minimum}, but got an empty array instead.`,
          param,
          "empty_array",
        );
      }
      const kind = numberKind(param);
      return invalidRequest(
        `Invalid '${param}': ${kind} below minimum value. Expected a value >= ${issue.minimum}, but got ${String(issue.input)} instead.`,
        param,
        `${kind}_below_min_value`,
      );
    }
    case "too_big": {
      const kind = numberKind(param);
      return invalidRequest(
        `Invalid '${param}': ${kind} above maximum value. Expected a value <= ${issue.maximum}, but got ${String(issue.input)} instead.`,
        param,
        `${kind}_above_max_value`,
      );
    }
    case "invalid_value": {
      const supported = issue.values.map((v) => `'${String(v)}'`).join(", ");
      return invalidRequest(
        `Invalid value: '${String(issue.input)}'. Supported values are: ${supported}.`,
        param,
        "invalid_value",
      );
    }
    default:
      return invalidRequest(`Invalid '${param ?? "request"}': ${issue.message}`, param, "invalid_value");
  }
}

// The API words range errors by the parameter's declared type, not by the value sent.
const INTEGER_PARAMS: ReadonlySet<string | null> = new Set([
  "max_tokens",
  "max_completion_tokens",
  "n",
  "seed",
]);

function numberKind(param: string | null): "integer" | "decimal" {
  return INTEGER_PARAMS.has(param) ? "integer" : "decimal";
}

/** ["messages", 0, "role"] → "messages[0].role", the way the API names parameters. */
function formatParam(path: readonly PropertyKey[]): string | null {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? null : out;
}

function describeExpected(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "number":
      return "a decimal";
    case "array":
      return "an array";
    case "object":
      return "an object";
    case "boolean":
      return "a boolean";
    default:
      return `a ${expected}`;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "object") return "an object";
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null;
}
