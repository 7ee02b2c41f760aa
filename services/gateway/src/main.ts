// The gateway process: read config, start the parts, stop them on a signal.

import { loadOrExit } from "@chatq/config";
import { createLogger } from "@chatq/telemetry";
import { GATEWAY_HARD_STOP_MS, loadConfig } from "./config.ts";
import { startGateway } from "./start-gateway.ts";

const config = loadOrExit(() => loadConfig());

const log = createLogger({
  name: "chatq-gateway",
  level: config.log.level,
  pretty: false,
  logContent: false,
});

let stopping = false;
// Handlers first: a signal that arrives while the gateway starts (after it has announced itself) still stops it
// cleanly, once it has started.
const starting = startGateway(config, log);
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  setTimeout(() => {
    log.error("shutdown took too long; exiting");
    process.exit(1);
  }, GATEWAY_HARD_STOP_MS).unref();
  const gateway = await starting.catch(() => undefined);
  await gateway?.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
await starting.catch((err: unknown) => {
  log.fatal({ err }, "gateway failed to start");
  process.exit(1);
});
