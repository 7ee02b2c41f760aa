import { detect } from "tinyld/light";

/**
 * The languages chatq names in metrics and translates its own texts into; any other detected language is
 * recorded as its code on the reply but counted as "other" (labels stay bounded).
 */
export const LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "nl", "ca"] as const;
export type Language = (typeof LANGUAGES)[number];
const KNOWN: ReadonlySet<string> = new Set(LANGUAGES);

/** Below this many letters every detector guesses (BENCHMARKS.md, "Guardrails"); the turn stays undetected. */
const MIN_LETTERS = 4;
/**
 * Below this many letters only chatq's own languages are candidates: on a few words tinyld finds Romanian in
 * "Mail, call, card"; a short Latin-script turn in another language is then counted as the nearest known one.
 */
const SHORT_LETTERS = 40;
const ONLY_KNOWN = { only: [...LANGUAGES] };

/**
 * The ISO 639-1 code of the text's language, or undefined when it is too short or unclear. tinyld's light model
 * (22 MB resident): eld was as accurate at 170 MB, franc-min far weaker on short texts (bench/language-detectors.ts).
 */
export function detectLanguage(text: string): string | undefined {
  const letters = text.match(/\p{L}/gu)?.length ?? 0;
  if (letters < MIN_LETTERS) return undefined;
  const latin = text.match(/\p{Script=Latin}/gu)?.length ?? 0;
  const code = letters < SHORT_LETTERS && latin === letters ? detect(text, ONLY_KNOWN) : detect(text);
  return code === "" ? undefined : code;
}

/** A language as a metric label: one of LANGUAGES, "other", or "unknown" when none was detected. */
export function languageLabel(code: string | undefined): Language | "other" | "unknown" {
  if (code === undefined) return "unknown";
  return KNOWN.has(code) ? (code as Language) : "other";
}

export function isKnownLanguage(code: string | undefined): code is Language {
  return code !== undefined && KNOWN.has(code);
}
