import { parseArgs } from "node:util";
import { webhookSecret } from "@chatq/gateway";
import { type Tenant, TenantStore } from "@chatq/tenants";
import type { CliEnv } from "./cli-config.ts";

export const TENANTS_USAGE = `  tenants create <id> [--models m1,m2] [--rpm N] [--tpm N] [--daily-usd X] [--monthly-usd X]
  tenants list
  tenants disable <id> | tenants enable <id>
  tenants webhook-secret <id>            the secret the tenant's webhooks are signed with (X-Chatq-Signature)
  keys create --tenant <id>              prints the new key once; only its hash is stored
  keys list --tenant <id>
  keys revoke --tenant <id> <key id or cq_ prefix>   refused by every gateway within 1 s`;

/** `chatq tenants …` and `chatq keys …`: tenants and their keys in Postgres, as the gateway reads them. */
export async function runTenantCommand(
  command: "tenants" | "keys",
  args: string[],
  env: CliEnv,
  print: (line: string) => void,
): Promise<void> {
  if (env.keyPepper === undefined) throw new UsageError("GATEWAY_KEY_PEPPER must be set (the gateway's own)");
  const store = new TenantStore({
    databaseUrl: env.databaseUrl,
    schema: env.databaseSchema,
    pepper: env.keyPepper,
  });
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tenant: { type: "string" },
        models: { type: "string" },
        rpm: { type: "string" },
        tpm: { type: "string" },
        "daily-usd": { type: "string" },
        "monthly-usd": { type: "string" },
      },
    });
    const [action, target] = positionals;
    if (command === "tenants") {
      switch (action) {
        case "create": {
          if (target === undefined) throw new UsageError("tenants create needs an id");
          const t = await store.createTenant({
            tenantId: target,
            ...(values.models !== undefined && {
              allowedModels: values.models.split(",").map((m) => m.trim()),
            }),
            ...(values.rpm !== undefined && { rpm: count(values.rpm, "--rpm") }),
            ...(values.tpm !== undefined && { tpm: count(values.tpm, "--tpm") }),
            ...(values["daily-usd"] !== undefined && { dailyUsd: usd(values["daily-usd"], "--daily-usd") }),
            ...(values["monthly-usd"] !== undefined && {
              monthlyUsd: usd(values["monthly-usd"], "--monthly-usd"),
            }),
          });
          print(describeTenant(t));
          return;
        }
        case "list":
          for (const t of await store.listTenants()) print(describeTenant(t));
          return;
        case "webhook-secret":
          if (target === undefined) throw new UsageError("tenants webhook-secret needs an id");
          print(webhookSecret(env.keyPepper, target));
          return;
        case "disable":
        case "enable":
          if (target === undefined) throw new UsageError(`tenants ${action} needs an id`);
          await store.setTenantStatus(target, action === "disable" ? "disabled" : "active");
          print(`${target} ${action}d`);
          return;
        default:
          throw new UsageError(`unknown tenants action: ${action ?? "(none)"}`);
      }
    }
    const tenant = values.tenant;
    if (tenant === undefined) throw new UsageError("keys commands need --tenant <id>");
    switch (action) {
      case "create": {
        const { key, info } = await store.createKey(tenant);
        print(key);
        process.stderr.write(`key ${info.prefix} for ${tenant}: shown once, store it now\n`);
        return;
      }
      case "list":
        for (const k of await store.listKeys(tenant)) {
          print(
            `${k.prefix}  ${k.status}  created ${k.createdAt.toISOString()}${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ""}`,
          );
        }
        return;
      case "revoke":
        if (target === undefined) throw new UsageError("keys revoke needs a key id or prefix");
        await store.revokeKey(tenant, target);
        print(`${target} revoked`);
        return;
      default:
        throw new UsageError(`unknown keys action: ${action ?? "(none)"}`);
    }
  } finally {
    await store.close();
  }
}

export class UsageError extends Error {}

function count(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number >= 0`);
  return n;
}

function usd(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be an amount >= 0`);
  return n;
}

function describeTenant(t: Tenant): string {
  const models = t.allowedModels.length > 0 ? t.allowedModels.join(",") : "all";
  const money = (v: number | undefined) => (v === undefined ? "none" : `$${v}`);
  return `${t.tenantId}  ${t.status}  models=${models}  rpm=${t.rpm || "∞"}  tpm=${t.tpm || "∞"}  daily=${money(t.dailyUsd)}  monthly=${money(t.monthlyUsd)}`;
}
