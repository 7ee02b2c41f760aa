import { type FakeOpenAI, type FakeOpenAIOptions, startFakeOpenAI } from "@chatq/fake-openai";

export interface Budget {
  rpm: number;
  tpm: number;
  sliceMs: number;
}

/**
 * The budget test workers run under unless a test says otherwise, and the one the tests' fakes enforce. So the
 * shared limiter is on in every worker test, as in production, and binds whenever a test's backlog outruns a
 * bucket (a slice's worth, 500 requests): a worker that spends more than it may gets 429s from the fake. 1 s
 * slices as in production. 500 requests (and 500,000 tokens, ~480 requests with the default 1,024-token answer
 * budget) a second is about what one worker does at 200 ms latency on the test machine, so the suite is hardly
 * slower than with the limiter off.
 */
export const TEST_BUDGET: Budget = { rpm: 30_000, tpm: 30_000_000, sliceMs: 1000 };

/** The worker's environment for a budget (OPENAI_RPM, OPENAI_TPM, RATELIMIT_SLICE_MS). */
export function budgetEnv(b: Budget): Record<string, string> {
  return { OPENAI_RPM: String(b.rpm), OPENAI_TPM: String(b.tpm), RATELIMIT_SLICE_MS: String(b.sliceMs) };
}

/** services/fake-openai in this process, enforcing `budget` (TEST_BUDGET unless given) as the API would. */
export function startTestFake(options: FakeOpenAIOptions & { budget?: Budget } = {}): Promise<FakeOpenAI> {
  const { budget = TEST_BUDGET, ...rest } = options;
  return startFakeOpenAI({
    apiKey: "sk-chatq-test",
    rpm: budget.rpm,
    tpm: budget.tpm,
    limitSliceMs: budget.sliceMs,
    ...rest,
  });
}
