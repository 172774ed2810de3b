#!/usr/bin/env bash
# The project's own Python environment, from uv.lock, whatever pip the machine ships.
#
#   bash deploy/bootstrap.sh            .venv with newsflow and its runtime dependencies
#   bash deploy/bootstrap.sh --dev      the same plus the dev extra (pytest, deptry, ...)
#   bash deploy/bootstrap.sh --lock     refresh uv.lock (and deploy/requirements.lock) to the
#                                       newest versions pyproject.toml allows
#
# Environment:
#   NEWSFLOW_PYTHON  the interpreter to build the venv from (default: python3; 3.11+)
#   NEWSFLOW_VENV    where the venv goes (default: .venv in the checkout)
#   NEWSFLOW_FRESH=1 delete that venv first (CI does: nothing carried over from a previous run)
#
# uv comes from the package index into .tools/ with the system pip: one package without
# dependencies, so an old pip's resolver has nothing to get wrong. Everything else is installed
# by uv, exactly at the versions in uv.lock (--locked fails if pyproject.toml and the lock differ).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
PYTHON="${NEWSFLOW_PYTHON:-python3}"
VENV="${NEWSFLOW_VENV:-.venv}"
TOOLS=.tools

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v "$PYTHON" > /dev/null || die "no $PYTHON on PATH: install Python 3.11+ or set NEWSFLOW_PYTHON"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$PYTHON is $("$PYTHON" -V 2>&1); newsflow needs Python 3.11+ (set NEWSFLOW_PYTHON)"

UV="$TOOLS/bin/uv"
if ! [ -x "$UV" ] || [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION into $TOOLS/"
  rm -rf "$TOOLS"
  "$PYTHON" -m venv "$TOOLS" || die "could not create $TOOLS with '$PYTHON -m venv' (on Debian: apt-get install python3-venv)"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: "uv==$UV_VERSION" \
    || die "could not install uv $UV_VERSION from the package index"
fi

if [ "${1:-}" = "--lock" ]; then
  "$UV" lock --upgrade --python "$PYTHON"
  # The same pins with hashes for installs without uv (deploy/Dockerfile: pip --require-hashes).
  "$UV" export --locked --quiet --no-dev --no-emit-project --format requirements-txt \
    --output-file deploy/requirements.lock
  exit 0
fi

EXTRAS=()
[ "${1:-}" = "--dev" ] && EXTRAS=(--extra dev)
[ "${NEWSFLOW_FRESH:-0}" = "1" ] && rm -rf "$VENV"

say "syncing $VENV from uv.lock ($("$PYTHON" -V 2>&1))"
UV_PROJECT_ENVIRONMENT="$VENV" "$UV" sync --locked --quiet --python "$PYTHON" "${EXTRAS[@]}" \
  || die "could not install the locked dependencies into $VENV (see the lines above)"
