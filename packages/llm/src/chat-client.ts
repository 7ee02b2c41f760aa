import type { ChatParams } from "@chatq/contracts";
import OpenAI, { AzureOpenAI } from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { classifyError } from "./classify-error.ts";
import { LlmError } from "./llm-error.ts";
import { outputLimitParam } from "./model-catalog.ts";

export interface ChatClientOptions {
  apiKey: string;
  /** Any OpenAI-compatible server; undefined means api.openai.com. */
  baseURL?: string | undefined;
  organization?: string | undefined;
  /**
   * Azure OpenAI's shape: `baseURL` is the resource endpoint (https://{resource}.openai.azure.com), calls go to
   * /openai/deployments/{deployment}/chat/completions?api-version=… with an `api-key` header (the SDK's AzureOpenAI).
   */
  azure?: { deployment: string; apiVersion: string } | undefined;
  /** For tests: the fetch the SDK uses. */
  fetch?: typeof fetch | undefined;
}

export interface ChatCall {
  model: string;
  messages: readonly { role: "system" | "user" | "assistant"; content: string }[];
  params?: ChatParams | undefined;
  /** Sent as X-Client-Request-Id, so a call can be found in OpenAI's logs (and counted by the fake). */
  requestId: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface ChatAnswer {
  content: string;
  finishReason: string;
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  /** Prompt tokens served from the API's prompt cache (billed at the cached-input price); 0 when not reported. */
  cachedPromptTokens: number;
  /** Response headers: x-ratelimit-* feed the limiter. */
  headers: Headers;
  apiMs: number;
}

export interface ChatClient {
  /** One attempt. Throws LlmError; retrying is the caller's policy, not the SDK's. */
  complete(call: ChatCall): Promise<ChatAnswer>;
  /** A cheap authenticated call (GET /models) to learn whether the key works again. Throws LlmError. */
  probe(timeoutMs: number): Promise<void>;
}

type ApiParams = Omit<ChatCompletionCreateParamsNonStreaming, "model" | "messages">;

/**
 * The request's params as this model takes them: unset ones left out (the SDK's types say null, never undefined),
 * and the answer limit under the name the model accepts (reasoning models refuse max_tokens, some
 * OpenAI-compatible servers know only max_tokens).
 */
export function apiParams(model: string, params: ChatParams | undefined): ApiParams {
  const out: Record<string, unknown> = {};
  const { max_tokens, max_completion_tokens, ...rest } = params ?? {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) out[k] = v;
  const limit = max_completion_tokens ?? max_tokens;
  if (limit !== undefined) out[outputLimitParam(model)] = limit;
  return out as ApiParams;
}

/** The SDK as every chatq client uses it. */
export function openaiSdk(opts: ChatClientOptions): OpenAI {
  // The SDK retries by itself unless told not to; chatq owns retries so they share one budget and one log.
  return createSdk(opts);
}

export function createChatClient(
  opts: ChatClientOptions,
  now: () => number = performance.now.bind(performance),
): ChatClient {
  const sdk = openaiSdk(opts);

  return {
    async complete(call) {
      const started = now();
      try {
        const { data, response } = await sdk.chat.completions
          .create(
            {
              model: call.model,
              messages: [...call.messages],
              ...apiParams(call.model, call.params),
              stream: false,
            },
            {
              timeout: call.timeoutMs,
              maxRetries: 0,
              headers: { "X-Client-Request-Id": call.requestId },
              signal: call.signal ?? null,
            },
          )
          .withResponse();
        const choice = data.choices[0];
        if (!choice || !data.usage) {
          throw new LlmError("unknown", "the API answered without a choice or usage", {
            headers: response.headers,
          });
        }
        return {
          content: choice.message.content ?? "",
          finishReason: choice.finish_reason,
          model: data.model,
          usage: {
            prompt_tokens: data.usage.prompt_tokens,
            completion_tokens: data.usage.completion_tokens,
            total_tokens: data.usage.total_tokens,
          },
          cachedPromptTokens: data.usage.prompt_tokens_details?.cached_tokens ?? 0,
          headers: response.headers,
          apiMs: now() - started,
        };
      } catch (err) {
        throw classifyError(err);
      }
    },

    async probe(timeoutMs) {
      try {
        await sdk.models.list({ timeout: timeoutMs, maxRetries: 0 });
      } catch (err) {
        throw classifyError(err);
      }
    },
  };
}

function createSdk(opts: ChatClientOptions): OpenAI {
  const common = {
    apiKey: opts.apiKey,
    maxRetries: 0,
    ...(opts.fetch !== undefined && { fetch: opts.fetch }),
  };
  if (opts.azure !== undefined) {
    return new AzureOpenAI({
      ...common,
      endpoint: opts.baseURL ?? "",
      deployment: opts.azure.deployment,
      apiVersion: opts.azure.apiVersion,
    });
  }
  return new OpenAI({ ...common, baseURL: opts.baseURL ?? null, organization: opts.organization ?? null });
}
