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

step "Chromium (the chat page's browser test)"
bash infra/scripts/ensure-chromium.sh

step "typecheck"
pnpm run typecheck

step "lint"
pnpm run lint

step "tests (unit, then integration against the real services)"
results="$(mktemp -d)"
status=0
pnpm exec vitest run --project unit --reporter=default --reporter=json --outputFile.json="$results/unit.json" || status=$?
pnpm exec vitest run --project integration --reporter=default --reporter=json --outputFile.json="$results/integration.json" || status=$?
# One plain closing line for whoever reads the log (CI included): every test of both runs counted.
node -e '
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    try {
      const r = JSON.parse(require("node:fs").readFileSync(f, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    } catch { failed += 1; console.error(`no results in ${f}`); }
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results/unit.json" "$results/integration.json"
exit "$status"
