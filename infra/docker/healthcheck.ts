// The image's HEALTHCHECK: the slim Node image has no curl, so Node itself probes the running service.
// Which endpoint depends on the service the image was built for (SERVICE, set from the build arg); the port
// comes from the same variable the service listens on, so moving the port never breaks the probe.
// HEALTHCHECK_URL overrides the choice, e.g. for a service added later. Exit 0 = healthy, 1 = unhealthy.
const env = process.env;
const PROBE_TIMEOUT_MS = 3_000;

function probeUrl(): string | undefined {
  if (env.HEALTHCHECK_URL) return env.HEALTHCHECK_URL;
  switch (env.SERVICE) {
    case "worker":
      // Liveness only (the event loop answers). /readyz fails while Kafka or the API key is down, and an
      // orchestrator that replaces unhealthy containers would then replace workers a restart cannot fix.
      return `http://127.0.0.1:${env.METRICS_PORT || "9464"}/healthz`;
    case "gateway":
      return `http://127.0.0.1:${env.GATEWAY_PORT || "8080"}/healthz`;
    case "fake-openai":
      return `http://127.0.0.1:${env.FAKE_OPENAI_PORT || "8089"}/_fake/health`;
    default:
      return undefined;
  }
}

const url = probeUrl();
if (url === undefined) {
  console.error(`no health probe for SERVICE=${env.SERVICE ?? "(unset)"}; set HEALTHCHECK_URL`);
  process.exit(1);
}
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!res.ok) {
    console.error(`${url}: HTTP ${res.status}`);
    process.exit(1);
  }
} catch (err) {
  // fetch() reports "fetch failed"; the reason (ECONNREFUSED, timeout…) is in its cause.
  const reason = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  console.error(`${url}: ${reason instanceof Error ? reason.message : String(reason)}`);
  process.exit(1);
}
// Explicitly: an idle keep-alive socket must not hold the probe open past its answer.
process.exit(0);
