/** The entity types chatq recognises on its own; a tenant's dictionary adds its own names (PERSON, ADDRESS…). */
export const BUILTIN_ENTITIES = [
  "EMAIL",
  "PHONE",
  "CARD",
  "IBAN",
  "IP",
  "URL_CREDENTIALS",
  "US_SSN",
  "ES_ID",
  "UK_NINO",
  "DATE_OF_BIRTH",
  "SECRET",
] as const;
export type BuiltinEntity = (typeof BUILTIN_ENTITIES)[number];

/** One finding: [start, end) in UTF-16 code units of the text it was found in. */
export interface Span {
  entity: string;
  start: number;
  end: number;
  /** Higher wins an overlap (then the longer span): a validated card beats the phone number it also looks like. */
  score: number;
}

export interface Recogniser {
  entity: string;
  find(text: string): Span[];
}

/** Every match of a global regex whose text passes `valid`, as spans of `entity`. */
export function regexRecogniser(
  entity: string,
  score: number,
  pattern: RegExp,
  valid: (match: string, text: string, at: number) => boolean = () => true,
): Recogniser {
  if (!pattern.global) throw new Error(`recogniser ${entity}: the pattern must be global`);
  return {
    entity,
    find(text) {
      const out: Span[] = [];
      for (const m of text.matchAll(pattern)) {
        const at = m.index;
        if (valid(m[0], text, at)) out.push({ entity, start: at, end: at + m[0].length, score });
      }
      return out;
    },
  };
}

/** Whether one of `words` occurs within `window` characters before `at` (context words, as Presidio scores them). */
export function contextBefore(text: string, at: number, words: RegExp, window = 40): boolean {
  return words.test(text.slice(Math.max(0, at - window), at));
}
