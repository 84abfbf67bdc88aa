#!/usr/bin/env bash
# CI for the Node package push-rs: installs what is missing, builds the addon, type-checks
# index.d.ts with `tsc --strict`, and runs `node --test`. The tests' servers are the addon's own
# (Server.start, in-process; bin/push-server.js), so no separate push-server binary is needed;
# the packaging test reuses the addon built here. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel 2>/dev/null || (cd .. && pwd))
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- tools -----------------------------------------------------------------------------------
say "apt-get install nodejs (the image's Node 20 satisfies it)"
"$ROOT/scripts/apt-install" nodejs
command -v npm >/dev/null || "$ROOT/scripts/apt-install" npm
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
if [ "$NODE_MAJOR" -lt 18 ]; then
  echo "push-rs needs Node >= 18 (found $(node --version))" >&2
  exit 1
fi
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain >= 1.88 (napi-rs 3 needs it)" >&2
  exit 1
fi

# --- dependencies (pinned by package-lock.json) -------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- build, type-check ------------------------------------------------------------------------
say "building the addon (napi build --release)"
npm run --silent build
say "type-checking index.d.ts against the examples (tsc --strict)"
npx --no-install tsc -p tsconfig.json

# --- tests ------------------------------------------------------------------------------------
say "node --test"
flags=(--test --test-reporter=spec)
# One file at a time (each starts its own servers): the event-loop lag bound stays meaningful.
if node --test-concurrency=1 -e '' 2>/dev/null; then flags+=(--test-concurrency=1); fi
timeout=()
if node --test-timeout=1 -e '' 2>/dev/null; then timeout=(--test-timeout=180000); fi
files=()
for f in __test__/*.test.mjs; do [ "$f" = __test__/packaging.test.mjs ] || files+=("$f"); done
status=0
node "${flags[@]}" "${timeout[@]}" "${files[@]}" || status=$?
# The packaging test builds the addon for glibc 2.17 (from a clean clone: the dependency tree in
# the dist profile, minutes): --test-timeout bounds a whole file, so it gets a bound of its own.
[ ${#timeout[@]} -gt 0 ] && timeout=(--test-timeout=1800000)
node "${flags[@]}" "${timeout[@]}" __test__/packaging.test.mjs || status=$?
exit $status
