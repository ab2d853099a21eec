# The commands of each run_all.sh stage, per profile. Sourced by run_all.sh (which sets PROFILE, RUNS, ABLATIONS,
# SEED_IDS, SEED_PRETRAINING, VIT_L). stage_commands is the single source of every stage's commands.
# The smoke profile runs everything on CPU in minutes on toy data; the cpu profile is the miniature reproduction
# (docs/miniature.md: M1-M5, fine-tuning and probing on the toy action set, within an hour on 2 cores). Neither
# profile's numbers are paper results.

SYNVID_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The progression of Section 3.1 (registry keys, in order).
PROGRESSION=(static_circles moving_circles moving_shapes moving_transforming_shapes accelerating_transforming_shapes
             accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops)
# The ablations of Tables 2, 3, 9, 10 and 12 (run_all.sh --ablations): synvid.progression.ABLATIONS, split into the
# sets rendered on the fly and the fixed ones that are materialised first (tests check both lists against the registry).
ABLATIONS_ON_THE_FLY=(moving_circles_slow moving_shapes_slow moving_transforming_shapes_slow
                      accelerating_transforming_shapes_slow static_images_5pct stylegan_static_5pct)
ABLATIONS_FIXED=(accelerating_transforming_textures_slow images_300k images_150k_stylegan_150k dynamic_stylegan_crops
                 dynamic_stylegan_videos dynamic_stylegan_highfreq images_150k_statistical_150k images_300k_color_bg
                 images_300k_image_bg statistical_saturated statistical_color_bg_saturated
                 dynamic_stylegan_crops_saturated images_300k_saturated images_150k_statistical_150k_saturated
                 images_300k_color_bg_saturated images_300k_image_bg_saturated images_1300k_saturated)
# Table 11: "<set> <fraction of each epoch replaced by real UCF101 videos>"
MIXES=("accelerating_transforming_shapes 0.25" "accelerating_transforming_shapes 0.75"
       "accelerating_transforming_image_crops 0.5")
FIXED=(accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops
       "${ABLATIONS_FIXED[@]}")

SEED_IDS=("${SEED_IDS[@]:-0}")
if [ "$PROFILE" = cpu ]; then         # the miniature: the five shape sets, one toy action set, no HMDB51/UCF101-P/§5
  PRETRAIN_SETS=("${PROGRESSION[@]:0:5}")
  UCF101_ROOT="$RUNS/toy/toy_actions"; UCF_DATASET=toy_actions; HMDB_DATASET=""
  LAUNCH="python"; QUIET="--no-progress"; ABLATIONS=0
elif [ "$PROFILE" = smoke ]; then
  PRETRAIN_SETS=(moving_circles accelerating_transforming_shapes)
  UCF101_ROOT="$RUNS/toy/toy_ucf101"; HMDB51_ROOT="$RUNS/toy/toy_hmdb51"
  UCF_DATASET=toy_ucf101; HMDB_DATASET=toy_hmdb51
  LAUNCH="python"; QUIET="--no-progress"; ABLATIONS=0
else
  PRETRAIN_SETS=("${PROGRESSION[@]}")
  UCF_DATASET=ucf101; HMDB_DATASET=hmdb51
  # Unset roots print as the variable (dry run); check_inputs refuses them before any real work.
  UCF101_ROOT="${UCF101_ROOT:-\$UCF101_ROOT}"; HMDB51_ROOT="${HMDB51_ROOT:-\$HMDB51_ROOT}"
  LAUNCH="torchrun --nproc_per_node ${NPROC:-gpu}"; QUIET=""
fi
ABLATION_SETS=()
if [ "${ABLATIONS:-0}" = 1 ]; then
  ABLATION_SETS=("${ABLATIONS_ON_THE_FLY[@]}" "${ABLATIONS_FIXED[@]}")
fi

# Required inputs of the real-data profiles: VARIABLE|what it is|stages it blocks (checked for the selected stages).
REQUIRED_INPUTS=(
  "UCF101_ROOT|a folder holding UCF-101/ and ucfTrainTestlist/|finetune ucf101p analysis"
  "HMDB51_ROOT|HMDB51 videos + testTrainMulti_7030_splits/|finetune"
  "IMAGENET_ROOT|ImageNet train in ImageFolder layout (image-crop sets, Fig. 1, FID reference)|data pretrain analysis"
  "INCEPTION_WEIGHTS|pt_inception-2015-12-05 .pth, for FID and diversity (docs/statistics.md)|analysis"
  "I3D_WEIGHTS|i3d_torchscript.pt, for FVD (docs/statistics.md)|analysis"
)
# Optional inputs: VARIABLE|the rows they fill
OPTIONAL_INPUTS=(
  "K400_ROOT|Table 4 (scratch, image crops) and the K400 gap claim"
  "VIDEOMAE_UCF101_CKPT|the UCF101 rows of Table 1 and Figure 3, and the UCF101 gap claims (official checkpoint)"
  "VIDEOMAE_K400_CKPT|the Kinetics-400 row of Table 4 (official checkpoint; needs K400_ROOT too)"
)

input_present() {  # input_present VARIABLE: the folder / file it names exists
  case "$1" in
    UCF101_ROOT) [ -d "${UCF101_ROOT:-}/UCF-101" ] ;;
    INCEPTION_WEIGHTS|I3D_WEIGHTS) [ -f "${!1:-}" ] ;;
    *) [ -n "${!1:-}" ] && [ -e "${!1}" ] ;;
  esac
}

check_inputs() {  # check_inputs PROFILE STAGE...: exit 2 naming each missing input and the selected stages it blocks
  { [ "$1" = smoke ] || [ "$1" = cpu ]; } && return 0
  local profile=$1 entry var what stages blocked missing=() stage; shift
  if [ "${ABLATIONS:-0}" = 1 ]; then REQUIRED_INPUTS[0]="${REQUIRED_INPUTS[0]} data"; fi   # the Table 11 mix list
  for entry in "${REQUIRED_INPUTS[@]}"; do
    IFS='|' read -r var what stages <<<"$entry"
    input_present "$var" && continue
    blocked=()
    for stage in $stages; do [[ " $* " == *" $stage "* ]] && blocked+=("$stage"); done
    [ ${#blocked[@]} -gt 0 ] && missing+=("$var ($what): blocks stage(s) ${blocked[*]}; prepare: $(prepare_hint "$var")")
  done
  for entry in "${OPTIONAL_INPUTS[@]}"; do   # optional, but a given path must exist
    IFS='|' read -r var what <<<"$entry"
    if [ -n "${!var:-}" ] && ! [ -e "${!var}" ]; then missing+=("$var (set to ${!var}, which does not exist)"); fi
    [ -z "${!var:-}" ] && echo "run_all.sh: optional $var not set: $what stay empty" >&2
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'run_all.sh --profile %s needs real data; set (or prepare and register, docs/data.md):\n' "$profile" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 2
  fi
  if [ "${NPROC:-gpu}" = gpu ]; then
    NPROC=$( (nvidia-smi -L 2>/dev/null || true) | wc -l); [ "$NPROC" -gt 0 ] || NPROC=1
    LAUNCH="torchrun --nproc_per_node $NPROC"
  fi
  return 0
}

is_fixed() { [[ " ${FIXED[*]} " == *" $1 "* ]]; }

bank_for() {  # the texture bank a fixed set reads (none: generated on the fly, or ImageNet images)
  case "$1" in
    accelerating_transforming_stylegan|images_150k_stylegan_150k) echo "--bank $RUNS/textures/stylegan" ;;
    *textures*|*statistical*) echo "--bank $RUNS/textures/statistical" ;;
  esac
}

imagenet_for() {  # sets that read ImageNet images (image crops, mixes, static 5%, image backgrounds)
  case "$1" in *image*) echo "--imagenet \$IMAGENET_ROOT" ;; esac
}

seed_suffix() { if [ "$1" != 0 ]; then echo "_seed$1"; fi; }  # seed 0 keeps the plain name (and resumes old runs)
seed_flag() { if [ "$1" != 0 ]; then echo "--seed $1"; fi; }
pretrain_seeds() { if [ "${SEED_PRETRAINING:-0}" = 1 ]; then printf '%s\n' "${SEED_IDS[@]}"; else echo 0; fi; }
# The pre-training run a downstream seed starts from: its own seed's with --seed-pretraining, else seed 0's.
init_for() {
  local suffix=""
  if [ "${SEED_PRETRAINING:-0}" = 1 ]; then suffix=$(seed_suffix "$2"); fi
  echo "$RUNS/${3:-pretrain}/$1$suffix/last.pth"
}

half_batch() {  # half_batch CONFIG_CLASS: the profile's total batch halved (§9.3: ViT-L = ViT-B with half the batch)
  PYTHONPATH="$SYNVID_REPO" python3 -c "from synvid import config as c; print(c.resolve(c.$1, '$PROFILE').batch_size // 2)"
}

pretrain_cmd() {  # pretrain_cmd SET [OUT_NAME EXTRA...]: a fixed set trains on its materialised list (as the authors)
  local name=$1 out=${2:-$1}; shift $(( $# > 1 ? 2 : 1 ))
  local data="--dataset $name $(imagenet_for "$name")" folder=pretrain seed
  is_fixed "$name" && data="--list $RUNS/data/$name/train.csv"
  [[ " $* " == *" --model pretrain_videomae_large"* ]] && folder=pretrain_vitl
  [ -n "${SFX:-}" ] && folder="pretrain$SFX"        # another objective's runs (run_all.sh --objective)
  for seed in $(pretrain_seeds); do
    echo "$LAUNCH pretrain/3_2_pretrain.py --profile $PROFILE $data $* $(seed_flag "$seed") --out $RUNS/$folder/$out$(seed_suffix "$seed") $QUIET" | tr -s ' ' | sed 's/ $//'
  done
}

# Objectives (run_all.sh --objective[s]): VideoMAE runs keep the paper's folders; another objective's runs (and the
# downstream runs fed by them) go to <stage>_<objective>/ so the two never mix. Sets SFX and OBJ_FLAG.
OBJECTIVES=("${OBJECTIVES[@]:-videomae}")
use_objective() {
  if [ "$1" = videomae ]; then SFX=""; OBJ_FLAG=""; else SFX="_$1"; OBJ_FLAG="--objective $1"; fi
}
use_objective videomae

mix_name() { local pct; pct=$(awk -v f="$2" 'BEGIN { printf "%d", f * 100 + 0.5 }'); echo "${1}_ucf101_${pct}pct"; }

finetune_cmd() {  # finetune_cmd SCRIPT DATASET ROOT INIT OUT [EXTRA...]: one command per seed (--seeds K)
  local script=$1 dataset=$2 root=$3 init=$4 out=$5 seed key from; shift 5
  key=$(basename "$out")
  for seed in "${SEED_IDS[@]}"; do
    from=$init
    case "$init" in */"$key"/last.pth) from=$(init_for "$key" "$seed" "$(basename "$(dirname "$(dirname "$init")")")") ;; esac
    echo "$LAUNCH $script --profile $PROFILE --dataset $dataset --data-root $root --init $from $* $(seed_flag "$seed") --out $out$(seed_suffix "$seed") $QUIET" \
      | tr -s ' ' | sed 's/ $//'
  done
}

planned_cells() {  # COLUMN:KEY of every ViT-B fine-tune / probe this plan launches (empty cells then say why)
  stage_commands finetune | grep -vE '/(finetune|linprobe)_[a-z]+/' \
    | sed -nE 's#.*(4_1_finetune|4_3_linprobe)\.py .*--dataset ([a-z0-9_]+) .*--out [^ ]*/([^/ ]+).*#\1:\2:\3#p' \
    | sed -E 's/^4_1_finetune/finetune/; s/^4_3_linprobe/linprobe/; s/:toy_/:/; s/_seed[0-9]+$//' \
    | awk -F: '{print $2 "_" $1 ":" $3}' | sort -u | paste -sd, -
}

stage_commands() {
  local p="--profile $PROFILE" name init entry
  case "$1" in
  data)
    if [ "$PROFILE" = cpu ]; then        # the shape sets render on the fly: only the action set is written
      echo "python data_gen/4_0_make_toy.py $p --dataset toy_actions --out $UCF101_ROOT"
    elif [ "$PROFILE" = smoke ]; then
      echo "python data_gen/3_1_texture_banks.py $p --source statistical --num 16 --out $RUNS/textures/statistical"
      for name in moving_circles accelerating_transforming_shapes; do
        echo "python data_gen/3_1_generate.py $p --dataset $name --num-videos 2 --out $RUNS/data/$name"
      done
      echo "python data_gen/3_1_generate.py $p --dataset accelerating_transforming_textures --num-videos 2 --bank $RUNS/textures/statistical --out $RUNS/data/accelerating_transforming_textures"
      echo "python data_gen/3_1_sample_grid.py $p --out $RUNS/figures/fig1_samples"
      echo "python data_gen/4_0_make_toy.py $p --dataset toy_ucf101 --out $UCF101_ROOT"
      echo "python data_gen/4_0_make_toy.py $p --dataset toy_hmdb51 --out $HMDB51_ROOT"
    else
      for name in statistical stylegan; do
        echo "python data_gen/3_1_texture_banks.py $p --source $name --num 300000 --out $RUNS/textures/$name"
      done
      for name in "${FIXED[@]}"; do
        [[ " ${PRETRAIN_SETS[*]} ${ABLATION_SETS[*]} " == *" $name "* ]] || continue
        echo "python data_gen/3_1_generate.py $p --dataset $name $(bank_for "$name") $(imagenet_for "$name") --out $RUNS/data/$name --workers 16" | tr -s ' '
      done
      echo "python data_gen/3_1_sample_grid.py $p --imagenet \$IMAGENET_ROOT --out $RUNS/figures/fig1_samples"
      [ "${ABLATIONS:-0}" = 1 ] && echo "python data_gen/4_0_write_list.py $p --dataset ucf101 --data-root $UCF101_ROOT --subset train --out $RUNS/data/ucf101_train.csv"
    fi ;;
  pretrain)
    for objective in "${OBJECTIVES[@]}"; do   # V-JEPA: the progression (the ablations stay VideoMAE's)
      [ "$objective" = videomae ] && continue
      use_objective "$objective"
      for name in "${PRETRAIN_SETS[@]}"; do pretrain_cmd "$name" "$name" $OBJ_FLAG; done
      use_objective videomae
    done
    [[ " ${OBJECTIVES[*]} " == *" videomae "* ]] || return 0
    for name in "${PRETRAIN_SETS[@]}" "${ABLATION_SETS[@]}"; do pretrain_cmd "$name"; done
    if [ "${VIT_L:-0}" = 1 ]; then                 # Figure 2's ViT-L series (§9.3: batch halved)
      for name in "${PRETRAIN_SETS[@]}"; do
        pretrain_cmd "$name" "$name" --model pretrain_videomae_large_patch16_224 --batch-size "$(half_batch PretrainConfig)"
      done
    fi
    if [ "${ABLATIONS:-0}" = 1 ]; then
      for entry in "${MIXES[@]}"; do
        set -- $entry
        pretrain_cmd "$1" "$(mix_name "$1" "$2")" --mix-fraction "$2" --mix-list "$RUNS/data/ucf101_train.csv"
      done
    fi ;;
  finetune)
    # Table 1 "Random initialization": all three columns from scratch
    finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" scratch "$RUNS/finetune/$UCF_DATASET/scratch"
    [ -n "$HMDB_DATASET" ] && finetune_cmd finetune/4_1_finetune.py "$HMDB_DATASET" "$HMDB51_ROOT" scratch "$RUNS/finetune/$HMDB_DATASET/scratch"
    finetune_cmd linprobe/4_3_linprobe.py "$UCF_DATASET" "$UCF101_ROOT" scratch "$RUNS/linprobe/$UCF_DATASET/scratch"
    for objective in "${OBJECTIVES[@]}"; do
      use_objective "$objective"
      for name in "${PRETRAIN_SETS[@]}"; do
        init="$RUNS/pretrain$SFX/$name/last.pth"
        finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" "$init" "$RUNS/finetune$SFX/$UCF_DATASET/$name"
        [ -n "$HMDB_DATASET" ] && finetune_cmd finetune/4_1_finetune.py "$HMDB_DATASET" "$HMDB51_ROOT" "$init" "$RUNS/finetune$SFX/$HMDB_DATASET/$name"
        finetune_cmd linprobe/4_3_linprobe.py "$UCF_DATASET" "$UCF101_ROOT" "$init" "$RUNS/linprobe$SFX/$UCF_DATASET/$name"
      done
    done
    use_objective videomae
    [[ " ${OBJECTIVES[*]} " == *" videomae "* ]] || return 0
    if [ -n "${VIDEOMAE_UCF101_CKPT:-}" ]; then   # Table 1 "UCF101": the official VideoMAE UCF101 checkpoint (Q16)
      finetune_cmd finetune/4_1_finetune.py ucf101 "$UCF101_ROOT" "\$VIDEOMAE_UCF101_CKPT" "$RUNS/finetune/ucf101/ucf101" --pretrain-name ucf101
      finetune_cmd finetune/4_1_finetune.py hmdb51 "$HMDB51_ROOT" "\$VIDEOMAE_UCF101_CKPT" "$RUNS/finetune/hmdb51/ucf101" --pretrain-name ucf101
      finetune_cmd linprobe/4_3_linprobe.py ucf101 "$UCF101_ROOT" "\$VIDEOMAE_UCF101_CKPT" "$RUNS/linprobe/ucf101/ucf101" --pretrain-name ucf101
    fi
    if [ -n "${K400_ROOT:-}" ]; then              # Table 4 (the official K400 recipe, Q15)
      finetune_cmd finetune/4_1_finetune.py k400 "\$K400_ROOT" scratch "$RUNS/finetune/k400/scratch"
      finetune_cmd finetune/4_1_finetune.py k400 "\$K400_ROOT" "$RUNS/pretrain/accelerating_transforming_image_crops/last.pth" "$RUNS/finetune/k400/accelerating_transforming_image_crops"
      [ -n "${VIDEOMAE_K400_CKPT:-}" ] && finetune_cmd finetune/4_1_finetune.py k400 "\$K400_ROOT" "\$VIDEOMAE_K400_CKPT" "$RUNS/finetune/k400/k400" --pretrain-name k400
    fi
    local extra=("${ABLATION_SETS[@]}")
    if [ "${ABLATIONS:-0}" = 1 ]; then
      for entry in "${MIXES[@]}"; do set -- $entry; extra+=("$(mix_name "$1" "$2")"); done
    fi
    for name in "${extra[@]}"; do                  # the ablation tables report UCF101 fine-tuning only
      finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" "$RUNS/pretrain/$name/last.pth" "$RUNS/finetune/$UCF_DATASET/$name"
    done
    if [ "${VIT_L:-0}" = 1 ]; then                 # Figure 2's ViT-L series: UCF101 fine-tuning, batch halved (§9.3)
      local large="--model vit_large_patch16_224 --batch-size $(half_batch FinetuneConfig)"
      finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" scratch "$RUNS/finetune_vitl/$UCF_DATASET/scratch" $large
      for name in "${PRETRAIN_SETS[@]}"; do
        finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" "$RUNS/pretrain_vitl/$name/last.pth" "$RUNS/finetune_vitl/$UCF_DATASET/$name" $large
      done
    fi ;;
  ucf101p)
    [ "$PROFILE" = cpu ] && return 0     # the miniature stops at fine-tuning and probing (docs/miniature.md)
    echo "python data_gen/4_2_make_ucf101p.py $p --data-root $UCF101_ROOT --out $RUNS/ucf101p/data $QUIET"
    local evaluated=(scratch)
    [[ " ${OBJECTIVES[*]} " == *" videomae "* ]] && evaluated+=("${PRETRAIN_SETS[@]}")
    [ -n "${VIDEOMAE_UCF101_CKPT:-}" ] && evaluated+=(ucf101)
    for name in "${evaluated[@]}"; do
      echo "python finetune/4_2_eval_ucf101p.py $p --run $RUNS/finetune/$UCF_DATASET/$name --p-root $RUNS/ucf101p/data --label $name --out $RUNS/ucf101p/eval/$name"
    done
    for objective in "${OBJECTIVES[@]}"; do
      [ "$objective" = videomae ] && continue
      for name in "${PRETRAIN_SETS[@]}"; do
        echo "python finetune/4_2_eval_ucf101p.py $p --run $RUNS/finetune_$objective/$UCF_DATASET/$name --p-root $RUNS/ucf101p/data --label $name --out $RUNS/ucf101p/eval_$objective/$name"
      done
    done ;;
  analysis)
    [ "$PROFILE" = cpu ] && return 0
    local stats="$RUNS/analysis/stats"   # 5_3 and 5_4 share it: results/<dataset>.json, merged
    local sets ckpts all_sets    # Fig. 4 statistics over every pre-training set; Fig. 5 over the progression
    sets=$(IFS=,; echo "${PRETRAIN_SETS[*]}"); all_sets=$(printf '%s,' "${PRETRAIN_SETS[@]}" "${ABLATION_SETS[@]}")
    all_sets=${all_sets%,}
    ckpts=$(IFS=,; printf '%s' "${PRETRAIN_SETS[*]/#/$RUNS/pretrain/}" | sed 's#,#/last.pth,#g'; echo /last.pth)
    local reference="--reference $UCF101_ROOT/ucfTrainTestlist/trainlist01.txt --video-root $UCF101_ROOT/UCF-101"
    if [ "$PROFILE" = smoke ]; then
      echo "python analysis/5_4_frame_properties.py $p --datasets $all_sets --stats spectrum,color $reference --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $sets --data-root $UCF101_ROOT/UCF-101 --class-name Orbit --out $RUNS/analysis/fig5_pca"
    else
      echo "python analysis/5_3_similarity.py $p --datasets $all_sets $reference --imagenet \$IMAGENET_ROOT --inception-weights \$INCEPTION_WEIGHTS --i3d-weights \$I3D_WEIGHTS --out $stats"
      echo "python analysis/5_4_frame_properties.py $p --datasets $all_sets --stats diversity,spectrum,color $reference --imagenet \$IMAGENET_ROOT --inception-weights \$INCEPTION_WEIGHTS --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $sets --data-root $UCF101_ROOT/UCF-101 --class-name PlayingGuitar --out $RUNS/analysis/fig5_pca"
    fi
    echo "python analysis/5_4_correlations.py $p --stats-dir $stats/results --runs $RUNS --only-profile $PROFILE --out $RUNS/analysis/fig4" ;;
  tables)
    echo "python paper_tables/make_tables.py $p --runs $RUNS --out results/$PROFILE --planned $(planned_cells)" ;;
  esac
}
