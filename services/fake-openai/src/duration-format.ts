/**
 * OpenAI's duration format for `x-ratelimit-reset-*` headers and "Please try again in …" messages: Go-style
 * durations such as "120ms", "1s", "1.5s", "8.64s", "6m0s", "1h2m3s". Clients (and chatq) parse these, so the
 * fake must print them the same way.
 */
export function formatOpenAIDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0s";
  const wholeMs = Math.ceil(ms);
  if (wholeMs < 1000) return `${wholeMs}ms`;
  const hours = Math.floor(wholeMs / 3_600_000);
  const minutes = Math.floor((wholeMs % 3_600_000) / 60_000);
  const seconds = formatSeconds(wholeMs % 60_000);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/** Seconds with up to three decimals and no trailing zeros: 1500 → "1.5", 8640 → "8.64", 0 → "0". */
function formatSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const fraction = ms % 1000;
  if (fraction === 0) return String(whole);
  return `${whole}.${String(fraction).padStart(3, "0").replace(/0+$/, "")}`;
}

/** Inverse of formatOpenAIDuration, for tests and for clients that want to read the headers back. */
export function parseOpenAIDuration(text: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(text);
  if (!match || text === "") return undefined;
  const [, h, m, s, msPart] = match;
  return (
    Number(h ?? 0) * 3_600_000 +
    Number(m ?? 0) * 60_000 +
    Math.round(Number(s ?? 0) * 1000) +
    Number(msPart ?? 0)
  );
}
