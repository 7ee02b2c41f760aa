import { randomBytes } from "node:crypto";
import { open, seal } from "./aead.ts";
import { formatEnvelope, isSealed, parseEnvelope } from "./envelope.ts";
import {
  ACTIVE_KEYS_SQL,
  INSERT_CHECK_SQL,
  INSERT_KEYS_SQL,
  KEYS_BY_ID_SQL,
  SELECT_CHECK_SQL,
} from "./key-sql.ts";
import type { KeyWrapper } from "./key-wrapper.ts";
import { LruCache } from "./lru-cache.ts";
import { VaultError } from "./vault-error.ts";

/** What node-postgres's Pool and Client both are, enough for the vault's few statements. */
export interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * Whose data a value is. Each data subject (tenant + user_id) has its own data key, so erasing a user is deleting
 * one key; content without a user_id is sealed under the tenant's key (user_id ''), without a tenant under ''.
 */
export interface Subject {
  tenant?: string | null | undefined;
  userId?: string | null | undefined;
}

export interface SealItem {
  subject: Subject;
  /** Binds the ciphertext to its place (`<row id>|<table.column>`): moved elsewhere it no longer opens. */
  ad: string;
  text: string;
}

export interface OpenItem {
  ad: string;
  value: string;
}

/** Seals and opens content; `plaintextCipher` is the same interface with encryption off. */
export interface ContentCipher {
  readonly enabled: boolean;
  sealAll(items: readonly SealItem[]): Promise<string[]>;
  /** A value that is not an envelope is returned as is: content stored before encryption was turned on. */
  openAll(items: readonly OpenItem[]): Promise<string[]>;
}

export const plaintextCipher: ContentCipher = {
  enabled: false,
  sealAll: async (items) => items.map((i) => i.text),
  openAll: async (items) => items.map((i) => i.value),
};

export interface VaultOptions {
  db: Queryable;
  wrapper: KeyWrapper;
  /** Unwrapped data keys kept in memory; default 10 000 (32 bytes each plus the map). */
  cacheSize?: number;
  /**
   * How long a subject's current key is reused before it is looked up again: after a `chatq reencrypt` starts a
   * new key version, writers move to it within this. Default 60 s.
   */
  subjectTtlMs?: number;
  clock?: () => number;
}

interface DataKey {
  keyId: string;
  version: number;
  key: Buffer;
}

interface KeyRow {
  key_id: string;
  tenant: string;
  user_id: string;
  version: number;
  wrapped: Buffer;
}

const CHECK_PLAINTEXT = Buffer.from("chatq master key check v1");
const CHECK_KEY_ID = "vault-check";

export function subjectOf(s: Subject): { tenant: string; user_id: string } {
  return { tenant: s.tenant ?? "", user_id: s.userId ?? "" };
}

const subjectKey = (s: { tenant: string; user_id: string }): string => `${s.tenant}\u0000${s.user_id}`;

/**
 * Envelope encryption: AES-256-GCM under a data key per data subject, data keys stored wrapped by the master key
 * (table data_keys) and cached unwrapped in a bounded LRU, so the hot path is one AES call per value and a key
 * lookup only for a subject not seen lately.
 */
export class Vault implements ContentCipher {
  readonly enabled = true;
  readonly #db: Queryable;
  readonly #wrapper: KeyWrapper;
  readonly #byId: LruCache<string, DataKey>;
  readonly #bySubject: LruCache<string, { key: DataKey; until: number }>;
  readonly #ttlMs: number;
  readonly #clock: () => number;

  private constructor(opts: VaultOptions) {
    this.#db = opts.db;
    this.#wrapper = opts.wrapper;
    this.#byId = new LruCache(opts.cacheSize ?? 10_000);
    this.#bySubject = new LruCache(opts.cacheSize ?? 10_000);
    this.#ttlMs = opts.subjectTtlMs ?? 60_000;
    this.#clock = opts.clock ?? Date.now;
  }

  /**
   * Checks the master key against the check value stored beside the keys (writing it on first use) before
   * anything else: a wrong key stops the process here with `wrong_master_key`, having changed nothing.
   */
  static async open(opts: VaultOptions): Promise<Vault> {
    await verifyMasterKey(opts.db, opts.wrapper);
    return new Vault(opts);
  }

  get masterId(): string {
    return this.#wrapper.masterId;
  }

  async sealAll(items: readonly SealItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const keys = await this.#currentKeys(items.map((i) => subjectOf(i.subject)));
    return items.map((item) => {
      const k = keys.get(subjectKey(subjectOf(item.subject)));
      if (k === undefined) throw new Error("vault: no data key resolved for a subject"); // #currentKeys resolves all
      const body = seal(k.key, Buffer.from(item.text, "utf8"), item.ad);
      return formatEnvelope({ keyId: k.keyId, version: k.version, body });
    });
  }

  async openAll(items: readonly OpenItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const parsed = items.map((i) => (isSealed(i.value) ? parseEnvelope(i.value) : undefined));
    const missing = [...new Set(parsed.flatMap((e) => (e && !this.#byId.get(e.keyId) ? [e.keyId] : [])))];
    if (missing.length > 0) await this.#loadKeys(missing);
    return items.map((item, n) => {
      const e = parsed[n];
      if (e === undefined) return item.value;
      const k = this.#byId.get(e.keyId);
      if (k === undefined)
        throw new VaultError("key_erased", `data key ${e.keyId} is gone: its data subject was erased`);
      return open(k.key, e.body, item.ad).toString("utf8");
    });
  }

  /** Forgets cached keys (after an erase or a rotation in this process). */
  forget(): void {
    this.#byId.clear();
    this.#bySubject.clear();
  }

  async #loadKeys(keyIds: string[]): Promise<void> {
    const { rows } = await this.#db.query<Omit<KeyRow, "tenant" | "user_id">>(KEYS_BY_ID_SQL, [keyIds]);
    for (const r of rows) {
      const key = await this.#wrapper.unwrap(r.wrapped, r.key_id);
      this.#byId.set(r.key_id, { keyId: r.key_id, version: r.version, key });
    }
  }

  async #currentKeys(subjects: { tenant: string; user_id: string }[]): Promise<Map<string, DataKey>> {
    const now = this.#clock();
    const out = new Map<string, DataKey>();
    const wanted = new Map<string, { tenant: string; user_id: string }>();
    for (const s of subjects) {
      const id = subjectKey(s);
      if (out.has(id) || wanted.has(id)) continue;
      const hit = this.#bySubject.get(id);
      if (hit !== undefined && hit.until > now) out.set(id, hit.key);
      else wanted.set(id, s);
    }
    if (wanted.size === 0) return out;
    // Existing keys first; then create the missing ones (a concurrent writer may win: its key is read back).
    const found = await this.#activeKeys([...wanted.values()]);
    for (const [id] of found) wanted.delete(id);
    if (wanted.size > 0) {
      const fresh = await Promise.all(
        [...wanted.values()].map(async (s) => {
          const keyId = randomBytes(8).toString("hex");
          const wrapped = await this.#wrapper.wrap(randomBytes(32), keyId);
          return { ...s, key_id: keyId, wrapped: wrapped.toString("base64") };
        }),
      );
      // The generated key is unwrapped from what was stored, so the cache only ever holds what the table holds.
      const { rows } = await this.#db.query<KeyRow>(INSERT_KEYS_SQL, [
        JSON.stringify(fresh),
        this.#wrapper.masterId,
      ]);
      for (const r of rows) found.set(subjectKey(r), await this.#toKey(r));
      const lost = [...wanted.values()].filter((s) => !found.has(subjectKey(s)));
      if (lost.length > 0) for (const [id, k] of await this.#activeKeys(lost)) found.set(id, k);
    }
    for (const [id, key] of found) {
      this.#bySubject.set(id, { key, until: now + this.#ttlMs });
      out.set(id, key);
    }
    return out;
  }

  async #activeKeys(subjects: { tenant: string; user_id: string }[]): Promise<Map<string, DataKey>> {
    const { rows } = await this.#db.query<KeyRow>(ACTIVE_KEYS_SQL, [JSON.stringify(subjects)]);
    const out = new Map<string, DataKey>();
    for (const r of rows) out.set(subjectKey(r), await this.#toKey(r));
    return out;
  }

  async #toKey(r: KeyRow): Promise<DataKey> {
    const cached = this.#byId.get(r.key_id);
    if (cached !== undefined) return cached;
    const key = { keyId: r.key_id, version: r.version, key: await this.#wrapper.unwrap(r.wrapped, r.key_id) };
    this.#byId.set(r.key_id, key);
    return key;
  }
}

/** Throws `wrong_master_key` unless the stored check value opens with this wrapper; writes it when there is none. */
export async function verifyMasterKey(db: Queryable, wrapper: KeyWrapper): Promise<void> {
  let { rows } = await db.query<{ master_id: string; check_value: Buffer }>(SELECT_CHECK_SQL);
  if (rows.length === 0) {
    await db.query(INSERT_CHECK_SQL, [wrapper.masterId, await wrapper.wrap(CHECK_PLAINTEXT, CHECK_KEY_ID)]);
    ({ rows } = await db.query<{ master_id: string; check_value: Buffer }>(SELECT_CHECK_SQL));
  }
  const [row] = rows;
  if (row === undefined) throw new VaultError("wrong_master_key", "vault_master has no check value");
  try {
    const opened = await wrapper.unwrap(row.check_value, CHECK_KEY_ID);
    if (!opened.equals(CHECK_PLAINTEXT)) throw new Error("check value differs");
  } catch (err) {
    throw new VaultError(
      "wrong_master_key",
      `the configured master key (id ${wrapper.masterId}) is not the one the data keys are wrapped with (id ${row.master_id}): nothing was read or changed`,
      { cause: err },
    );
  }
}

export { CHECK_KEY_ID, CHECK_PLAINTEXT };
