import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { DEFAULT_CHECK_TIMEOUT_MS, evaluateReadiness, type ReadinessCheck } from "./readiness.ts";

export interface TelemetryServerOptions {
  /** 0 picks a free port (tests); the chosen one is returned. */
  port: number;
  /** Default 0.0.0.0: Prometheus scrapes from another container. */
  host?: string;
  registry: Registry;
  /** Named readiness checks, e.g. { kafka, postgres, auth }; /readyz is 200 only when all are ok. */
  readiness: Record<string, ReadinessCheck>;
  /** Per-check bound; default 2 s. */
  checkTimeoutMs?: number;
}

export interface TelemetryServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics, /healthz and /readyz on its own port, apart from any business traffic. */
export async function startTelemetryServer(opts: TelemetryServerOptions): Promise<TelemetryServer> {
  const checkTimeoutMs = opts.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") {
      return send(res, 404, "application/json", JSON.stringify({ error: "not_found" }));
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "application/json", JSON.stringify({ error: "method_not_allowed" }));
    }
    if (path === "/metrics") {
      return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
    }
    if (path === "/healthz") {
      // Liveness only: answering at all means the event loop runs. Dependencies belong in /readyz,
      // otherwise an orchestrator restarts healthy workers during a Kafka or Postgres outage.
      return send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
    }
    const report = await evaluateReadiness(opts.readiness, checkTimeoutMs);
    return send(res, report.status === "ready" ? 200 : 503, "application/json", JSON.stringify(report));
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const detail = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: detail }));
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Prometheus keeps scrape connections alive; without this close() waits for them to idle out.
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
