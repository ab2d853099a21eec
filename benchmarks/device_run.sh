#!/usr/bin/env bash
# Every accelerator check and benchmark in one call, for a machine with one CUDA GPU (about 11 minutes):
#   bash benchmarks/device_run.sh [OUT_DIR]        # logs to OUT_DIR (default $OUT or runs/device), one file per step
# It runs with the machine's own python3, offline (benchmarks/device_setup.sh): carry wheels/device with the tree.
# Each step has its own time limit, so one slow step cannot eat the others; a failed step is reported, not fatal.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source benchmarks/device_setup.sh
LOG_DIR="${1:-${OUT:-runs/device}}"; mkdir -p "$LOG_DIR"
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s): $*"
  local start=$SECONDS
  timeout "$limit" "$@" >"$LOG_DIR/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$LOG_DIR/$name.log"
  echo "== $name: rc=$rc in $((SECONDS - start))s"
}
nvidia-smi -L 2>&1 | tee "$LOG_DIR/gpu.txt"
"$SYNVID_PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$LOG_DIR/gpu.txt"
step device_checks 120 "$SYNVID_PYTHON" benchmarks/device_checks.py --device cuda
step render 90 "$SYNVID_PYTHON" benchmarks/bench_render.py --device cuda --clips 20 --repeats 2 --batch 256 \
  --videos 2 --textured ""
step textures 60 "$SYNVID_PYTHON" benchmarks/bench_textures.py --device cuda --size 256 --num 256 \
  --sources statistical stylegan --batches 8 32 64
step pretrain_device 150 "$SYNVID_PYTHON" benchmarks/bench_pretrain.py --batch 64 --compile \
  --dataset moving_circles --render-device device --steps 30
step pretrain_loader 90 "$SYNVID_PYTHON" benchmarks/bench_pretrain.py --batch 64 --dataset moving_circles \
  --render-device loader --workers "$(nproc)" --steps 20
# V-JEPA: one step next to VideoMAE's above (no --compile: the context length changes every step)
step pretrain_vjepa 120 "$SYNVID_PYTHON" benchmarks/bench_pretrain.py --batch 64 --objective vjepa --steps 20
step finetune 90 "$SYNVID_PYTHON" benchmarks/bench_finetune.py --batch 32 --infer-batch 64 --compile --device cuda
step torchrun_smoke 60 torchrun --standalone --nproc_per_node 1 pretrain/3_2_pretrain.py --profile smoke \
  --dataset moving_circles --out "$LOG_DIR/torchrun_smoke" --no-progress
# 1-GPU fine-tuning + evaluation at the paper profile (ViT-B, 16x224^2, 5x3 views, 8 workers):
# peak host memory (process + loader workers) and device memory, views/s
step eval_memory 150 "$SYNVID_PYTHON" benchmarks/bench_evaluate.py --device cuda --workers 8 --videos 32 \
  --train-steps 10 --train-batch 32
