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

need=()
command -v ruby >/dev/null 2>&1 || need+=(ruby)
[ -e "$(ruby -e 'print RbConfig::CONFIG["rubyhdrdir"]' 2>/dev/null)/ruby.h" ] || need+=(ruby-dev)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "ci.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
ruby -e 'require "minitest"; require "webrick"' 2>/dev/null || {
  echo "ci.sh: installing ruby-minitest ruby-webrick"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq ruby-minitest ruby-webrick >/dev/null
}

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
