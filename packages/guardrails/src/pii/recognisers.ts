import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { contextBefore, type Recogniser, regexRecogniser, type Span } from "./entity.ts";
import {
  cardValid,
  entropyBits,
  ibanValid,
  ipValid,
  ninoValid,
  spanishIdValid,
  ssnValid,
} from "./validators.ts";

const email = regexRecogniser(
  "EMAIL",
  0.9,
  /(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b/g,
);

const card = regexRecogniser("CARD", 0.92, /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, (m) => cardValid(m));

// Groups of 4 separated by single spaces, or one block; the longest valid prefix of a match is kept by trimming.
const IBAN_CANDIDATE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/gi;
const iban: Recogniser = {
  entity: "IBAN",
  find(text) {
    const out: Span[] = [];
    for (const m of text.matchAll(IBAN_CANDIDATE)) {
      // A match may run into the next word ("… 1332 AND"); shorten by whole groups until the checksum holds.
      let candidate = m[0];
      while (candidate.replace(/ /g, "").length >= 15) {
        if (ibanValid(candidate)) {
          out.push({ entity: "IBAN", start: m.index, end: m.index + candidate.length, score: 0.93 });
          break;
        }
        const cut = candidate.lastIndexOf(" ");
        if (cut < 0) break;
        candidate = candidate.slice(0, cut);
      }
    }
    return out;
  },
};

const VERSION_CONTEXT = /\b(?:v|version|versi[oó]n|release|build|node|python)\s*$/i;
const ipv4 = regexRecogniser(
  "IP",
  0.8,
  /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)/g,
  (m, text, at) => ipValid(m) && !VERSION_CONTEXT.test(text.slice(Math.max(0, at - 12), at)),
);
const ipv6 = regexRecogniser(
  "IP",
  0.8,
  /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])/g,
  (m) => (m.includes("::") || m.split(":").length >= 8 ? ipValid(m) : false),
);

const urlCredentials = regexRecogniser(
  "URL_CREDENTIALS",
  0.97,
  /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s:@/]+:[^\s@/]+@[^\s"'<>]+/gi,
);

const SSN_CONTEXT = /\b(?:ssn|social security|seguro social)\b/i;
const ssn = regexRecogniser(
  "US_SSN",
  0.85,
  /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])|(?<!\d)\d{9}(?!\d)/g,
  (m, text, at) =>
    ssnValid(m) &&
    (/[- ]/.test(m)
      ? m.includes("-") || contextBefore(text, at, SSN_CONTEXT)
      : contextBefore(text, at, SSN_CONTEXT)),
);

const spanishId = regexRecogniser(
  "ES_ID",
  0.88,
  /(?<![\w-])(?:[XYZxyz][ -]?\d{7}|\d{8})[ -]?[A-Za-z](?![\w-])/g,
  (m) => spanishIdValid(m),
);

const nino = regexRecogniser(
  "UK_NINO",
  0.88,
  /(?<!\w)[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d](?!\w)/g,
  (m) => ninoValid(m),
);

// biome-ignore format: month names read better packed
const MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|se[pt]tiembre|octubre|noviembre|diciembre";
const DATE = new RegExp(
  String.raw`(?:\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?(?: de)? (?:${MONTHS})(?: de|,)? (?:19|20)\d{2}|(?:${MONTHS}) \d{1,2}(?:st|nd|rd|th)?,? (?:19|20)\d{2})`,
  "gi",
);
// A date is personal only beside words that say it is a birth date; other dates (orders, deliveries) are not.
const BIRTH_CONTEXT =
  /(?<!\p{L})(?:born|birth|birthday|date of birth|d\.?o\.?b\.?|nacid[oa]|nac[ií]|nacimiento|cumplea[ñn]os|f\. ?nac\.?)(?!\p{L})[^.!?\n]{0,25}$/iu;
const dateOfBirth = regexRecogniser("DATE_OF_BIRTH", 0.75, DATE, (_m, text, at) =>
  BIRTH_CONTEXT.test(text.slice(Math.max(0, at - 60), at)),
);

// Known key formats: OpenAI, GitHub, AWS, Slack, Stripe, Google, GitLab; then long high-entropy tokens.
const KNOWN_SECRET =
  /(?<![\w-])(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|A(?:KIA|SIA)[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{30,40}|glpat-[A-Za-z0-9_-]{20,})(?![\w-])/g;
const knownSecret = regexRecogniser("SECRET", 0.98, KNOWN_SECRET);
const highEntropy = regexRecogniser(
  "SECRET",
  0.6,
  /(?<![\w+/-])[A-Za-z0-9+/_-]{32,}={0,2}(?![\w+/=-])/g,
  (m) => {
    // Hex (hashes, UUIDs without dashes) and one-case tokens are identifiers more often than secrets.
    const classes = [/[a-z]/, /[A-Z]/, /\d/].filter((c) => c.test(m)).length;
    return classes === 3 && entropyBits(m) >= 4.2;
  },
);

const PHONE_CONTEXT =
  /\b(?:phone|tel|tlf|telf|mobile|cell|call|ring|text|whatsapp|m[oó]vil|tel[eé]fono|ll[aá]m\w*|n[uú]mero|contact|contacto|fax)\b/i;
const PHONE_COUNTRIES = ["US", "ES", "GB"] as const;
/** The shortest national numbers libphonenumber validates for these countries are 6 digits (+49 30 901820). */
const MIN_PHONE_DIGITS = 6;
// A run of digits with a phone's separators; libphonenumber validates each run instead of scanning the whole text
// once per country (findNumbers: ~100 µs a text, most of all recognisers' cost together).
const PHONE_CANDIDATE = /(?<![\w+-])(?:\+|00)?\(?\d[\d ().-]{4,18}\d(?![\w-])/g;
const phone: Recogniser = {
  entity: "PHONE",
  find(text) {
    const out: Span[] = [];
    for (const m of text.matchAll(PHONE_CANDIDATE)) {
      const raw = m[0];
      const digits = raw.replace(/\D/g, "").length;
      if (digits < MIN_PHONE_DIGITS || raw.includes("/")) continue;
      const at = m.index;
      // A bare run of digits (or two groups, "2024-118842") is an order number as often as a phone: it needs a
      // "+", a phone's grouping (three groups or an area code in parentheses), or a word that says phone.
      const international = raw.startsWith("+") || raw.startsWith("00");
      const formatted = raw.includes("(") || raw.split(/[ .-]+/).length >= 3;
      if (!international && !formatted && !contextBefore(text, at, PHONE_CONTEXT)) continue;
      const normalised = raw.startsWith("00") ? `+${raw.slice(2)}` : raw;
      const valid = international
        ? parsePhoneNumberFromString(normalised)?.isValid() === true
        : PHONE_COUNTRIES.some((c) => parsePhoneNumberFromString(normalised, c)?.isValid() === true);
      if (valid) out.push({ entity: "PHONE", start: at, end: at + raw.length, score: 0.7 });
    }
    return out;
  },
};

/** chatq's own recognisers, in no particular order (overlaps are resolved by score, then length). */
export const BUILTIN_RECOGNISERS: readonly Recogniser[] = [
  email,
  card,
  iban,
  ipv4,
  ipv6,
  urlCredentials,
  ssn,
  spanishId,
  nino,
  dateOfBirth,
  knownSecret,
  highEntropy,
  phone,
];
