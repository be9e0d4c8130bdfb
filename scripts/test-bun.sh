#!/usr/bin/env bash
# Runs the Bun suites (test/bun/*.bun.ts) under Bun's own test runner, with the test servers of
# scripts/test-services.sh (a missing server fails the run, as under npm test).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-bun.sh bash scripts/test-services.sh bun test --timeout 60000 ./test/bun/runtime.bun.ts "$@"
