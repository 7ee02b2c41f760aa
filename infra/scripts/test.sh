#!/usr/bin/env bash
# The whole test run, as CI and a developer on a fresh machine run it (`pnpm test`):
# install (Node 24 comes with the dependencies), bring up Kafka/Postgres/Redis, install promtool,
# then typecheck, lint, and every test: unit and integration against the real services.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
pnpm install --frozen-lockfile --reporter=append-only
# From here on `node` is the Node 24 that pnpm installed into node_modules/.bin (first on PATH in pnpm scripts).
echo "node $(node --version) at $(command -v node)"
case "$(node --version)" in v2[4-9].*|v[3-9][0-9].*) ;; *) echo "expected Node 24+, got $(node --version)" >&2; exit 1 ;; esac

step "local stack (Kafka, PostgreSQL, Redis)"
bash infra/local/stack-up.sh

step "Prometheus tools (promtool)"
bash infra/prometheus/ensure-prometheus.sh

step "typecheck"
pnpm run typecheck

step "lint"
pnpm run lint

step "tests (unit, then integration against the real services)"
pnpm exec vitest run --project unit
pnpm exec vitest run --project integration
