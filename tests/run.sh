#!/usr/bin/env bash
# The whole test suite on a fresh machine: build the project's own venv from uv.lock (with the
# dev extra), check that the declared dependencies match the imports (deptry), start the real
# Kafka broker and Elasticsearch node (deploy/local) and fetch S3Proxy, run pytest, stop the services even when a
# test fails. NEWSFLOW_PYTHON / NEWSFLOW_VENV / NEWSFLOW_FRESH choose the interpreter and venv
# (deploy/bootstrap.sh); NEWSFLOW_SKIP_SERVICES=1 runs against services already up.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/bootstrap.sh --dev
VENV="${NEWSFLOW_VENV:-.venv}"
PY="$VENV/bin/python"

echo "[tests] dependency check (deptry): every import declared, every declared package used" >&2
"$VENV/bin/deptry" .

if [ "${NEWSFLOW_SKIP_SERVICES:-0}" != "1" ]; then
  trap 'bash deploy/local/services.sh down || true' EXIT
  FRESH=1 bash deploy/local/services.sh up
  bash deploy/local/services.sh s3proxy-jar > /dev/null  # the archive.s3 tests' S3 server (tests/support/s3proxy.py)
  export NEWSFLOW_REQUIRE_SERVICES=1
fi

"$PY" -m pytest -q -p no:cacheprovider "$@"
