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
# again (each command resumes its own partial outputs). Logs: runs/<profile>/logs/<stage>.log.
# Real data for the paper-scale profiles (checked before any work starts):
#   UCF101_ROOT (holds UCF-101/ and ucfTrainTestlist/), HMDB51_ROOT, K400_ROOT, IMAGENET_ROOT (ImageFolder train),
#   INCEPTION_WEIGHTS (pt_inception-2015-12-05-6726825d.pth), I3D_WEIGHTS (i3d_torchscript.pt), from the
#   environment or registered in data/paths.env by data_gen/0_prepare_data.py; NPROC (GPUs per node, default: all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

STAGES=(data pretrain finetune ucf101p analysis tables)
PROFILE=paper; ONLY=""; FROM=""; DRY=0; ABLATIONS=0; VIT_L=0; SEEDS=1; SEED_LIST=""; SEED_PRETRAINING=0
OBJECTIVES=(videomae)
SLURM=0; SLURM_ARGS=()             # --slurm and its options, handed to synvid/slurm.py
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
    --only) ONLY="${2:?--only needs a stage}"; shift 2 ;;
    --from) FROM="${2:?--from needs a stage}"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --ablations) ABLATIONS=1; shift ;;
    --vit-l) VIT_L=1; shift ;;
    --seeds) SEEDS="${2:?--seeds needs a count}"; shift 2 ;;
    --seed-list) SEED_LIST="${2:?--seed-list needs seeds, e.g. 3,4,5}"; shift 2 ;;
    --seed-pretraining) SEED_PRETRAINING=1; shift ;;
    --objective|--objectives) IFS=, read -r -a OBJECTIVES <<<"${2:?$1 needs a value}"; shift 2 ;;
    --slurm) SLURM=1; shift ;;
    --partition|--account|--qos|--time|--nodes-per-pretrain|--gpus-per-node)
      SLURM_ARGS+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --wait) SLURM_ARGS+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PROFILE" in paper|authors|mini|cpu|smoke) ;; *) echo "run_all.sh: unknown profile '$PROFILE'" >&2; exit 2 ;; esac
[[ "$SEEDS" =~ ^[1-9][0-9]*$ ]] || { echo "run_all.sh: --seeds needs a positive count, got '$SEEDS'" >&2; exit 2; }
if [ -n "$SEED_LIST" ]; then       # --seed-list A,B,...: these seeds instead of 0..K-1
  [[ "$SEED_LIST" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "run_all.sh: --seed-list needs seeds like 3,4,5, got '$SEED_LIST'" >&2; exit 2; }
  IFS=, read -r -a SEED_IDS <<<"$SEED_LIST"
else
  mapfile -t SEED_IDS < <(seq 0 $((SEEDS - 1)))
fi
for objective in "${OBJECTIVES[@]}"; do
  case "$objective" in videomae|vjepa) ;; *) echo "run_all.sh: unknown objective '$objective' (videomae, vjepa)" >&2; exit 2 ;; esac
done
for stage in $ONLY $FROM; do
  [[ " ${STAGES[*]} " == *" $stage "* ]] || { echo "run_all.sh: unknown stage '$stage' (${STAGES[*]})" >&2; exit 2; }
done

RUNS="runs/$PROFILE"
DONE_TAG=""                        # a stage done without the ablations (ViT-L, seeds) is not done with them
if [ "$ABLATIONS" = 1 ]; then DONE_TAG=".ablations"; fi
if [ "$VIT_L" = 1 ]; then DONE_TAG="$DONE_TAG.vitl"; fi
if [ -n "$SEED_LIST" ]; then DONE_TAG="$DONE_TAG.seeds$(IFS=-; echo "${SEED_IDS[*]}")"
elif [ "$SEEDS" -gt 1 ]; then DONE_TAG="$DONE_TAG.seeds$SEEDS"; fi
if [ "${#SEED_IDS[@]}" -gt 1 ] && [ "$SEED_PRETRAINING" = 1 ]; then DONE_TAG="${DONE_TAG}p"; fi
if [ "${OBJECTIVES[*]}" != videomae ]; then DONE_TAG="$DONE_TAG.$(IFS=+; echo "${OBJECTIVES[*]}")"; fi  # per objective set
source "$ROOT/scripts/paths.sh"    # data roots registered by data_gen/0_prepare_data.py (data/paths.env)
[ "$PROFILE" = smoke ] || [ "$PROFILE" = cpu ] || load_registered_paths   # toy profiles read no data
source "$ROOT/scripts/stages.sh"   # stage_commands STAGE: one command per line for $PROFILE

selected() {
  local stage=$1 started=1
  if [ -n "$ONLY" ]; then [ "$stage" = "$ONLY" ]; return; fi
  if [ -n "$FROM" ]; then
    started=0
    for s in "${STAGES[@]}"; do [ "$s" = "$FROM" ] && started=1; [ "$s" = "$stage" ] && break; done
  fi
  [ "$started" = 1 ]
}

selected_stages() { local s; for s in "${STAGES[@]}"; do selected "$s" && echo "$s"; done; return 0; }

if [ "$SLURM" = 1 ]; then          # one SLURM job per run (synvid/slurm.py); the commands come from stage_commands
  [ "$DRY" = 1 ] && SLURM_ARGS+=(--dry-run) || check_inputs "$PROFILE" $(selected_stages)
  source "$ROOT/scripts/bootstrap.sh"
  for stage in "${STAGES[@]}"; do
    selected "$stage" || continue
    if [ -f "$RUNS/stages/$stage$DONE_TAG.DONE" ]; then echo "== $stage: done, skipped" >&2; continue; fi
    sed "/^$/d; s/^/$stage\t/" < <(stage_commands "$stage")
  done | "$SYNVID_PYTHON" -m synvid.slurm --profile "$PROFILE" --runs "$RUNS" --root "$ROOT" \
           --python "$SYNVID_PYTHON" "${SLURM_ARGS[@]}"
  exit
fi
[ ${#SLURM_ARGS[@]} = 0 ] || { echo "run_all.sh: ${SLURM_ARGS[0]} needs --slurm" >&2; exit 2; }

if [ "$DRY" = 1 ]; then
  for stage in "${STAGES[@]}"; do
    selected "$stage" || continue
    echo "## stage $stage$([ -f "$RUNS/stages/$stage$DONE_TAG.DONE" ] && echo ' (DONE, would be skipped)')"
    sed '/^$/d' < <(stage_commands "$stage")
  done
  check_inputs "$PROFILE" $(selected_stages)   # the plan is printed, but a missing input still fails
  exit 0
fi

check_inputs "$PROFILE" $(selected_stages)     # clear error before any expensive work (scripts/stages.sh)
source "$ROOT/scripts/bootstrap.sh"
mkdir -p "$RUNS/logs" "$RUNS/stages"
for stage in "${STAGES[@]}"; do
  selected "$stage" || continue
  if [ -f "$RUNS/stages/$stage$DONE_TAG.DONE" ]; then echo "== $stage: done, skipped ($RUNS/stages/$stage$DONE_TAG.DONE)"; continue; fi
  echo "== $stage (log: $RUNS/logs/$stage.log)"
  : >"$RUNS/logs/$stage.log"
  while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    echo "\$ $cmd" | tee -a "$RUNS/logs/$stage.log"
    # python -> the bootstrapped interpreter; torchrun -> its module, so both use the same environment.
    cmd="${cmd/#python /$SYNVID_PYTHON }"; cmd="${cmd/#torchrun /$SYNVID_PYTHON -m torch.distributed.run }"
    if ! bash -c "set -euo pipefail; $cmd" 2>&1 | tee -a "$RUNS/logs/$stage.log"; then
      echo "run_all.sh: stage $stage failed; see $RUNS/logs/$stage.log (re-run to resume)" >&2
      exit 1
    fi
  done < <(stage_commands "$stage")
  date -u +%FT%TZ >"$RUNS/stages/$stage$DONE_TAG.DONE"
done
echo "== all selected stages done: report in results/$PROFILE/REPORT.md (tables/, figures/ beside it)"
