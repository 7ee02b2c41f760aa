import type { ContentCipher, OpenItem, SealItem, Subject } from "@chatq/vault";
import type { AdmissionRow } from "./admission.ts";
import type { OutcomeRow, TurnRow } from "./completion.ts";
import type { ContextRow } from "./conversation-context.ts";

/**
 * Where each content column's ciphertext belongs: the associated data every seal and open names, so a ciphertext
 * copied to another row or column fails to open (`tampered`) instead of showing the wrong content.
 */
export const contentPlace = {
  payload: (requestId: string) => `${requestId}|requests.payload`,
  reply: (requestId: string) => `${requestId}|replies.content`,
  turn: (conversationId: string, requestId: string, role: string) =>
    `${conversationId}|${requestId}|${role}|conversation_messages.content`,
  summary: (conversationId: string, throughId: number) =>
    `${conversationId}|${throughId}|conversations.summary`,
} as const;

/** The request as stored: with encryption on, a jsonb string holding the sealed JSON of the request. */
export async function sealAdmissions(cipher: ContentCipher, rows: AdmissionRow[]): Promise<AdmissionRow[]> {
  if (!cipher.enabled) return rows;
  const sealed = await cipher.sealAll(
    rows.map((r) => ({
      subject: { tenant: r.tenant, userId: r.user_id },
      ad: contentPlace.payload(r.request_id),
      text: JSON.stringify(r.payload),
    })),
  );
  // A withheld payload (storage policy) stays null: nothing to seal.
  return rows.map((r, n) => (r.payload === null ? r : { ...r, payload: sealed[n] ?? "" }));
}

/** Replies' content and history turns sealed under their request's data subject, in one batch of key lookups. */
export async function sealCompletion(
  cipher: ContentCipher,
  rows: { outcomes: OutcomeRow[]; turns: TurnRow[] },
): Promise<{ outcomes: OutcomeRow[]; turns: TurnRow[] }> {
  if (!cipher.enabled) return rows;
  const byRequest = new Map(rows.outcomes.map((o) => [o.request_id, o]));
  const items: SealItem[] = [];
  for (const o of rows.outcomes) {
    if (o.content !== null)
      items.push({
        subject: { tenant: o.tenant, userId: o.user_id },
        ad: contentPlace.reply(o.request_id),
        text: o.content,
      });
  }
  for (const t of rows.turns) {
    const o = byRequest.get(t.request_id);
    items.push({
      subject: { tenant: o?.tenant, userId: o?.user_id },
      ad: contentPlace.turn(t.conversation_id, t.request_id, t.role),
      text: t.content,
    });
  }
  const sealed = await cipher.sealAll(items);
  let n = 0;
  const next = (): string => sealed[n++] ?? "";
  const outcomes = rows.outcomes.map((o) => (o.content === null ? o : { ...o, content: next() }));
  const turns = rows.turns.map((t) => ({ ...t, content: next() }));
  return { outcomes, turns };
}

/** One stored turn as read back: the columns its place is made of. */
export interface SealedTurn {
  conversation_id: string;
  request_id: string;
  role: string;
  content: string;
}

export async function openTurns<T extends SealedTurn>(cipher: ContentCipher, rows: T[]): Promise<T[]> {
  if (!cipher.enabled || rows.length === 0) return rows;
  const opened = await cipher.openAll(
    rows.map((r) => ({ ad: contentPlace.turn(r.conversation_id, r.request_id, r.role), value: r.content })),
  );
  return rows.map((r, n) => ({ ...r, content: opened[n] ?? "" }));
}

/**
 * Stored requests as they were received: a sealed payload (a jsonb string) opened and parsed, a plaintext one (an
 * object: encryption off, or stored before it was on) as is, a withheld one (storage policy) null.
 */
export async function openPayloads(
  cipher: ContentCipher,
  rows: readonly { request_id: string; payload: unknown }[],
): Promise<unknown[]> {
  const sealed = rows.filter((r) => typeof r.payload === "string");
  if (sealed.length === 0) return rows.map((r) => r.payload);
  const opened = await cipher.openAll(
    sealed.map((r) => ({ ad: contentPlace.payload(r.request_id), value: r.payload as string })),
  );
  const byId = new Map(sealed.map((r, n) => [r.request_id, JSON.parse(opened[n] ?? "null") as unknown]));
  return rows.map((r) => (typeof r.payload === "string" ? byId.get(r.request_id) : r.payload));
}

export async function openReplyContent(
  cipher: ContentCipher,
  requestId: string,
  content: string | null,
): Promise<string | null> {
  if (content === null || !cipher.enabled) return content;
  const [opened] = await cipher.openAll([{ ad: contentPlace.reply(requestId), value: content }]);
  return opened ?? null;
}

/** The summary and every turn of a loadContext answer, opened in one batch. */
export async function openContextRows(
  cipher: ContentCipher,
  conversationId: string,
  rows: ContextRow[],
): Promise<ContextRow[]> {
  if (!cipher.enabled || rows.length === 0) return rows;
  const first = rows[0];
  const items: OpenItem[] = [];
  const hasSummary = first?.summary != null && first.summary_through != null;
  if (hasSummary && first?.summary != null)
    items.push({
      ad: contentPlace.summary(conversationId, Number(first.summary_through)),
      value: first.summary,
    });
  for (const r of rows) {
    if (r.content != null && r.request_id != null && r.role != null)
      items.push({ ad: contentPlace.turn(conversationId, r.request_id, r.role), value: r.content });
  }
  const opened = await cipher.openAll(items);
  let n = 0;
  const summary = hasSummary ? (opened[n++] ?? null) : (first?.summary ?? null);
  return rows.map((r) => ({
    ...r,
    summary,
    content: r.content != null && r.request_id != null && r.role != null ? (opened[n++] ?? null) : r.content,
  }));
}

export async function sealSummary(
  cipher: ContentCipher,
  subject: Subject,
  conversationId: string,
  throughId: number,
  text: string,
): Promise<string> {
  if (!cipher.enabled) return text;
  const [sealed] = await cipher.sealAll([
    { subject, ad: contentPlace.summary(conversationId, throughId), text },
  ]);
  return sealed ?? "";
}
