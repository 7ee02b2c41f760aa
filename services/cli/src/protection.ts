import { parseArgs } from "node:util";
import { anchorAuditLog, verifyAuditLog } from "@chatq/store";
import type { CliEnv } from "./cli-config.ts";

export const PROTECTION_USAGE = `  audit verify [--json]                  recompute the audit log's hash chains; exit 1 naming the
                                         first altered or missing row of each broken chain
  audit anchor                           write the chains' heads into the log and print them (keep
                                         the printed line outside the database)`;

export class ProtectionUsageError extends Error {}

/** Who ran a command, for the audit rows the data protection commands write. */
export function operator(env: NodeJS.ProcessEnv): string {
  return env.CHATQ_OPERATOR ?? env.USER ?? "unknown";
}

const connection = (env: CliEnv) => ({
  databaseUrl: env.databaseUrl,
  ...(env.databaseSchema !== undefined && { schema: env.databaseSchema }),
});

/** `chatq audit …`; returns the exit code. */
export async function runAuditCommand(
  args: string[],
  env: CliEnv,
  print: (line: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean", default: false } },
  });
  const [action] = positionals;
  if (action === "verify") {
    const result = await verifyAuditLog(connection(env));
    if (values.json) print(JSON.stringify(result));
    else {
      print(
        `audit log: ${result.rows} rows in ${result.heads.length} chains, ${result.ok ? "intact" : "BROKEN"}`,
      );
      for (const b of result.broken)
        print(
          `  chain ${b.chain}: ${b.reason} at ${b.id === undefined ? `sequence ${b.seq}` : `audit_log.id ${b.id} (sequence ${b.seq})`}`,
        );
    }
    return result.ok ? 0 : 1;
  }
  if (action === "anchor") {
    const heads = await anchorAuditLog(connection(env), operator(process.env));
    print(JSON.stringify({ at: new Date().toISOString(), heads }));
    return 0;
  }
  throw new ProtectionUsageError("usage: chatq audit verify [--json] | chatq audit anchor");
}
