import { type Recogniser, regexRecogniser } from "./entity.ts";

/** A tenant's own entities: a dictionary of terms (names, street names) or a regular expression. */
export type CustomEntity =
  | { entity: string; terms: readonly string[]; caseSensitive?: boolean | undefined }
  | { entity: string; pattern: string; flags?: string | undefined };

/** Custom entities win over chatq's (score 1): the tenant said what these are. */
export function customRecognisers(entities: readonly CustomEntity[]): Recogniser[] {
  return entities.map((e) => {
    if ("terms" in e) {
      const alternatives = [...e.terms]
        .sort((a, b) => b.length - a.length)
        .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+"));
      const flags = e.caseSensitive ? "gu" : "giu";
      return regexRecogniser(
        e.entity,
        1,
        new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`, flags),
      );
    }
    const flags = new Set([...(e.flags ?? ""), "g"]);
    return regexRecogniser(e.entity, 1, new RegExp(e.pattern, [...flags].join("")));
  });
}
