export { detectInjection, type InjectionPlace } from "./injection.ts";
export { detectLanguage, isKnownLanguage, LANGUAGES, type Language, languageLabel } from "./language.ts";
export {
  decideModeration,
  type Moderate,
  type ModerationDecision,
  type ModerationOutcome,
  type ModerationResult,
} from "./moderation.ts";
export { BUILTIN_ENTITIES, type Recogniser, type Span } from "./pii/entity.ts";
export { findEntities, maskValue, type Operator, PlaceholderMap, redactText } from "./pii/redact.ts";
export {
  defaultPolicy,
  loadPolicyBook,
  MODERATION_CATEGORIES,
  type ModerationCategory,
  type Policy,
  type PolicyBook,
  PolicyError,
  policyBook,
} from "./policy.ts";
export {
  type Flag,
  type Message,
  type Place,
  recognisersOf,
  type ScreenedOutput,
  Screening,
  type Step,
  type Stop,
  screenInput,
  type Verdict,
} from "./screen.ts";
export { detectTopics, disclaimerText, refusalText, TOPICS, type Topic, topicRules } from "./topics.ts";
