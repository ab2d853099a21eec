#!/usr/bin/env bash
# Reproduce the paper section by section:
#   data (§3.1) -> pretrain (§3.2) -> finetune + linprobe (§4.1, §4.3) -> ucf101p (§4.2) -> analysis (§5) -> tables
#
#   bash run_all.sh [--profile paper|authors|mini|cpu|smoke] [--ablations] [--vit-l] [--seeds K | --seed-list A,B,...]
#                   [--seed-pretraining]
#                   [--objective videomae|vjepa] [--objectives videomae,vjepa] [--only STAGE] [--from STAGE] [--dry-run]
#   bash run_all.sh ... --slurm [--partition P] [--account A] [--qos Q] [--time HH:MM:SS]
#                       [--nodes-per-pretrain N] [--gpus-per-node G] [--wait]
#
# --slurm submits every run as a SLURM job with per-run dependencies (synvid/slurm.py, docs/cluster.md);
# batch scripts and logs go to runs/<profile>/slurm/. With --dry-run it prints them and the dependency graph.
# --ablations adds the ablation sets of Tables 2, 3, 9, 10, 11 and 12 (pre-training + UCF101 fine-tuning each).
# --vit-l adds Figure 2's ViT-L series (ViT-L pre-training and UCF101 fine-tuning, batch halved, §9.3).
# --seeds K repeats fine-tuning and probing over seeds 0..K-1 (and pre-training with --seed-pretraining), --seed-list
# 3,4,5 over the seeds named; the tables show mean ± 95% t-interval and n over every finished seed.
# Report: results/<profile>/REPORT.md. --profile cpu is the miniature reproduction on a laptop (docs/miniature.md).
# --objective(s) (default videomae, the paper's): pre-train the progression with each objective and feed the same
# fine-tuning, probing and UCF101-P stages; V-JEPA runs live in <stage>_vjepa/ folders (tables: one column group each).
# Optional: K400_ROOT adds Table 4; VIDEOMAE_UCF101_CKPT / VIDEOMAE_K400_CKPT (official VideoMAE checkpoints)
# add the "UCF101" rows of Table 1 / Figure 3 and the "Kinetics-400" row of Table 4.
#
# A stage is skipped when runs/<profile>/stages/<stage>[.ablations][.vitl][.seedsK].DONE exists; otherwise it runs
# again (each command resumes its own partial outputs). Logs: runs/<profile>/logs/<stage>.log. The commands are
# the plan of synvid/plan.py, built from the registries; --dry-run prints it.
# Real data for the paper-scale profiles (checked before any work starts):
#   UCF101_ROOT (holds UCF-101/ and ucfTrainTestlist/), HMDB51_ROOT, K400_ROOT, IMAGENET_ROOT (ImageFolder train),
#   INCEPTION_WEIGHTS (pt_inception-2015-12-05-6726825d.pth), I3D_WEIGHTS (i3d_torchscript.pt), from the
#   environment or registered in data/paths.env by data_gen/0_prepare_data.py; NPROC (GPUs per node, default: all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$ROOT/run_all.sh"; }   # the comment above

# synvid/run_all.py parses and checks every flag and prints the plan; the shell needs only the profile (which data
# paths to load), --dry-run and --slurm, and keeps what a shell must do: environment, the command loop, logs and
# the DONE markers of the stages.
PROFILE=paper; DRY=0; SLURM=0; previous=""
for arg in "$@"; do
  case "$arg" in -h|--help) usage; exit 0 ;; --dry-run) DRY=1 ;; --slurm) SLURM=1 ;; --profile=*) PROFILE=${arg#*=} ;; esac
  if [ "$previous" = --profile ]; then PROFILE=$arg; fi
  previous=$arg
done
source "$ROOT/scripts/paths.sh"    # data roots registered by data_gen/0_prepare_data.py (data/paths.env)
[ "$PROFILE" = smoke ] || [ "$PROFILE" = cpu ] || load_registered_paths   # toy profiles read no data
# The plan reads the registries with the standard library only: the system python3 builds it before bootstrapping.
plan() { PYTHONPATH="$ROOT" python3 -m synvid.run_all "$@"; }

if [ "$SLURM" = 1 ]; then          # one SLURM job per run of the plan (synvid/slurm.py, docs/cluster.md)
  source "$ROOT/scripts/bootstrap.sh"
  exec "$SYNVID_PYTHON" -m synvid.slurm --root "$ROOT" --python "$SYNVID_PYTHON" "$@"
fi
if [ "$DRY" = 1 ]; then plan "$@"; exit 0; fi   # the plan is printed, but a missing input still fails

PLAN=$(plan "$@")                  # a missing input fails here, before any expensive work
source "$ROOT/scripts/bootstrap.sh"
# Lines: `stage NAME MARKER LOG`, `run NAME COMMAND`, `done NAME`; read on fd 3 so the commands keep stdin.
while read -r -u 3 kind stage rest; do
  case "$kind" in
    stage)
      read -r MARKER LOG <<<"$rest"
      SKIP=0
      if [ -f "$MARKER" ]; then echo "== $stage: done, skipped ($MARKER)"; SKIP=1; continue; fi
      mkdir -p "$(dirname "$MARKER")" "$(dirname "$LOG")"
      echo "== $stage (log: $LOG)"
      : >"$LOG" ;;
    run)
      [ "$SKIP" = 0 ] || continue
      echo "\$ $rest" | tee -a "$LOG"
      # python -> the bootstrapped interpreter; torchrun -> its module, so both use the same environment.
      cmd="${rest/#python /$SYNVID_PYTHON }"; cmd="${cmd/#torchrun /$SYNVID_PYTHON -m torch.distributed.run }"
      if ! bash -c "set -euo pipefail; $cmd" 2>&1 | tee -a "$LOG"; then
        echo "run_all.sh: stage $stage failed; see $LOG (re-run to resume)" >&2
        exit 1
      fi ;;
    done)
      [ "$SKIP" = 1 ] || date -u +%FT%TZ >"$MARKER" ;;
  esac
done 3<<<"$PLAN"
echo "== all selected stages done: report in results/$PROFILE/REPORT.md (tables/, figures/ beside it)"
