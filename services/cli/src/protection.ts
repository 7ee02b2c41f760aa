import { parseArgs } from "node:util";
import {
  anchorAuditLog,
  eraseSubject,
  exportSubject,
  purgeExpired,
  recordConsent,
  reencryptAll,
  rotateMaster,
  setTenantPolicy,
  verifyAuditLog,
} from "@chatq/store";
import { LocalKeyWrapper, loadKeyWrapper, parseMasterKey } from "@chatq/vault";
import type { CliEnv } from "./cli-config.ts";

export const PROTECTION_USAGE = `  audit verify [--json]                  recompute the audit log's hash chains; exit 1 naming the
                                         first altered or missing row of each broken chain
  audit anchor                           write the chains' heads into the log and print them (keep
                                         the printed line outside the database)
  consent grant|revoke --tenant T --user U [--notice v1]
                                         record a user's consent to storing their content (with_consent)
  policy --tenant T [--storage none|with_consent|always] [--content-retention '30 days']
         [--metadata-retention '365 days']   (a retention of 'none' keeps forever)
  purge                                  delete what is past each tenant's retention, in batches
  erase --tenant T --user U              crypto-shred and delete everything stored about a user
  export --tenant T --user U             everything stored about a user, as JSON on stdout
  keys rotate-master                     re-wrap every data key from CHATQ_MASTER_KEY to
                                         CHATQ_NEW_MASTER_KEY (content untouched); then restart the
                                         services with the new key and run it once more
  reencrypt [--batch 500] [--finish] [--grace 120]
                                         move all content to new data key versions, in batches
                                         (resumable; --finish only completes an earlier run)`;

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

const SUBJECT_OPTIONS = {
  tenant: { type: "string" },
  user: { type: "string" },
  notice: { type: "string", default: "v1" },
  storage: { type: "string" },
  "content-retention": { type: "string" },
  "metadata-retention": { type: "string" },
} as const;

const retention = (v: string | undefined) => (v === undefined ? undefined : v === "none" ? null : v);

/** `chatq consent|policy|purge|erase|export …`; returns the exit code. */
export async function runSubjectCommand(
  command: "consent" | "policy" | "purge" | "erase" | "export",
  args: string[],
  env: CliEnv,
  print: (line: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: SUBJECT_OPTIONS });
  const wrapper = await loadKeyWrapper(env.encryption);
  const opts = {
    ...connection(env),
    ...(wrapper !== undefined && { encryption: { wrapper } }),
    by: operator(process.env),
  };
  if (command === "purge") {
    print(JSON.stringify(await purgeExpired(opts)));
    return 0;
  }
  if (values.tenant === undefined) throw new ProtectionUsageError(`${command} needs --tenant T`);
  if (command === "policy") {
    if (values.storage !== undefined && !["none", "with_consent", "always"].includes(values.storage))
      throw new ProtectionUsageError("--storage must be none, with_consent or always");
    await setTenantPolicy(opts, values.tenant, {
      ...(values.storage !== undefined && { storage: values.storage }),
      ...(values["content-retention"] !== undefined && {
        contentRetention: retention(values["content-retention"]),
      }),
      ...(values["metadata-retention"] !== undefined && {
        metadataRetention: retention(values["metadata-retention"]),
      }),
    });
    return 0;
  }
  if (values.user === undefined) throw new ProtectionUsageError(`${command} needs --tenant T --user U`);
  const subject = { tenant: values.tenant, userId: values.user };
  if (command === "consent") {
    const [action] = positionals;
    if (action !== "grant" && action !== "revoke")
      throw new ProtectionUsageError("usage: chatq consent grant|revoke --tenant T --user U");
    await recordConsent(
      opts,
      subject,
      action === "grant" ? { granted: true, noticeVersion: values.notice } : { granted: false },
    );
    return 0;
  }
  if (command === "erase") {
    print(JSON.stringify(await eraseSubject(opts, subject)));
    return 0;
  }
  print(JSON.stringify(await exportSubject(opts, subject), null, 2));
  return 0;
}

/** `chatq keys rotate-master`: the next master key comes from CHATQ_NEW_MASTER_KEY (base64, as the current one). */
export async function runRotateMaster(
  env: CliEnv,
  newKey: string | undefined,
  print: (line: string) => void,
): Promise<number> {
  const current = await loadKeyWrapper(env.encryption);
  if (current === undefined)
    throw new ProtectionUsageError("keys rotate-master needs encryption on (ENCRYPTION=on)");
  if (newKey === undefined) throw new ProtectionUsageError("keys rotate-master needs CHATQ_NEW_MASTER_KEY");
  const next = new LocalKeyWrapper(parseMasterKey(newKey));
  const { rewrapped } = await rotateMaster(connection(env), current, next, operator(process.env));
  print(JSON.stringify({ rewrapped, master_id: next.masterId }));
  return 0;
}

/** `chatq reencrypt`: prints progress on stderr and the report (rows/s) on stdout. */
export async function runReencrypt(
  args: string[],
  env: CliEnv,
  print: (line: string) => void,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      batch: { type: "string", default: "500" },
      finish: { type: "boolean", default: false },
      grace: { type: "string", default: "120" },
    },
  });
  const wrapper = await loadKeyWrapper(env.encryption);
  if (wrapper === undefined) throw new ProtectionUsageError("reencrypt needs encryption on (ENCRYPTION=on)");
  const report = await reencryptAll({
    ...connection(env),
    encryption: { wrapper },
    batchSize: Number(values.batch),
    rotate: !values.finish,
    graceSeconds: Number(values.grace),
    onProgress: (rows, column) => process.stderr.write(`\r${column}: ${rows} rows moved`),
  });
  process.stderr.write("\n");
  print(JSON.stringify(report));
  return report.remaining === 0 ? 0 : 3;
}
