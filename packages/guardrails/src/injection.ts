/**
 * Prompt-injection heuristics: known jailbreak phrasings (English and Spanish) in user turns, and instruction-like
 * text (role tags, chat-template tokens, "ignore the above") in places that should hold data (retrieved chunks).
 * A flag, not a proof: tenants decide whether it blocks.
 */
const JAILBREAK = new RegExp(
  [
    String.raw`\b(?:ignore|disregard|forget|override)\b[^.\n]{0,30}\b(?:previous|prior|above|earlier|all|your|the system)\b[^.\n]{0,20}\b(?:instructions?|prompts?|rules|guidelines)`,
    String.raw`\b(?:reveal|show|print|repeat|tell me)\b[^.\n]{0,25}\b(?:system prompt|hidden (?:prompt|instructions)|your instructions|initial instructions)`,
    String.raw`\b(?:you are now|act as|pretend (?:to be|you are))\b[^.\n]{0,40}\b(?:dan|unfiltered|unrestricted|no (?:rules|restrictions|limits)|jailbr[eo]ak)`,
    String.raw`\bdo anything now\b`,
    String.raw`\b(?:developer|god|jailbreak) mode\b`,
    String.raw`\b(?:ignora|olvida|descarta)\b[^.\n]{0,30}\b(?:instrucciones|reglas|indicaciones)\b`,
    String.raw`\b(?:revela|muestra|repite)\b[^.\n]{0,25}\b(?:prompt del sistema|tus instrucciones|instrucciones ocultas)`,
    String.raw`\bmodo (?:desarrollador|sin restricciones|dios)\b`,
    String.raw`\b(?:ahora eres|act[uú]a como)\b[^.\n]{0,40}\b(?:sin (?:reglas|restricciones|l[ií]mites)|dan)\b`,
  ].join("|"),
  "iu",
);

// In data (a retrieved document), chat-template tokens and role headers are instructions in disguise.
const INSTRUCTION_IN_DATA =
  /<\|im_(?:start|end)\|>|\[\/?INST\]|<\/?(?:system|assistant)>|^\s*#{1,3}\s*(?:system|instruction)s?\b|^\s*(?:system|assistant)\s*:|\b(?:new|updated) instructions?\s*:|\byou must now\b/imu;

export type InjectionPlace = "input" | "retrieved";

/** The rule that matched, or undefined. */
export function detectInjection(
  text: string,
  place: InjectionPlace,
): "jailbreak" | "instruction_in_data" | undefined {
  if (JAILBREAK.test(text)) return "jailbreak";
  if (place === "retrieved" && INSTRUCTION_IN_DATA.test(text)) return "instruction_in_data";
  return undefined;
}
