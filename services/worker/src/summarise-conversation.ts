import type { ChatMessage } from "@chatq/contracts";
import { countMessageTokens, countPromptTokens, modelInfo } from "@chatq/llm";
import type { Store, StoredTurn } from "@chatq/store";
import { type AnswerDeps, callWithRetries } from "./answer-with-retries.ts";

export const SUMMARY_INSTRUCTIONS =
  "Summarise the conversation below for an assistant that will continue it. Keep every fact, name, number, " +
  "preference and decision the user gave, and what was agreed; drop greetings and filler. Answer with the summary only.";

export interface SummariserSettings {
  model: string;
  maxTokens: number;
}

export interface SummariserDeps {
  store: Pick<Store, "loadContext" | "loadTurnsBetween" | "saveSummary">;
  answer: AnswerDeps;
  onOutcome: (outcome: "stored" | "failed", fields: Record<string, unknown>) => void;
}

/**
 * The summary prompt: the previous summary and the turns since, one line each (a turn's newlines flattened).
 * System turns are left out: the conversation's instructions are sent as they are, never summarised.
 */
export function summaryPrompt(previous: string | undefined, turns: readonly StoredTurn[]): ChatMessage[] {
  const lines = turns
    .filter((t) => t.role !== "system")
    .map((t) => `${t.role}: ${t.content.replace(/\s*\n\s*/g, " ")}`);
  const before = previous === undefined ? "" : `Summary so far:\n${previous}\n\n`;
  return [
    { role: "system", content: SUMMARY_INSTRUCTIONS },
    { role: "user", content: `${before}New turns:\n${lines.join("\n")}` },
  ];
}

/**
 * Summarises conversations in the background, off the request's path: a request whose history no longer fits is
 * answered with trimming at once, and asks for its dropped turns to be summarised for the next one. At most one
 * summary per conversation runs at a time; asks that come meanwhile are merged into one follow-up. Calls go through
 * the same gates, limiter and retries as requests, at batch priority.
 */
export class ConversationSummariser {
  readonly #s: SummariserSettings;
  readonly #d: SummariserDeps;
  readonly #stop = new AbortController();
  /** Conversation → the furthest turn id asked for while one runs. */
  readonly #pending = new Map<string, number>();
  readonly #running = new Map<string, Promise<void>>();

  constructor(settings: SummariserSettings, deps: SummariserDeps) {
    this.#s = settings;
    this.#d = deps;
  }

  /** Ask for the conversation to be summarised through turn `throughId`. Never throws, never waits. */
  request(conversationId: string, throughId: number, tenant: string | undefined): void {
    if (this.#stop.signal.aborted) return;
    this.#pending.set(conversationId, Math.max(throughId, this.#pending.get(conversationId) ?? 0));
    if (this.#running.has(conversationId)) return;
    const run = this.#drain(conversationId, tenant).finally(() => this.#running.delete(conversationId));
    this.#running.set(conversationId, run);
  }

  /** Resolves when no summary is running (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  /** Summaries waiting for budget or a backoff let go; one at the API finishes or is dropped unsaved. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#pending.clear();
    await Promise.allSettled(this.#running.values());
  }

  async #drain(conversationId: string, tenant: string | undefined): Promise<void> {
    for (;;) {
      const through = this.#pending.get(conversationId);
      if (through === undefined || this.#stop.signal.aborted) return;
      this.#pending.delete(conversationId);
      try {
        await this.#summarise(conversationId, through, tenant);
      } catch (err) {
        // Stopping is not a failure: the next trimmed request asks again, as after any failure.
        if (this.#stop.signal.aborted) return;
        // A summary is an optimisation: the next trimmed request asks again.
        this.#d.onOutcome("failed", { conversation_id: conversationId, error: (err as Error).message });
      }
    }
  }

  /** Old summary + turns since → new summary, in steps small enough for the summary model, each one stored. */
  async #summarise(conversationId: string, throughId: number, tenant: string | undefined): Promise<void> {
    const { model, maxTokens } = this.#s;
    const { summary } = await this.#d.store.loadContext(conversationId, { limit: 0 });
    let text = summary?.text;
    let coveredId = summary?.throughId ?? 0;
    let coveredTurns = summary?.turns ?? 0;
    if (coveredId >= throughId) return;
    const turns = await this.#d.store.loadTurnsBetween(conversationId, coveredId, throughId);
    // Half the summary model's window per step leaves room for the previous summary and the answer.
    const stepTokens = Math.floor(modelInfo(model).contextWindow / 2) - maxTokens;
    let i = 0;
    while (i < turns.length) {
      const step: StoredTurn[] = [];
      let tokens = 0;
      while (
        i < turns.length &&
        (step.length === 0 || tokens + countMessageTokens(model, turns[i] as StoredTurn) <= stepTokens)
      ) {
        tokens += countMessageTokens(model, turns[i] as StoredTurn);
        step.push(turns[i] as StoredTurn);
        i++;
      }
      const messages = summaryPrompt(text, step);
      const lastId = (step.at(-1) as StoredTurn).id;
      const called = await callWithRetries(
        {
          model,
          priority: "batch",
          lease: this.#stop.signal,
          ids: {
            requestId: `summary:${conversationId}:${lastId}`,
            conversationId,
            ...(tenant !== undefined && { tenant }),
          },
          weight: { promptTokens: countPromptTokens(model, messages), outputBudget: maxTokens },
          call: () =>
            this.#d.answer.client.complete({
              model,
              messages,
              params: { max_tokens: maxTokens, temperature: 0 },
              requestId: `summary:${conversationId}:${lastId}`,
              timeoutMs: this.#d.answer.timeoutMs,
            }),
        },
        this.#d.answer,
      );
      if (!called.ok) throw called.error;
      text = called.answer.content.trim();
      coveredId = lastId;
      coveredTurns += step.length;
      const stored = await this.#d.store.saveSummary(conversationId, {
        text,
        throughId: coveredId,
        turns: coveredTurns,
        model,
      });
      this.#d.onOutcome("stored", {
        conversation_id: conversationId,
        through_id: coveredId,
        turns: coveredTurns,
        stored,
      });
    }
  }
}
