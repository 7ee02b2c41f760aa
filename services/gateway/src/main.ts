// The gateway process: read config, start the parts, stop them on a signal.
import { createLogger } from "@chatq/telemetry";
import { ConfigError, loadConfig } from "./config.ts";
import { startGateway } from "./start-gateway.ts";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}

const log = createLogger({
  name: "chatq-gateway",
  level: config.log.level,
  pretty: false,
  logContent: false,
});
const gateway = await startGateway(config, log).catch((err: unknown) => {
  log.fatal({ err }, "gateway failed to start");
  process.exit(1);
});

const HARD_STOP_MS = 20_000;
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  setTimeout(() => {
    log.error("shutdown took too long; exiting");
    process.exit(1);
  }, HARD_STOP_MS).unref();
  await gateway.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
