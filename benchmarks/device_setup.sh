# Sourced by benchmarks/device_run.sh: make the accelerator machine's own python3 run synvid, offline.
# That machine reaches no package registry and its python3 lacks some of synvid's runtime packages (decord, av at
# least), so a new venv with torch is not an option: the missing wheels travel with the tree in wheels/device/
# (git-ignored; fill it here with `bash benchmarks/device_setup.sh --download`), are installed --no-index
# --no-deps only where an import fails, and synvid itself is installed --no-deps (PYTHONPATH if pip cannot).
set -uo pipefail
SYNVID_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVICE_WHEELS="${DEVICE_WHEELS:-$SYNVID_ROOT/wheels/device}"
# import name:distribution, for every runtime package the checks need; the first six are small enough to carry
# (decord + av ≈ 48 MB of the 64 MiB a device call carries), the rest must already be on that machine
# (imageio-ffmpeg's 165 MB FFmpeg binary cannot be carried; only the UCF101-P codec corruptions need it)
CARRIED="decord:decord av:av tabulate:tabulate safetensors:safetensors pytorch_fid:pytorch-fid rarfile:rarfile"
EXPECTED="torch:torch torchvision:torchvision numpy:numpy PIL:pillow scipy:scipy matplotlib:matplotlib tqdm:tqdm \
numba:numba skimage:scikit-image imageio_ffmpeg:imageio-ffmpeg"

if [ "${1:-}" = "--help" ]; then
  echo "usage: bash benchmarks/device_setup.sh --download   (fill wheels/device/ where PyPI is reachable)"
  echo "       source benchmarks/device_setup.sh             (device_run.sh: set up the machine's python3 offline)"
  return 0 2>/dev/null || exit 0
fi
if [ "${1:-}" = "--download" ]; then     # on a machine with PyPI: cp312 manylinux wheels, no dependencies
  mkdir -p "$DEVICE_WHEELS"
  python3 -m pip download --python-version 3.12 --only-binary=:all: --no-deps -d "$DEVICE_WHEELS" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    $(for pair in $CARRIED; do echo "${pair#*:}"; done)
  du -sh "$DEVICE_WHEELS"
  return 0 2>/dev/null || exit 0
fi

SYNVID_PYTHON="${SYNVID_PYTHON:-python3}"
_missing() {  # the import names of "$@" (name:dist pairs) that $SYNVID_PYTHON cannot import
  for pair in "$@"; do "$SYNVID_PYTHON" -c "import ${pair%%:*}" 2>/dev/null || echo "$pair"; done
}
for pair in $(_missing $CARRIED); do
  echo "[device] installing ${pair#*:} from $DEVICE_WHEELS (offline, no dependencies)" >&2
  "$SYNVID_PYTHON" -m pip install -q --no-index --no-deps --find-links "$DEVICE_WHEELS" "${pair#*:}" >&2 \
    || echo "[device] could not install ${pair#*:}: carry wheels/device (bash benchmarks/device_setup.sh --download)" >&2
done
if ! "$SYNVID_PYTHON" -c "import synvid, pathlib, sys; sys.exit(pathlib.Path(synvid.__file__).parent != \
pathlib.Path('$SYNVID_ROOT/synvid'))" 2>/dev/null; then
  "$SYNVID_PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation -e "$SYNVID_ROOT" >&2 2>/dev/null \
    || export PYTHONPATH="$SYNVID_ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
DEVICE_MISSING="$(_missing $CARRIED $EXPECTED synvid:synvid | xargs)"
[ -z "$DEVICE_MISSING" ] || echo "[device] still missing (steps that need them will fail): $DEVICE_MISSING" >&2
export SYNVID_PYTHON PYTHONUNBUFFERED=1
