import { randomBytes } from "node:crypto";

// A vocabulary of 4,000 made-up words drawn with a Zipf-like skew: text that compresses about as natural
// English does (gzip ~2.5-3x), unlike a dozen repeated words, which would flatter every codec.
const SYLLABLES = [
  "ka",
  "lo",
  "mi",
  "re",
  "tu",
  "sa",
  "ne",
  "vo",
  "pi",
  "da",
  "gu",
  "te",
  "ri",
  "mo",
  "shi",
  "an",
];
let state = 42;
const next = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};
const VOCABULARY = Array.from({ length: 4000 }, () => {
  let w = "";
  for (let n = 1 + Math.floor(next() * 4); n > 0; n--) w += SYLLABLES[Math.floor(next() * SYLLABLES.length)];
  return w;
});
const word = () => VOCABULARY[Math.floor(VOCABULARY.length * next() ** 3)] as string;

/** A chat request or reply of about `bytes` bytes of JSON, with ids that differ per message. */
export function chatJson(i: number, bytes: number): string {
  let content = "";
  while (content.length < bytes - 200) content += `${word()}${next() < 0.08 ? ". " : " "}`;
  return JSON.stringify({
    request_id: `r-${i}-${randomBytes(6).toString("hex")}`,
    conversation_id: `c-${i % 97}`,
    tenant: "acme",
    model: "gpt-4o-mini",
    messages: [{ role: "user", content }],
    params: { temperature: 0.2, max_tokens: 200 },
  });
}
