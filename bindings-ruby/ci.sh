#!/usr/bin/env bash
# CI for the Ruby gem push-rs: installs what is missing (Debian), builds the extension, checks
# the RBS signatures, runs the minitest suite. The suite's servers are push-server in-process
# (Push::Server) and the gem's own exe/push-server; test_gem.rb also packages both gems, installs
# the platform gem with no cargo/rustc on PATH and the source gem (which compiles). Exits non-zero
# on any failure.
#
# Env: CARGO_TARGET_DIR (default <repo>/target), PUSH_SKIP_GEM_TEST=1 to skip the gem tests.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/.." && pwd))"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Unconditional: apt-get is idempotent, and a check that guesses from a file glob skips needed
# installs (the image's libclang-cpp14 matches libclang*.so*, but bindgen needs libclang-dev).
# Debian's ruby ships rbs and bundler (rbs3.1, bundle3.1); curl: the gem test long-polls with it.
# ruby-rack (rackup) and ruby-railties, ruby-actionpack, ruby-actionview (Rails 6.1, named each, no database):
# the Turbo/htmx examples and the Railtie's tests run against them (Rails is not a gem dependency).
packages=(ruby ruby-dev libclang-dev make ruby-minitest ruby-webrick curl ruby-rack ruby-railties ruby-actionpack ruby-actionview)
echo "ci.sh: apt-get install ${packages[*]}"
"$ROOT/scripts/apt-install" "${packages[@]}"

echo "ci.sh: building the extension (cargo build --release -p push-ruby)"
(cd "$ROOT" && cargo build --release -p push-ruby --quiet)
so="$CARGO_TARGET_DIR/release/libpush_ruby.so"
# A new file (not rewritten in place): a Ruby still running with the old one keeps its mapping.
cp "$so" "$HERE/lib/push/push_ext.so.tmp" && mv -f "$HERE/lib/push/push_ext.so.tmp" "$HERE/lib/push/push_ext.so"

cd "$HERE"
rbs=$(command -v rbs || command -v "rbs$(ruby -e 'print RUBY_VERSION[/\A\d+\.\d+/]')" || true)
if [ -n "$rbs" ]; then
  echo "ci.sh: $rbs validate (sig/)"
  "$rbs" -r uri -I sig validate >/dev/null
else
  echo "ci.sh: rbs not found; sig/ not validated" >&2
fi

echo "ci.sh: running the minitest suite"
exec ruby -Itest -e 'Dir.glob("test/test_*.rb").sort.each { |f| require File.expand_path(f) }'
