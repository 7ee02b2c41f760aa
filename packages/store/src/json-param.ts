/**
 * Serialises rows for a `$1::json` parameter. Postgres text and jsonb cannot hold U+0000 or a lone UTF-16
 * surrogate; one such string would fail the whole statement, i.e. a whole group of outcomes. Those characters
 * become U+FFFD instead, the same replacement a UTF-8 decoder makes.
 */
export function jsonParam(rows: unknown): string {
  return JSON.stringify(rows, storable);
}

function storable(_key: string, value: unknown): unknown {
  if (typeof value !== "string" || (value.isWellFormed() && !value.includes("\0"))) return value;
  return value.toWellFormed().replaceAll("\0", "\uFFFD");
}
