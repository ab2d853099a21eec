#!/usr/bin/env bash
# The test suite: `bash tests/run.sh [pytest args]`. Sets up the environment on first use (scripts/bootstrap.sh).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/bootstrap.sh"
cd "$SYNVID_ROOT"
exec "$SYNVID_PYTHON" -m pytest -q "$@"
