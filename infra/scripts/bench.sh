#!/usr/bin/env bash
# `pnpm bench <name>`: benchmarks print figures and never fail on timing. BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="${1:-}"
shift || true
node_run() { node --disable-warning=TimeoutNegativeWarning "$@"; }
case "$name" in
  worker)    bash infra/local/stack-up.sh >/dev/null; node_run test/bench/worker-load.ts --preset throughput "$@" ;;
  ratelimit)
    bash infra/local/stack-up.sh >/dev/null
    node_run test/bench/worker-load.ts --preset small-budget "$@"
    node_run test/bench/worker-load.ts --preset small-tpm "$@"
    node_run test/bench/worker-load.ts --preset high-volume "$@" ;;
  scale-out) bash infra/local/stack-up.sh >/dev/null; node_run test/bench/scale-out.ts "$@" ;;
  limiter)   pnpm --filter @chatq/ratelimit bench "$@" ;;
  store)     pnpm --filter @chatq/store bench "$@" ;;
  fake)      pnpm --filter @chatq/fake-openai bench "$@" ;;
  *)
    echo "usage: pnpm bench worker|ratelimit|scale-out|limiter|store|fake [options]" >&2
    echo "  worker     one worker, 50 ms API latency, no rate limit: answered requests/s" >&2
    echo "  ratelimit  3 workers on a small shared budget (RPM use, 429 share), then the high-volume tier" >&2
    echo "  scale-out  1 worker + backlog over a small shared budget, 2 join: budget use per 10 s, time to first call" >&2
    echo "  limiter    the rate limiter alone: acquisitions/s and added latency, vs bottleneck" >&2
    echo "  store      Postgres writes: outcomes/s per batch size" >&2
    echo "  fake       the fake OpenAI server's own ceiling" >&2
    exit 2 ;;
esac
