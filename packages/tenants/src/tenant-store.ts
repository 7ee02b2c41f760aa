import pg from "pg";
import { generateApiKey, hashApiKey, parseApiKey, sameHash } from "./api-key.ts";

export interface Tenant {
  tenantId: string;
  status: "active" | "disabled";
  /** Empty = every model the workers allow. */
  allowedModels: string[];
  rpm: number;
  tpm: number;
  dailyUsd: number | undefined;
  monthlyUsd: number | undefined;
}

export interface TenantInput {
  tenantId: string;
  allowedModels?: string[];
  rpm?: number;
  tpm?: number;
  dailyUsd?: number;
  monthlyUsd?: number;
}

export interface ApiKeyInfo {
  keyId: string;
  tenantId: string;
  prefix: string;
  status: "active" | "revoked";
  createdAt: Date;
  revokedAt: Date | undefined;
}

export interface Spend {
  todayUsd: number;
  monthUsd: number;
}

export interface TenantStoreOptions {
  databaseUrl: string;
  schema?: string | undefined;
  /** Server secret keyed into every key hash (GATEWAY_KEY_PEPPER). */
  pepper: string;
  poolSize?: number;
}

export class TenantError extends Error {
  override readonly name = "TenantError";
  readonly code: "unknown_tenant" | "unknown_key" | "tenant_exists";
  readonly retryable = false;
  constructor(code: TenantError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

interface TenantRow {
  tenant_id: string;
  status: "active" | "disabled";
  allowed_models: string[];
  rpm: number;
  tpm: number;
  daily_usd: string | null;
  monthly_usd: string | null;
}

const TENANT_COLUMNS = "tenant_id, status, allowed_models, rpm, tpm, daily_usd, monthly_usd";

/** Tenants and their keys in Postgres (migration 0002_tenants.sql). Keys are stored only as their keyed hash. */
export class TenantStore {
  readonly #pool: pg.Pool;
  readonly #pepper: string;

  constructor(opts: TenantStoreOptions) {
    const schema = opts.schema ?? "public";
    if (!SCHEMA_NAME.test(schema)) throw new Error(`schema must match ${SCHEMA_NAME}`);
    this.#pepper = opts.pepper;
    this.#pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 4,
      application_name: "chatq-tenants",
      options: `-c search_path=${schema}`,
      statement_timeout: 5_000,
    });
    // An idle connection lost (a Postgres restart) must not crash the process; the next query reconnects.
    this.#pool.on("error", () => {});
  }

  async createTenant(t: TenantInput): Promise<Tenant> {
    try {
      const { rows } = await this.#pool.query<TenantRow>(
        `insert into tenants (tenant_id, allowed_models, rpm, tpm, daily_usd, monthly_usd)
         values ($1, $2, $3, $4, $5, $6) returning ${TENANT_COLUMNS}`,
        [t.tenantId, t.allowedModels ?? [], t.rpm ?? 0, t.tpm ?? 0, t.dailyUsd ?? null, t.monthlyUsd ?? null],
      );
      return toTenant(one(rows));
    } catch (err) {
      if ((err as { code?: string }).code === "23505")
        throw new TenantError("tenant_exists", `tenant ${t.tenantId} exists`);
      throw err;
    }
  }

  async listTenants(): Promise<Tenant[]> {
    const { rows } = await this.#pool.query<TenantRow>(
      `select ${TENANT_COLUMNS} from tenants order by tenant_id`,
    );
    return rows.map(toTenant);
  }

  async setTenantStatus(tenantId: string, status: Tenant["status"]): Promise<void> {
    const r = await this.#pool.query(
      "update tenants set status = $2, updated_at = now() where tenant_id = $1",
      [tenantId, status],
    );
    if (r.rowCount === 0) throw new TenantError("unknown_tenant", `no tenant ${tenantId}`);
  }

  /** The plaintext is returned once, here, and kept nowhere. */
  async createKey(tenantId: string): Promise<{ key: string; info: ApiKeyInfo }> {
    const k = generateApiKey(this.#pepper);
    try {
      const { rows } = await this.#pool.query<KeyRow>(
        `insert into api_keys (key_id, tenant_id, prefix, hash) values ($1, $2, $3, $4) returning ${KEY_COLUMNS}`,
        [k.keyId, tenantId, k.prefix, k.hash],
      );
      return { key: k.plaintext, info: toKeyInfo(one(rows)) };
    } catch (err) {
      if ((err as { code?: string }).code === "23503")
        throw new TenantError("unknown_tenant", `no tenant ${tenantId}`);
      throw err;
    }
  }

  async listKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    const { rows } = await this.#pool.query<KeyRow>(
      `select ${KEY_COLUMNS} from api_keys where tenant_id = $1 order by created_at`,
      [tenantId],
    );
    return rows.map(toKeyInfo);
  }

  /** `key` is a key id or a prefix (`cq_<key id>`). */
  async revokeKey(tenantId: string, key: string): Promise<void> {
    const keyId = key.startsWith("cq_") ? key.slice(3) : key;
    const r = await this.#pool.query(
      `update api_keys set status = 'revoked', revoked_at = coalesce(revoked_at, now())
       where tenant_id = $1 and key_id = $2`,
      [tenantId, keyId],
    );
    if (r.rowCount === 0) throw new TenantError("unknown_key", `tenant ${tenantId} has no key ${key}`);
  }

  /**
   * The active tenant of an active key, else undefined. One indexed lookup by key id, then a constant-time
   * comparison of the keyed hash.
   */
  async tenantOfKey(plaintext: string): Promise<{ tenant: Tenant; prefix: string } | undefined> {
    const parsed = parseApiKey(plaintext);
    if (parsed === undefined) return undefined;
    const { rows } = await this.#pool.query<TenantRow & { hash: Buffer }>(
      `select k.hash, ${TENANT_COLUMNS.split(", ")
        .map((c) => `t.${c}`)
        .join(", ")}
       from api_keys k join tenants t using (tenant_id)
       where k.key_id = $1 and k.status = 'active' and t.status = 'active'`,
      [parsed.keyId],
    );
    const row = rows[0];
    if (row === undefined || !sameHash(row.hash, hashApiKey(this.#pepper, plaintext))) return undefined;
    return { tenant: toTenant(row), prefix: parsed.prefix };
  }

  /** What the tenant's requests cost today and this month (UTC), from the usage ledger the workers write. */
  async spend(tenantId: string): Promise<Spend> {
    const { rows } = await this.#pool.query<{ today: string; month: string }>(
      `select coalesce(sum(cost_usd) filter (where created_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'), 0) as today,
              coalesce(sum(cost_usd), 0) as month
       from usage
       where tenant = $1 and created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'`,
      [tenantId],
    );
    const r = one(rows);
    return { todayUsd: Number(r.today), monthUsd: Number(r.month) };
  }

  async ping(): Promise<void> {
    await this.#pool.query("select 1");
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

interface KeyRow {
  key_id: string;
  tenant_id: string;
  prefix: string;
  status: "active" | "revoked";
  created_at: Date;
  revoked_at: Date | null;
}
const KEY_COLUMNS = "key_id, tenant_id, prefix, status, created_at, revoked_at";

function one<T>(rows: T[]): T {
  const r = rows[0];
  if (r === undefined) throw new Error("expected one row");
  return r;
}

function toTenant(r: TenantRow): Tenant {
  return {
    tenantId: r.tenant_id,
    status: r.status,
    allowedModels: r.allowed_models,
    rpm: r.rpm,
    tpm: r.tpm,
    dailyUsd: r.daily_usd === null ? undefined : Number(r.daily_usd),
    monthlyUsd: r.monthly_usd === null ? undefined : Number(r.monthly_usd),
  };
}

function toKeyInfo(r: KeyRow): ApiKeyInfo {
  return {
    keyId: r.key_id,
    tenantId: r.tenant_id,
    prefix: r.prefix,
    status: r.status,
    createdAt: r.created_at,
    revokedAt: r.revoked_at ?? undefined,
  };
}
