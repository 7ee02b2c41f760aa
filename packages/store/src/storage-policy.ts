import type { AdmissionRow } from "./admission.ts";
import type { OutcomeRow, TurnRow } from "./completion.ts";

/** A tenant's storage policy (tenants.storage_policy, 0004_protection.sql). */
export type StoragePolicy = "none" | "with_consent" | "always";

/** Which basis a request's content was stored on, or why it was not (requests.storage_basis, the audit row). */
export type StorageBasis = "always" | "consent" | "none" | "no_consent";

export function storageBasis(policy: StoragePolicy, consented: boolean): StorageBasis {
  if (policy === "always") return "always";
  if (policy === "none") return "none";
  return consented ? "consent" : "no_consent";
}

export const storesContent = (basis: StorageBasis): boolean => basis === "always" || basis === "consent";

export interface SubjectRef {
  tenant: string | null;
  user_id: string | null;
}

export const subjectId = (s: SubjectRef): string => `${s.tenant ?? ""}\u0000${s.user_id ?? ""}`;

/** A tenant not in the tenants table (a producer writing to Kafka directly) keeps chatq's default: always. */
export const STORAGE_BASIS_SQL = `
select s.tenant, s.user_id, coalesce(t.storage_policy, 'always') as policy,
       coalesce(c.granted_at is not null and c.revoked_at is null, false) as consented
from json_to_recordset($1::json) as s(tenant text, user_id text)
left join tenants t on t.tenant_id = s.tenant
left join consents c on c.tenant = s.tenant and c.user_id = s.user_id`;

export interface BasisRow extends SubjectRef {
  policy: StoragePolicy;
  consented: boolean;
}

/** Content columns emptied where the basis does not allow storing them; the basis recorded with the request. */
export function withholdAdmissions(
  rows: AdmissionRow[],
  bases: ReadonlyMap<string, StorageBasis>,
): (AdmissionRow & { storage_basis: StorageBasis })[] {
  return rows.map((r) => {
    const basis = bases.get(subjectId(r)) ?? "always";
    return storesContent(basis)
      ? { ...r, storage_basis: basis }
      : { ...r, payload: null, storage_basis: basis };
  });
}

/** A request whose content may not be stored keeps its reply envelope and usage, but no content and no history. */
export function withholdCompletion(
  rows: { outcomes: OutcomeRow[]; turns: TurnRow[] },
  bases: ReadonlyMap<string, StorageBasis>,
): { outcomes: OutcomeRow[]; turns: TurnRow[] } {
  const withheld = new Set(
    rows.outcomes.filter((o) => !storesContent(bases.get(subjectId(o)) ?? "always")).map((o) => o.request_id),
  );
  if (withheld.size === 0) return rows;
  return {
    outcomes: rows.outcomes.map((o) => (withheld.has(o.request_id) ? { ...o, content: null } : o)),
    turns: rows.turns.filter((t) => !withheld.has(t.request_id)),
  };
}

/**
 * The store's view of policies and consents, cached per subject for `ttlMs` (default 1 s): a consent revoked is
 * honoured by every worker within that, at one query per batch of subjects not seen lately.
 */
export class StorageBases {
  readonly #query: (subjects: SubjectRef[]) => Promise<BasisRow[]>;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #cache = new Map<string, { basis: StorageBasis; until: number }>();

  constructor(
    query: (subjects: SubjectRef[]) => Promise<BasisRow[]>,
    opts: { ttlMs?: number; clock?: () => number } = {},
  ) {
    this.#query = query;
    this.#ttlMs = opts.ttlMs ?? 1_000;
    this.#clock = opts.clock ?? Date.now;
  }

  async of(subjects: readonly SubjectRef[]): Promise<Map<string, StorageBasis>> {
    const now = this.#clock();
    const out = new Map<string, StorageBasis>();
    const missing = new Map<string, SubjectRef>();
    for (const s of subjects) {
      const id = subjectId(s);
      if (s.tenant === null) out.set(id, "always");
      const hit = this.#cache.get(id);
      if (hit !== undefined && hit.until > now) out.set(id, hit.basis);
      else if (!out.has(id)) missing.set(id, { tenant: s.tenant, user_id: s.user_id ?? "" });
    }
    if (missing.size === 0) return out;
    if (this.#cache.size > 50_000) this.#cache.clear(); // bounded; a miss only costs a query
    for (const r of await this.#query([...missing.values()])) {
      const basis = storageBasis(r.policy, r.consented);
      for (const [id, s] of missing) {
        if (s.tenant !== r.tenant || s.user_id !== r.user_id) continue;
        out.set(id, basis);
        this.#cache.set(id, { basis, until: now + this.#ttlMs });
      }
    }
    return out;
  }
}
