import type { Language } from "./language.ts";

export const TOPICS = ["health", "finance", "legal"] as const;
export type Topic = (typeof TOPICS)[number];
export type TopicAction = "refuse" | "disclaim" | "allow";

// Stems per language (matched at a word start), cheap and testable; the model-based classifier is not built yet.
const KEYWORDS: Record<Topic, RegExp> = {
  health:
    /\b(?:diagnos|symptom|medic|prescri|dosage|dose of|disease|illness|cancer|diabet|tumou?r|pregnan|vaccin|antibiotic|ibuprofen|paracetamol|doctor|s[ií]ntoma|diagn[oó]st|enfermedad|medicament|receta m[eé]dica|embaraz|dosis|vacuna|m[eé]dico|sympt[oô]me|maladie|m[eé]dicament|ordonnance|enceinte|symptom|krankheit|medikament|rezept|schwanger|arzt|impf)/iu,
  finance:
    /\b(?:invest|stock(?:s| market)|shares in|crypto|bitcoin|portfolio|retirement fund|pension fund|mortgage|loan|tax return|trading|inversi[oó]n|invertir|acciones|bolsa de valores|criptomoneda|hipoteca|pr[eé]stamo|declaraci[oó]n de la renta|investir|placement|bourse|hypoth[eè]que|pr[eê]t immobilier|imp[oô]ts|investier|aktien|b[oö]rse|hypothek|kredit|steuererkl[aä]rung)/iu,
  legal:
    /\b(?:lawsuit|sue (?:my|the|a)|lawyer|attorney|legal advice|court case|contract dispute|custody|divorce|demanda judicial|demandar|abogad|asesor[ií]a legal|juicio|divorcio|custodia|avocat|proc[eè]s|poursuivre en justice|conseil juridique|anwalt|klage|verklagen|rechtsberatung|scheidung|sorgerecht)/iu,
};

/** The sensitive topics a text touches, by keyword (a text may touch several). */
export function detectTopics(text: string): Topic[] {
  return TOPICS.filter((t) => KEYWORDS[t].test(text));
}

const TOPIC_NAMES: Record<Language, Record<Topic, string>> = {
  en: { health: "medical", finance: "financial", legal: "legal" },
  es: { health: "médico", finance: "financiero", legal: "legal" },
  fr: { health: "médical", finance: "financier", legal: "juridique" },
  de: { health: "medizinische", finance: "finanzielle", legal: "rechtliche" },
  it: { health: "medico", finance: "finanziario", legal: "legale" },
  pt: { health: "médico", finance: "financeiro", legal: "jurídico" },
  nl: { health: "medisch", finance: "financieel", legal: "juridisch" },
  ca: { health: "mèdic", finance: "financer", legal: "legal" },
};

const REFUSALS: Record<Language, (topic: string) => string> = {
  en: (t) => `I'm sorry, I can't help with ${t} questions here. Please ask a qualified professional.`,
  es: (t) =>
    `Lo siento, aquí no puedo ayudar con consultas de carácter ${t}. Consulta a un profesional cualificado.`,
  fr: (t) =>
    `Désolé, je ne peux pas répondre ici aux questions d'ordre ${t}. Veuillez consulter un professionnel qualifié.`,
  de: (t) =>
    `Es tut mir leid, bei ${t} Fragen kann ich hier nicht helfen. Bitte wenden Sie sich an eine Fachperson.`,
  it: (t) =>
    `Mi dispiace, qui non posso aiutare con domande di carattere ${t}. Rivolgiti a un professionista qualificato.`,
  pt: (t) =>
    `Desculpe, aqui não posso ajudar com questões de caráter ${t}. Consulte um profissional qualificado.`,
  nl: (t) => `Sorry, met ${t}e vragen kan ik hier niet helpen. Raadpleeg een gekwalificeerde professional.`,
  ca: (t) =>
    `Ho sento, aquí no puc ajudar amb consultes de caràcter ${t}. Consulta un professional qualificat.`,
};

const DISCLAIMERS: Record<Language, (topic: string) => string> = {
  en: (t) => `This is general information, not ${t} advice; please consult a qualified professional.`,
  es: (t) => `Esto es información general, no asesoramiento ${t}; consulta a un profesional cualificado.`,
  fr: (t) => `Ceci est une information générale, pas un conseil ${t} ; consultez un professionnel qualifié.`,
  de: (t) =>
    `Dies ist eine allgemeine Information, keine ${t} Beratung; bitte wenden Sie sich an eine Fachperson.`,
  it: (t) =>
    `Questa è un'informazione generale, non una consulenza di tipo ${t}; rivolgiti a un professionista qualificato.`,
  pt: (t) => `Esta é uma informação geral, não um aconselhamento ${t}; consulte um profissional qualificado.`,
  nl: (t) => `Dit is algemene informatie, geen ${t} advies; raadpleeg een gekwalificeerde professional.`,
  ca: (t) => `Això és informació general, no assessorament ${t}; consulta un professional qualificat.`,
};

function names(topics: readonly Topic[], language: Language): string {
  return topics.map((t) => TOPIC_NAMES[language][t]).join(" / ");
}

/** The fixed refusal, in the user's language (English when it is not one chatq translates into). */
export function refusalText(topics: readonly Topic[], language: Language): string {
  return REFUSALS[language](names(topics, language));
}

export function disclaimerText(topics: readonly Topic[], language: Language): string {
  return DISCLAIMERS[language](names(topics, language));
}

/** The instruction every call carries for a tenant with topic rules: what it may not do, whatever came before. */
export function topicRules(actions: Partial<Record<Topic, TopicAction>>): string | undefined {
  const refuse = TOPICS.filter((t) => actions[t] === "refuse");
  const disclaim = TOPICS.filter((t) => actions[t] === "disclaim");
  const rules: string[] = [];
  if (refuse.length > 0)
    rules.push(`Do not give ${names(refuse, "en")} advice; decline such questions politely.`);
  if (disclaim.length > 0)
    rules.push(
      `For ${names(disclaim, "en")} questions give general information only, never personal advice, and say that a qualified professional should be consulted.`,
    );
  return rules.length === 0 ? undefined : rules.join(" ");
}
