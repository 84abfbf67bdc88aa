#!/usr/bin/env bash
# CI for the Python package: installs what is missing, builds and installs the package with
# the documented command (pip install ./bindings-python), type-checks, and runs pytest against
# the server the package carries (push.Server in the test process; the wheel test builds the
# wheel with scripts/package and runs its push-server console script). Idempotent. Exits
# non-zero on any failure.
#
#   PUSH_PY_VENV      the virtualenv to use (default: bindings-python/.venv)
#   PUSH_WHEEL        a wheel for tests/test_wheel.py to install instead of building one
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || dirname "$HERE")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
VENV="${PUSH_PY_VENV:-$HERE/.venv}"
log() { printf '== python: %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is needed to build the extension" >&2; exit 1; }
# tests/test_wheel.py long-polls with curl, as a user would.
command -v curl >/dev/null || "$REPO/scripts/apt-install" curl

# Python 3.9+ with venv and pip: the image's python3 has them; Debian's otherwise.
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    log "installing python3 python3-venv python3-pip (apt)"
    "$REPO/scripts/apt-install" python3 python3-venv python3-pip
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements-dev.txt"

log "pip install ./bindings-python"
(cd "$REPO" && "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings-python)

cd "$HERE"
log "mypy --strict (package, stub vs. built module, examples, tests)"
"$PY" -m mypy --strict python/push examples tests
"$PY" -m mypy.stubtest push

log "pytest"
"$PY" -m pytest -q -p no:cacheprovider tests "$@"
