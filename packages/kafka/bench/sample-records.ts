import { randomBytes } from "node:crypto";

/** A chat request or reply of about `bytes` bytes of JSON: English-like words plus a few ids, as chatq carries. */
export function chatJson(i: number, bytes: number): string {
  const words = [
    "the",
    "trip",
    "day",
    "three",
    "museum",
    "train",
    "hotel",
    "reply",
    "weather",
    "plan",
    "and",
    "we",
  ];
  let content = "";
  let seed = i * 2654435761;
  while (content.length < bytes - 200) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    content += `${words[seed % words.length]} `;
  }
  return JSON.stringify({
    request_id: `r-${i}-${randomBytes(6).toString("hex")}`,
    conversation_id: `c-${i % 97}`,
    tenant: "acme",
    model: "gpt-4o-mini",
    messages: [{ role: "user", content }],
    params: { temperature: 0.2, max_tokens: 200 },
  });
}
