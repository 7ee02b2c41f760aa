/** One piece of a document, as it is embedded and later handed to the model. */
export interface TextChunk {
  /** 0-based position in the document. */
  index: number;
  text: string;
  tokens: number;
}

export interface ChunkOptions {
  /** Most tokens in a chunk (the embedding model's own limit is 8191; retrieval works best far below it). */
  maxTokens: number;
  /** Tokens at the end of one chunk repeated at the start of the next, so a sentence cut in two is whole in one. */
  overlapTokens: number;
  /** Tokens of a text in the embedding model's encoding. */
  countTokens: (text: string) => number;
}

/**
 * Splits a text into chunks of at most `maxTokens` tokens, each starting with about `overlapTokens` tokens of the
 * one before. Cuts fall between words (a word is a run of non-space with the spaces before it, the way BPE
 * tokenizers attach them, so word counts add up to about the joined count; each chunk is then counted exactly and
 * shortened if it is over); a single word longer than a chunk is cut inside. Linear in the text.
 */
export function chunkText(text: string, options: ChunkOptions): TextChunk[] {
  const { maxTokens, overlapTokens, countTokens } = options;
  if (!(maxTokens >= 1) || !(overlapTokens >= 0) || overlapTokens >= maxTokens) {
    throw new RangeError(`chunking needs maxTokens ≥ 1 and 0 ≤ overlapTokens < maxTokens`);
  }
  const words: string[] = [];
  const costs: number[] = [];
  for (const word of text.match(/\s*\S+/g) ?? []) {
    for (const piece of fitPieces(word, maxTokens, countTokens)) {
      words.push(piece.text);
      costs.push(piece.tokens);
    }
  }
  const chunks: TextChunk[] = [];
  let start = 0;
  while (start < words.length) {
    let end = start;
    let tokens = 0;
    while (end < words.length && tokens + (costs[end] as number) <= maxTokens) {
      tokens += costs[end] as number;
      end++;
    }
    let chunkText = words.slice(start, end).join("").trim();
    let exact = countTokens(chunkText);
    // Word counts add up to the joined count almost always; where BPE merges across a word boundary (runs of
    // punctuation), the joined text can be a token longer: give back words until it fits.
    while (exact > maxTokens && end - start > 1) {
      end--;
      chunkText = words.slice(start, end).join("").trim();
      exact = countTokens(chunkText);
    }
    chunks.push({ index: chunks.length, text: chunkText, tokens: exact });
    if (end >= words.length) break;
    // Step back from the end while the tail stays within the overlap, but always move forward.
    let next = end;
    let tail = 0;
    while (next - 1 > start && tail + (costs[next - 1] as number) <= overlapTokens) {
      tail += costs[next - 1] as number;
      next--;
    }
    start = next;
  }
  return chunks;
}

/** A word as one piece, or cut into pieces that each fit a chunk (a URL, a base64 blob, a long CJK run). */
function fitPieces(
  word: string,
  maxTokens: number,
  countTokens: (text: string) => number,
): { text: string; tokens: number }[] {
  const tokens = countTokens(word);
  if (tokens <= maxTokens) return [{ text: word, tokens }];
  const chars = Array.from(word);
  if (chars.length <= 1) return [{ text: word, tokens }];
  const half = Math.ceil(chars.length / 2);
  return [
    ...fitPieces(chars.slice(0, half).join(""), maxTokens, countTokens),
    ...fitPieces(chars.slice(half).join(""), maxTokens, countTokens),
  ];
}
