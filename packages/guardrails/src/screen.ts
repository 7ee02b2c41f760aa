import { detectInjection } from "./injection.ts";
import { detectLanguage, isKnownLanguage, type Language } from "./language.ts";
import { decideModeration, type Moderate } from "./moderation.ts";
import { customRecognisers } from "./pii/custom-recognisers.ts";
import type { Recogniser } from "./pii/entity.ts";
import { BUILTIN_RECOGNISERS } from "./pii/recognisers.ts";
import { PlaceholderMap, redactText } from "./pii/redact.ts";
import type { Policy } from "./policy.ts";
import { detectTopics, disclaimerText, refusalText, type Topic, topicRules } from "./topics.ts";

export type Step = "pii" | "moderation" | "topic" | "language" | "injection";
export type Place = "input" | "output" | "retrieved";

/** One step's verdict on one request: what the audit log and the metrics record. Never content. */
export interface Verdict {
  step: Step;
  on: Place;
  verdict: "pass" | "redacted" | "flag" | "block" | "refuse" | "disclaim" | "unavailable" | "detected";
  /** Moderation categories, topics or the injection rule that fired. */
  categories?: string[];
  /** Entity type → how many were redacted. */
  entities?: Record<string, number>;
  language?: string;
}

/** What a reply carries of the guardrails: flags a user may act on. */
export interface Flag {
  step: "moderation" | "injection" | "topic";
  on: Place;
  categories: string[];
}

export interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** The request stops here: no chat call is made and nothing is charged. */
export interface Stop {
  kind: "stop";
  code: "moderation" | "sensitive_topic" | "prompt_injection" | "moderation_unavailable";
  message: string;
  categories: string[];
  /** A text for the user in their language (a refusal), when there is one. */
  content?: string;
  language: string | undefined;
  verdicts: Verdict[];
}

/** Screened text of a model's answer. */
export interface ScreenedOutput {
  /** Set when the answer must not be delivered (moderation said block). */
  blocked?: { categories: string[] };
  content: string;
}

const NAMES: Record<Language, string> = {
  en: "English",
  es: "Spanish",
  fr: "French",
  de: "German",
  it: "Italian",
  pt: "Portuguese",
  nl: "Dutch",
  ca: "Catalan",
};

/**
 * One request's guardrails: built by screenInput, used for every message sent (outgoing) and for the answer
 * (screenOutput). Holds the reversible placeholder map, in memory, for this request only.
 */
export class Screening {
  readonly kind = "go";
  readonly verdicts: Verdict[] = [];
  readonly flags: Flag[] = [];
  /** The user's language, detected on their newest turn (set by screenInput). */
  language: string | undefined;
  readonly #policy: Policy;
  readonly #recognisers: readonly Recogniser[];
  readonly #moderate: Moderate | undefined;
  readonly #placeholders = new PlaceholderMap();
  readonly #replaced = new PlaceholderMap();
  #disclaim: Topic[] = [];
  readonly #rules: string | undefined;
  #retrievedChecked = false;

  constructor(policy: Policy, recognisers: readonly Recogniser[], moderate: Moderate | undefined) {
    this.#policy = policy;
    this.#recognisers = recognisers;
    this.#moderate = moderate;
    this.#rules = topicRules(policy.topics);
  }

  /** Topics whose answers get a disclaimer appended. */
  disclaim(topics: Topic[]): void {
    this.#disclaim = topics;
  }

  /** A text redacted with this request's placeholders (the same value always gets the same one). */
  redact(text: string): { text: string; entities: Record<string, number> } {
    if (!this.#policy.pii.enabled) return { text, entities: {} };
    const { operators, operator, hashSalt } = this.#policy.pii;
    const r = redactText(text, this.#recognisers, {
      operatorFor: (e) => operators[e] ?? operator,
      hashSalt,
      placeholders: this.#placeholders,
      replaced: this.#replaced,
    });
    const entities: Record<string, number> = {};
    for (const f of r.findings) entities[f.entity] = (entities[f.entity] ?? 0) + 1;
    return { text: r.text, entities };
  }

  /**
   * The messages as the API gets them: every one redacted (history and retrieved context too), and the tenant's
   * rules as a system message right before the newest user turn, where a long conversation cannot bury them.
   */
  outgoing(messages: readonly Message[], isRetrieved: (m: Message) => boolean): Message[] {
    const out: Message[] = [];
    const entities: Record<string, number> = {};
    for (const m of messages) {
      if (!this.#retrievedChecked && isRetrieved(m)) this.#checkRetrieved(m.content);
      const r = this.redact(m.content);
      for (const [e, n] of Object.entries(r.entities)) entities[e] = (entities[e] ?? 0) + n;
      out.push(r.text === m.content ? m : { role: m.role, content: r.text });
    }
    this.#retrievedChecked = true;
    if (!this.verdicts.some((v) => v.step === "pii")) {
      const found = Object.keys(entities).length > 0;
      this.verdicts.push({
        step: "pii",
        on: "input",
        verdict: found ? "redacted" : "pass",
        ...(found && { entities }),
      });
    }
    const rules = this.#systemRules();
    if (rules === undefined) return out;
    const newestUser = out.findLastIndex((m) => m.role === "user");
    out.splice(newestUser < 0 ? out.length : newestUser, 0, { role: "system", content: rules });
    return out;
  }

  /** Moderation of the answer (as the model wrote it, placeholders and all), then placeholders restored, disclaimer added. */
  async screenOutput(answer: string): Promise<ScreenedOutput> {
    const m = this.#policy.moderation;
    if (m.enabled && m.output && this.#moderate !== undefined && answer.trim() !== "") {
      const outcome = await this.#moderate(answer, m.model);
      if (!outcome.ok) this.verdicts.push({ step: "moderation", on: "output", verdict: "unavailable" });
      else {
        const d = decideModeration(outcome.result, m);
        this.verdicts.push({
          step: "moderation",
          on: "output",
          verdict: d.action,
          ...(d.action !== "pass" && { categories: d.categories }),
        });
        if (d.action === "block") return { blocked: { categories: d.categories }, content: "" };
        if (d.action === "flag")
          this.flags.push({ step: "moderation", on: "output", categories: d.categories });
      }
    }
    let content = this.#placeholders.restore(answer);
    if (this.#disclaim.length > 0)
      content = `${content}\n\n${disclaimerText(this.#disclaim, this.#replyLanguage())}`;
    return { content };
  }

  #replyLanguage(): Language {
    const fixed = this.#policy.language.fixed;
    if (fixed !== undefined) return fixed;
    return isKnownLanguage(this.language) ? this.language : "en";
  }

  #systemRules(): string | undefined {
    const parts: string[] = [];
    if (this.#rules !== undefined) parts.push(this.#rules);
    const fixed = this.#policy.language.fixed;
    if (fixed !== undefined) parts.push(`Always answer in ${NAMES[fixed]}.`);
    else if (this.#policy.language.detect)
      parts.push(
        isKnownLanguage(this.language)
          ? `Answer in the user's language (${NAMES[this.language]}).`
          : "Answer in the language of the user's last message.",
      );
    if (this.#placeholders.size + this.#replaced.size > 0)
      parts.push("Placeholders such as <EMAIL_1> stand for the user's data: keep them exactly as written.");
    return parts.length === 0 ? undefined : parts.join(" ");
  }

  #checkRetrieved(text: string): void {
    if (this.#policy.injection.action === "off") return;
    const rule = detectInjection(text, "retrieved");
    this.verdicts.push({
      step: "injection",
      on: "retrieved",
      verdict: rule ? "flag" : "pass",
      ...(rule && { categories: [rule] }),
    });
    if (rule) this.flags.push({ step: "injection", on: "retrieved", categories: [rule] });
  }
}

export interface ScreenInputDeps {
  /** Absent: moderation is skipped whatever the policy says (no API client, as in unit tests). */
  moderate?: Moderate;
}

/** The recognisers of a policy: chatq's own less those switched off, and the tenant's dictionary. Build once per policy. */
export function recognisersOf(policy: Policy): Recogniser[] {
  const off = new Set<string>(policy.pii.disabled);
  return [...BUILTIN_RECOGNISERS.filter((r) => !off.has(r.entity)), ...customRecognisers(policy.pii.custom)];
}

/**
 * Every step before the API call on the request's own messages: language, injection, sensitive topics, then
 * moderation of the newest user turn (redacted: the moderation endpoint is an API too). A stop needs no chat call.
 */
export async function screenInput(
  messages: readonly Message[],
  policy: Policy,
  recognisers: readonly Recogniser[],
  deps: ScreenInputDeps = {},
): Promise<Screening | Stop> {
  const newest = messages.findLast((m) => m.role === "user")?.content ?? "";
  const screening = new Screening(policy, recognisers, deps.moderate);
  const redacted = screening.redact(newest).text;
  const verdicts: Verdict[] = [];
  // On the redacted turn without its placeholders: an e-mail address or a key is no language's words.
  const language = policy.language.detect
    ? detectLanguage(redacted.replace(/<[A-Z][A-Z0-9_]*_\w+>/g, " "))
    : undefined;
  screening.language = language;
  verdicts.push({ step: "language", on: "input", verdict: "detected", language: language ?? "unknown" });
  const replyLanguage: Language = policy.language.fixed ?? (isKnownLanguage(language) ? language : "en");
  const stop = (s: Omit<Stop, "kind" | "language" | "verdicts">): Stop => ({
    kind: "stop",
    language,
    verdicts,
    ...s,
  });

  const flags: Flag[] = [];
  if (policy.injection.action !== "off") {
    const rule = messages
      .filter((m) => m.role === "user")
      .map((m) => detectInjection(m.content, "input"))
      .find((r) => r);
    verdicts.push({
      step: "injection",
      on: "input",
      verdict: rule ? (policy.injection.action === "block" ? "block" : "flag") : "pass",
      ...(rule && { categories: [rule] }),
    });
    if (rule && policy.injection.action === "block")
      return stop({
        code: "prompt_injection",
        message: `the request looks like a prompt injection (${rule}); this tenant blocks those`,
        categories: [rule],
      });
    if (rule) flags.push({ step: "injection", on: "input", categories: [rule] });
  }

  const topics = detectTopics(newest);
  const refuse = topics.filter((t) => policy.topics[t] === "refuse");
  const disclaim = topics.filter((t) => policy.topics[t] === "disclaim");
  if (topics.length > 0 || Object.keys(policy.topics).length > 0) {
    verdicts.push({
      step: "topic",
      on: "input",
      verdict: refuse.length > 0 ? "refuse" : disclaim.length > 0 ? "disclaim" : "pass",
      ...(topics.length > 0 && { categories: topics }),
    });
  }
  if (refuse.length > 0) {
    return stop({
      code: "sensitive_topic",
      message: `this tenant does not answer questions on ${refuse.join(", ")}`,
      categories: refuse,
      content: refusalText(refuse, replyLanguage),
    });
  }
  if (disclaim.length > 0) flags.push({ step: "topic", on: "input", categories: disclaim });

  screening.disclaim(disclaim);
  const m = policy.moderation;
  if (m.enabled && m.input && deps.moderate !== undefined && newest.trim() !== "") {
    const outcome = await deps.moderate(redacted, m.model);
    if (!outcome.ok) verdicts.push({ step: "moderation", on: "input", verdict: "unavailable" });
    else {
      const d = decideModeration(outcome.result, m);
      verdicts.push({
        step: "moderation",
        on: "input",
        verdict: d.action,
        ...(d.action !== "pass" && { categories: d.categories }),
      });
      if (d.action === "block")
        return stop({
          code: "moderation",
          message: `the request was blocked by moderation (${d.categories.join(", ")})`,
          categories: d.categories,
        });
      if (d.action === "flag") flags.push({ step: "moderation", on: "input", categories: d.categories });
    }
  }
  screening.verdicts.push(...verdicts);
  screening.flags.push(...flags);
  return screening;
}
