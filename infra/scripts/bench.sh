#!/usr/bin/env bash
# `pnpm bench <name>`: benchmarks print figures and never fail on timing. BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="${1:-}"
shift || true
node_run() { node "$@"; }
case "$name" in
  worker)    bash infra/local/stack-up.sh >/dev/null; node_run test/bench/worker-load.ts --preset throughput "$@" ;;
  ratelimit)
    bash infra/local/stack-up.sh >/dev/null
    node_run test/bench/worker-load.ts --preset small-budget "$@"
    node_run test/bench/worker-load.ts --preset small-tpm "$@"
    node_run test/bench/worker-load.ts --preset high-volume "$@" ;;
  codecs)    bash infra/local/stack-up.sh >/dev/null; node_run test/bench/codecs.ts "$@" ;;
  kafka-clients)
    bash infra/local/stack-up.sh >/dev/null
    node_run packages/kafka/bench/codec-candidates.ts
    node_run packages/kafka/bench/producer-codecs.ts
    node_run packages/kafka/bench/client-choice.ts ;;
  outage)    bash infra/local/stack-up.sh >/dev/null; node_run test/bench/outage-recovery.ts "$@" ;;
  scale-out) bash infra/local/stack-up.sh >/dev/null; node_run test/bench/scale-out.ts "$@" ;;
  gateway)   bash infra/local/stack-up.sh >/dev/null; node_run test/bench/gateway-overhead.ts "$@" ;;
  peers)     bash infra/local/stack-up.sh >/dev/null; node_run test/bench/peers.ts "$@" ;;
  routing)
    node_run packages/routing/bench/decision.ts
    bash infra/local/stack-up.sh >/dev/null
    node_run test/bench/worker-load.ts --preset throughput "$@"
    node_run test/bench/worker-load.ts --preset routed "$@" ;;
  protection)
    # Encryption at rest off vs on at the high-volume preset, then reencrypt's rows/s over what that stored.
    bash infra/local/stack-up.sh >/dev/null
    node_run test/bench/worker-load.ts --preset high-volume --encryption off "$@"
    node_run test/bench/worker-load.ts --preset high-volume --encryption on "$@"
    node_run test/bench/worker-load.ts --preset throughput --encryption off "$@"
    node_run test/bench/worker-load.ts --preset throughput --encryption on "$@" ;;
  guardrails)
    node_run packages/guardrails/bench/pipeline.ts
    node_run packages/guardrails/bench/language-detectors.ts
    bash infra/local/stack-up.sh >/dev/null
    node_run test/bench/worker-load.ts --preset guardrails-off "$@"
    node_run test/bench/worker-load.ts --preset guardrails-on "$@" ;;
  limiter)   pnpm --filter @chatq/ratelimit bench "$@" ;;
  store)     pnpm --filter @chatq/store bench "$@" ;;
  fake)      pnpm --filter @chatq/fake-openai bench "$@" ;;
  retrieval) bash infra/local/stack-up.sh >/dev/null; node_run test/bench/retrieval.ts "$@" ;;
  batch)     bash infra/local/stack-up.sh >/dev/null; node_run test/bench/batch.ts "$@" ;;
  *)
    echo "usage: pnpm bench worker|ratelimit|scale-out|codecs|kafka-clients|outage|gateway|peers|routing|guardrails|limiter|store|fake|retrieval|batch [options]" >&2
    echo "  worker     one worker, 50 ms API latency, no rate limit: answered requests/s" >&2
    echo "  ratelimit  3 workers on a small shared budget (RPM use, 429 share), then the high-volume tier" >&2
    echo "  scale-out  1 worker + backlog over a small shared budget, 2 join: budget use per 10 s, time to first call" >&2
    echo "  codecs     one worker reading a backlog in each Kafka codec vs uncompressed (fake API at 0 ms)" >&2
    echo "  kafka-clients  codec libraries; producer codecs for replies; kafkajs vs @platformatic/kafka" >&2
    echo "  outage     the API down (5xx, then a rejected key) for 10 s under load: time back to full rate" >&2
    echo "  gateway    HTTP gateway vs straight to Kafka at 100 and 500 clients: added p50/p99, req/s per core" >&2
    echo "  peers      chatq beside a kafkajs eachMessage and an eachBatch + p-limit consumer: req/s, budget, latency, order, duplicates" >&2
    echo "  routing    routing decision cost (µs), then worker throughput: plain model vs a 3-deployment route" >&2
    echo "  guardrails pipeline CPU µs and added latency; language detectors; worker throughput, guardrails off vs on" >&2
    echo "  limiter    the rate limiter alone: acquisitions/s and added latency, vs bottleneck" >&2
    echo "  store      Postgres writes: outcomes/s per batch size" >&2
    echo "  fake       the fake OpenAI server's own ceiling" >&2
    echo "  batch      cost per 1k sync vs Batch API; replay throughput on an idle budget; interactive p99 with/without a replay" >&2
    echo "  retrieval  embedding ingestion through the limiter; search p50/p99 at 10k and 100k chunks (embedded store)" >&2
    exit 2 ;;
esac
