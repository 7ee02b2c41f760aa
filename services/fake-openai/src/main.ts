// Standalone fake OpenAI server: `pnpm --filter @chatq/fake-openai start -- --rpm 600 --limit-slice-ms 1000`.
import { CliConfigError, parseCliConfig } from "./cli-config.ts";
import { startFakeOpenAI } from "./server.ts";

const SHUTDOWN_DEADLINE_MS = 5_000;

async function main(): Promise<void> {
  let cli: ReturnType<typeof parseCliConfig>;
  try {
    cli = parseCliConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof CliConfigError)) throw err;
    process.stderr.write(`${JSON.stringify({ event: "invalid_config", error: err.message })}\n`);
    process.exit(2);
  }
  const fake = await startFakeOpenAI({ host: cli.host, port: cli.port, ...cli.patch, batches: cli.batches });
  process.stdout.write(`${JSON.stringify({ event: "listening", url: fake.url, port: fake.port })}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    fake
      .close()
      .then(() => {
        process.stdout.write(`${JSON.stringify({ event: "stopped", signal, stats: fake.stats() })}\n`);
        process.exit(0);
      })
      .catch(() => process.exit(1));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: "crashed", error: String(err) })}\n`);
  process.exit(1);
});
