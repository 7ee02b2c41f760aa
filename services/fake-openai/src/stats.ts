import type { LimitKind } from "./rate-limiter.ts";

/** What the fake has seen, for tests and benchmarks (GET /_fake/stats). Admin calls are not counted. */
export interface FakeOpenAIStats {
  /** Every /v1 request, whatever its answer. */
  requests_total: number;
  /** By HTTP status answered ("200", "429", …). Requests still in flight or abandoned have no status yet. */
  by_status: Record<string, number>;
  /** Chat completion requests per known model (alias, not snapshot), whatever their answer. */
  by_model: Record<string, number>;
  /** 200 answers to POST /v1/chat/completions that reached the client. */
  completions_total: number;
  prompt_tokens_total: number;
  completion_tokens_total: number;
  /** 429s from the RPM/TPM limiter (injected [[fail:429]] faults are counted under faults_injected_total). */
  rate_limited_total: Record<LimitKind, number>;
  /** 200 answers to POST /v1/embeddings, the inputs they embedded and the tokens those inputs counted. */
  embeddings_total: number;
  embedding_inputs_total: number;
  embedding_tokens_total: number;
  /** 200 answers to POST /v1/moderations, and the inputs they scored. */
  moderations_total: number;
  moderation_inputs_total: number;
  /** X-Client-Request-Id → number of 200 answers, to prove each request was answered exactly once. */
  completions_by_client_request_id: Record<string, number>;
  faults_injected_total: { errors: number; hangs: number };
  /** Requests being handled now (including hanging ones), and the most seen at once. */
  in_flight: number;
  max_concurrent: number;
}

export class StatsRecorder {
  #requests = 0;
  #byStatus = new Map<number, number>();
  #byModel = new Map<string, number>();
  #completions = 0;
  #promptTokens = 0;
  #completionTokens = 0;
  #rateLimited: Record<LimitKind, number> = { requests: 0, tokens: 0 };
  #byClientRequestId = new Map<string, number>();
  #embeddings = { calls: 0, inputs: 0, tokens: 0 };
  #moderations = { calls: 0, inputs: 0 };
  #faults = { errors: 0, hangs: 0 };
  #inFlight = 0;
  #maxConcurrent = 0;

  requestStarted(): void {
    this.#requests += 1;
    this.#inFlight += 1;
    if (this.#inFlight > this.#maxConcurrent) this.#maxConcurrent = this.#inFlight;
  }

  requestEnded(): void {
    this.#inFlight -= 1;
  }

  answered(status: number): void {
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
  }

  model(model: string): void {
    this.#byModel.set(model, (this.#byModel.get(model) ?? 0) + 1);
  }

  completion(promptTokens: number, completionTokens: number, clientRequestId: string | undefined): void {
    this.#completions += 1;
    this.#promptTokens += promptTokens;
    this.#completionTokens += completionTokens;
    if (clientRequestId !== undefined) {
      this.#byClientRequestId.set(clientRequestId, (this.#byClientRequestId.get(clientRequestId) ?? 0) + 1);
    }
  }

  embeddings(inputs: number, tokens: number): void {
    this.#embeddings.calls += 1;
    this.#embeddings.inputs += inputs;
    this.#embeddings.tokens += tokens;
  }

  moderations(inputs: number): void {
    this.#moderations.calls += 1;
    this.#moderations.inputs += inputs;
  }

  rateLimited(kind: LimitKind): void {
    this.#rateLimited[kind] += 1;
  }

  faultInjected(kind: "errors" | "hangs"): void {
    this.#faults[kind] += 1;
  }

  snapshot(): FakeOpenAIStats {
    return {
      requests_total: this.#requests,
      by_status: Object.fromEntries([...this.#byStatus].map(([status, count]) => [String(status), count])),
      by_model: Object.fromEntries(this.#byModel),
      completions_total: this.#completions,
      prompt_tokens_total: this.#promptTokens,
      completion_tokens_total: this.#completionTokens,
      rate_limited_total: { ...this.#rateLimited },
      embeddings_total: this.#embeddings.calls,
      embedding_inputs_total: this.#embeddings.inputs,
      embedding_tokens_total: this.#embeddings.tokens,
      moderations_total: this.#moderations.calls,
      moderation_inputs_total: this.#moderations.inputs,
      completions_by_client_request_id: Object.fromEntries(this.#byClientRequestId),
      faults_injected_total: { ...this.#faults },
      in_flight: this.#inFlight,
      max_concurrent: this.#maxConcurrent,
    };
  }

  /** Zero every counter. Requests still in flight stay counted as in flight (they will end later). */
  reset(): void {
    this.#requests = 0;
    this.#byStatus.clear();
    this.#byModel.clear();
    this.#completions = 0;
    this.#promptTokens = 0;
    this.#completionTokens = 0;
    this.#rateLimited = { requests: 0, tokens: 0 };
    this.#byClientRequestId.clear();
    this.#embeddings = { calls: 0, inputs: 0, tokens: 0 };
    this.#moderations = { calls: 0, inputs: 0 };
    this.#faults = { errors: 0, hangs: 0 };
    this.#maxConcurrent = this.#inFlight;
  }
}
