#!/usr/bin/env bash
# Browser client tests: push.js in a real headless Chromium against real push-server processes.
# Idempotent. Installs Chromium (Debian package, unconditionally: apt-get is idempotent) and the npm
# test dependencies (npm ci), then runs `node --test`. Does not build the server: it uses
# $PUSH_SERVER_BIN, else <repo>/target/release/push-server.
set -euo pipefail
cd "$(dirname "$0")"

echo "client-js/ci.sh: apt-get install chromium libnss3-tools openssl"
# certutil (libnss3-tools) trusts the HTTPS tests' CA in the browser's NSS database; openssl
# makes that CA (scripts/test-certs).
../scripts/apt-install chromium libnss3-tools openssl

if [ ! -d node_modules/playwright-core ] || ! npm ls --silent >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
fi

server="${PUSH_SERVER_BIN:-$(cd .. && pwd)/target/release/push-server}"
if [ ! -x "$server" ]; then
  echo "client-js/ci.sh: no push-server at $server (cargo build --release -p push-server, or set PUSH_SERVER_BIN)" >&2
  exit 1
fi

# One test file at a time: each drives a browser and its own servers on a 2-core machine.
exec node --test --test-concurrency=1 test/*.test.js
