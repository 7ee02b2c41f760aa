// The worker process: read config, build the parts, start them, stop them on a signal.

import { loadOrExit } from "@chatq/config";
import { createLogger, createMetrics } from "@chatq/telemetry";
import { HARD_STOP_GRACE_MS, loadConfig } from "./config.ts";
import { startWorker } from "./worker.ts";

const config = loadOrExit(() => loadConfig());

const log = createLogger({ name: "chatq-worker", ...config.log });
const metrics = createMetrics({ version: process.env.npm_package_version ?? "0.1.0" });

const worker = await startWorker(config, log, metrics).catch((err: unknown) => {
  log.fatal({ err }, "worker failed to start");
  process.exit(1);
});

let stopping = false;
const shutdown = async (signal: string, code: number) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  const hardStop = setTimeout(() => {
    log.error("shutdown took too long; exiting");
    process.exit(1);
  }, config.worker.shutdownTimeoutMs + HARD_STOP_GRACE_MS);
  hardStop.unref();
  await worker.stop();
  process.exit(code);
};
process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
// Re-read the route file now (it is also polled every ROUTES_POLL_MS); a bad file is refused and logged.
process.on("SIGHUP", () => worker.reloadRoutes());
process.on("SIGINT", () => void shutdown("SIGINT", 0));
void worker.fatal.then((err) => {
  log.fatal({ err }, "kafka consumer gave up");
  void shutdown("fatal", 1);
});
