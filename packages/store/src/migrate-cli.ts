// `pnpm migrate`: applies pending migrations from infra/migrations, prints what it applied as one JSON line.
import { migrate } from "./migrate.ts";
import { readMigrateConfig } from "./migrate-config.ts";

const config = readMigrateConfig();
try {
  const { applied } = await migrate({ ...config, applicationName: "chatq-migrate" });
  process.stdout.write(
    `${JSON.stringify({ msg: "migrated", schema: config.schema ?? "public", applied })}\n`,
  );
} catch (err) {
  const e = err as Error & { code?: string };
  process.stderr.write(`${JSON.stringify({ msg: "migrate failed", code: e.code, error: e.message })}\n`);
  process.exitCode = 1;
}
