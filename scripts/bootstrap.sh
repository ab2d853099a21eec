# Sourced by run_all.sh and tests/run.sh: make sure a Python environment with synvid installed is active.
#
# Uses the active environment when it already imports synvid's dependencies (a conda env or venv you
# prepared); otherwise creates or reuses .venv in the repository root and installs into it.
# The torch/torchvision pins are environment.yml's (one list for conda and for this set-up).
# SYNVID_TORCH_SPEC overrides them, e.g. for another CUDA build:
#   SYNVID_TORCH_SPEC="torch==2.5.1 torchvision==0.20.1" bash tests/run.sh
# SYNVID_EXTRAS selects the optional dependency groups (default: test).
set -euo pipefail
SYNVID_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYNVID_TORCH_SPEC="${SYNVID_TORCH_SPEC:-$(sed -nE 's/^ *- *(torch(vision)?==[^ #]+).*/\1/p' "$SYNVID_ROOT/environment.yml" | xargs)}"
[ -n "$SYNVID_TORCH_SPEC" ] || { echo "[bootstrap] no torch==/torchvision== pin in environment.yml" >&2; exit 1; }
SYNVID_EXTRAS="${SYNVID_EXTRAS:-test}"

_synvid_ready() {
  "$1" - <<'PY' 2>/dev/null
import importlib, sys
for name in ("torch", "torchvision", "numpy", "PIL", "scipy", "decord", "av", "matplotlib", "tabulate", "tqdm",
             "numba", "skimage", "pytorch_fid", "safetensors", "imageio_ffmpeg", "rarfile", "pytest",
             "pytest_timeout", "synvid"):
    importlib.import_module(name)
import synvid, pathlib, os
# synvid must be the checkout we run from (an editable install of another clone does not count).
sys.exit(0 if pathlib.Path(synvid.__file__).resolve().parent == pathlib.Path(os.environ["SYNVID_ROOT"], "synvid") else 1)
PY
}

export SYNVID_ROOT
if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && _synvid_ready python; then
  SYNVID_PYTHON="$(command -v python)"
else
  if [ ! -x "$SYNVID_ROOT/.venv/bin/python" ]; then
    echo "[bootstrap] creating $SYNVID_ROOT/.venv" >&2
    python3 -m venv "$SYNVID_ROOT/.venv"
  fi
  SYNVID_PYTHON="$SYNVID_ROOT/.venv/bin/python"
  if ! _synvid_ready "$SYNVID_PYTHON"; then
    echo "[bootstrap] installing $SYNVID_TORCH_SPEC and synvid[$SYNVID_EXTRAS] into .venv (first run only)" >&2
    # shellcheck disable=SC2086  # the spec is a list of requirements
    "$SYNVID_PYTHON" -m pip install -q --disable-pip-version-check $SYNVID_TORCH_SPEC 2>&1 | grep -v '^WARNING: Location' >&2 || true
    "$SYNVID_PYTHON" -m pip install -q --disable-pip-version-check -e "$SYNVID_ROOT[$SYNVID_EXTRAS]" 2>&1 \
      | grep -v '^WARNING: Location' >&2 || true
    _synvid_ready "$SYNVID_PYTHON" || { echo "[bootstrap] installation failed: see the pip output above" >&2; exit 1; }
  fi
fi
export SYNVID_PYTHON
export PYTHONUNBUFFERED=1
