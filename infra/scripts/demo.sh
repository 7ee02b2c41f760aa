#!/usr/bin/env bash
# The main job (`pnpm demo`): install, bring up the local stack, then run a worker against the fake
# OpenAI API (or the real one: export OPENAI_API_KEY and leave OPENAI_BASE_URL unset), publish sample
# requests and print the replies. Extra arguments go to `chatq demo` (e.g. --exit).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x node_modules/.bin/node ] || pnpm install --frozen-lockfile --reporter=append-only
bash infra/local/stack-up.sh
exec node services/cli/src/main.ts demo "$@"
