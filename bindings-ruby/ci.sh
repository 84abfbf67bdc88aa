#!/usr/bin/env bash
# CI for the Ruby gem push-rs: installs what is missing (Debian), builds the extension, runs the
# minitest suite against real push-server processes (the suite also builds and installs the gem
# into a temporary GEM_HOME). Exits non-zero on any failure.
#
# Env: PUSH_SERVER_BIN (default <repo>/target/release/push-server; this script does not build it),
#      CARGO_TARGET_DIR (default <repo>/target), PUSH_SKIP_GEM_TEST=1 to skip the gem install test.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/.." && pwd))"
export PUSH_SERVER_BIN="${PUSH_SERVER_BIN:-$ROOT/target/release/push-server}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Unconditional: apt-get is idempotent, and a check that guesses from a file glob skips needed
# installs (the image's libclang-cpp14 matches libclang*.so*, but bindgen needs libclang-dev).
echo "ci.sh: apt-get install ruby ruby-dev libclang-dev make ruby-minitest ruby-webrick"
"$ROOT/scripts/apt-install" ruby ruby-dev libclang-dev make ruby-minitest ruby-webrick

if [ ! -x "$PUSH_SERVER_BIN" ]; then
  echo "ci.sh: push-server not found at $PUSH_SERVER_BIN (build it: cargo build --release -p push-server)" >&2
  exit 1
fi

echo "ci.sh: building the extension (cargo build --release -p push-ruby)"
(cd "$ROOT" && cargo build --release -p push-ruby --quiet)
so="$CARGO_TARGET_DIR/release/libpush_ruby.so"
cp "$so" "$HERE/lib/push/push_ext.so"

cd "$HERE"
echo "ci.sh: running the minitest suite"
exec ruby -Itest -e 'Dir.glob("test/test_*.rb").sort.each { |f| require File.expand_path(f) }'
