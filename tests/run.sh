#!/usr/bin/env bash
# The test suite: `bash tests/run.sh [--all] [pytest args]`. Without --all it runs the fast set (pytest -m "not slow":
# every test but those marked slow, i.e. the subprocess, torchrun, SLURM and end-to-end script tests); --all runs
# every test (CI: .ci/run). Sets up the environment on first use (scripts/bootstrap.sh).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/bootstrap.sh"
cd "$SYNVID_ROOT"
select=(-m "not slow")
args=()
for arg in "$@"; do
  if [ "$arg" = --all ]; then select=(); else args+=("$arg"); fi
done
exec "$SYNVID_PYTHON" -m pytest -q ${select[@]+"${select[@]}"} ${args[@]+"${args[@]}"}
