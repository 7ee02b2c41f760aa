/**
 * Consecutive ranges of inputs to send as one embeddings call each: at most `maxInputs` inputs and `maxTokens`
 * tokens a call (the API takes 2048 inputs and 300k tokens; a smaller call also weighs less against TPM, so it
 * waits less for budget). An input above `maxTokens` goes alone: the API, not chatq, says whether it is too large.
 */
export function embeddingBatches(
  tokens: readonly number[],
  maxInputs: number,
  maxTokens: number,
): { start: number; end: number; tokens: number }[] {
  const out: { start: number; end: number; tokens: number }[] = [];
  let start = 0;
  while (start < tokens.length) {
    let end = start;
    let sum = 0;
    while (
      end < tokens.length &&
      end - start < maxInputs &&
      (end === start || sum + (tokens[end] as number) <= maxTokens)
    ) {
      sum += tokens[end] as number;
      end++;
    }
    out.push({ start, end, tokens: sum });
    start = end;
  }
  return out;
}
