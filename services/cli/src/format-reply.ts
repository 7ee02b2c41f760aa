import type { ChatReply } from "@chatq/contracts";

/** One line a person can read: who, how it went, what it cost, and the start of the answer. */
export function formatReply(reply: ChatReply, label = reply.request_id): string {
  const facts = [
    reply.model,
    `${reply.attempts} attempt${reply.attempts === 1 ? "" : "s"}`,
    `${reply.latency_ms} ms`,
  ];
  if (reply.cost_usd !== undefined) facts.push(`$${reply.cost_usd.toFixed(6)}`);
  if (reply.status === "completed") {
    const text = (reply.content ?? "").replace(/\s+/g, " ").slice(0, 100);
    return `✓ ${label} (${facts.filter(Boolean).join(", ")}): ${text}`;
  }
  return `✗ ${label} ${reply.status}: ${reply.error?.code} — ${reply.error?.message}`;
}
