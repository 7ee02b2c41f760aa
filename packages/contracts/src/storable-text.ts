/**
 * Text every consumer of a request can keep: Postgres `text` and `jsonb` refuse U+0000, and a UTF-16 surrogate
 * without its partner (legal as a JSON escape such as "\ud800") is not text at all: it cannot be encoded as UTF-8
 * without changing it. Both checks are single linear passes.
 */
export function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes("\0");
}

/**
 * `text` made storable (U+0000 and lone surrogates become U+FFFD, as a UTF-8 decoder would) and cut to at most
 * `maxLength` UTF-16 units, never between the two halves of a pair, with "…" marking the cut. For messages that
 * quote input back: a rejection reason must itself be storable, or storing the rejection would fail.
 */
export function toStorableText(text: string, maxLength: number): string {
  let out = isStorableText(text) ? text : text.toWellFormed().replaceAll("\0", "\uFFFD");
  if (out.length > maxLength) {
    let end = Math.max(0, maxLength - 1);
    // Do not keep the high half of a pair whose low half would be cut off.
    if (end > 0 && isHighSurrogate(out.charCodeAt(end - 1))) end--;
    out = `${out.slice(0, end)}…`;
  }
  return out;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}
