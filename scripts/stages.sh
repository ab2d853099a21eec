# The commands of each run_all.sh stage, per profile. Sourced by run_all.sh (which sets PROFILE, RUNS, ABLATIONS).
# The smoke profile runs everything on CPU in minutes on toy data; its numbers are never paper results.

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

if [ "$PROFILE" = smoke ]; then
  PRETRAIN_SETS=(moving_circles accelerating_transforming_shapes)
  UCF101_ROOT="$RUNS/toy/toy_ucf101"; HMDB51_ROOT="$RUNS/toy/toy_hmdb51"
  UCF_DATASET=toy_ucf101; HMDB_DATASET=toy_hmdb51
  LAUNCH="python"; QUIET="--no-progress"; ABLATIONS=0
else
  PRETRAIN_SETS=("${PROGRESSION[@]}")
  UCF_DATASET=ucf101; HMDB_DATASET=hmdb51
  LAUNCH="torchrun --nproc_per_node ${NPROC:-gpu}"; QUIET=""
fi
ABLATION_SETS=()
if [ "${ABLATIONS:-0}" = 1 ]; then
  ABLATION_SETS=("${ABLATIONS_ON_THE_FLY[@]}" "${ABLATIONS_FIXED[@]}")
fi

check_inputs() {  # fail before any work when a paper-scale input is missing
  [ "$1" = smoke ] && return 0
  local missing=()
  [ -d "${UCF101_ROOT:-}/UCF-101" ] || missing+=("UCF101_ROOT (a folder holding UCF-101/ and ucfTrainTestlist/)")
  [ -d "${HMDB51_ROOT:-}" ] || missing+=("HMDB51_ROOT (HMDB51 videos + testTrainMulti_7030_splits/)")
  [ -d "${IMAGENET_ROOT:-}" ] || missing+=("IMAGENET_ROOT (ImageNet train in ImageFolder layout)")
  [ -f "${INCEPTION_WEIGHTS:-}" ] || missing+=("INCEPTION_WEIGHTS (pt_inception-2015-12-05 .pth, for FID; README: analysis)")
  [ -f "${I3D_WEIGHTS:-}" ] || missing+=("I3D_WEIGHTS (i3d_torchscript.pt, for FVD; README: analysis)")
  local var
  for var in K400_ROOT VIDEOMAE_UCF101_CKPT VIDEOMAE_K400_CKPT; do   # optional, but a given path must exist
    [ -z "${!var:-}" ] || [ -e "${!var}" ] || missing+=("$var (set to ${!var}, which does not exist)")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'run_all.sh --profile %s needs real data; set:\n' "$1" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 2
  fi
  if [ "${NPROC:-gpu}" = gpu ]; then
    NPROC=$(nvidia-smi -L 2>/dev/null | wc -l); [ "$NPROC" -gt 0 ] || NPROC=1
    LAUNCH="torchrun --nproc_per_node $NPROC"
  fi
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

pretrain_cmd() {  # pretrain_cmd SET [OUT_NAME EXTRA...]: a fixed set trains on its materialised list (as the authors)
  local name=$1 out=${2:-$1}; shift $(( $# > 1 ? 2 : 1 ))
  local data="--dataset $name $(imagenet_for "$name")"
  is_fixed "$name" && data="--list $RUNS/data/$name/train.csv"
  echo "$LAUNCH pretrain/3_2_pretrain.py --profile $PROFILE $data $* --out $RUNS/pretrain${SFX:-}/$out $QUIET" | tr -s ' ' | sed 's/ $//'
}

# Objectives (run_all.sh --objective[s]): VideoMAE runs keep the paper's folders; another objective's runs (and the
# downstream runs fed by them) go to <stage>_<objective>/ so the two never mix. Sets SFX and OBJ_FLAG.
OBJECTIVES=("${OBJECTIVES[@]:-videomae}")
use_objective() {
  if [ "$1" = videomae ]; then SFX=""; OBJ_FLAG=""; else SFX="_$1"; OBJ_FLAG="--objective $1"; fi
}
use_objective videomae

mix_name() { local pct; pct=$(awk -v f="$2" 'BEGIN { printf "%d", f * 100 + 0.5 }'); echo "${1}_ucf101_${pct}pct"; }

finetune_cmd() {  # finetune_cmd SCRIPT DATASET ROOT INIT OUT [EXTRA...]
  local script=$1 dataset=$2 root=$3 init=$4 out=$5; shift 5
  echo "$LAUNCH $script --profile $PROFILE --dataset $dataset --data-root $root --init $init $* --out $out $QUIET" \
    | tr -s ' ' | sed 's/ $//'
}

stage_commands() {
  local p="--profile $PROFILE" name init entry
  case "$1" in
  data)
    if [ "$PROFILE" = smoke ]; then
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
    if [ "${ABLATIONS:-0}" = 1 ]; then
      for entry in "${MIXES[@]}"; do
        set -- $entry
        pretrain_cmd "$1" "$(mix_name "$1" "$2")" --mix-fraction "$2" --mix-list "$RUNS/data/ucf101_train.csv"
      done
    fi ;;
  finetune)
    finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" scratch "$RUNS/finetune/$UCF_DATASET/scratch"
    for objective in "${OBJECTIVES[@]}"; do
      use_objective "$objective"
      for name in "${PRETRAIN_SETS[@]}"; do
        init="$RUNS/pretrain$SFX/$name/last.pth"
        finetune_cmd finetune/4_1_finetune.py "$UCF_DATASET" "$UCF101_ROOT" "$init" "$RUNS/finetune$SFX/$UCF_DATASET/$name"
        finetune_cmd finetune/4_1_finetune.py "$HMDB_DATASET" "$HMDB51_ROOT" "$init" "$RUNS/finetune$SFX/$HMDB_DATASET/$name"
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
    done ;;
  ucf101p)
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
    local stats="$RUNS/analysis/stats"   # 5_3 and 5_4 share it: results/<dataset>.json, merged
    local sets ckpts; sets=$(IFS=,; echo "${PRETRAIN_SETS[*]}")
    ckpts=$(IFS=,; printf '%s' "${PRETRAIN_SETS[*]/#/$RUNS/pretrain/}" | sed 's#,#/last.pth,#g'; echo /last.pth)
    local reference="--reference $UCF101_ROOT/ucfTrainTestlist/trainlist01.txt --video-root $UCF101_ROOT/UCF-101"
    if [ "$PROFILE" = smoke ]; then
      echo "python analysis/5_4_frame_properties.py $p --datasets $sets --stats spectrum,color $reference --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $sets --data-root $UCF101_ROOT/UCF-101 --class-name Orbit --model vit_tiny_patch16_224 --num-frames 4 --img-size 32 --out $RUNS/analysis/fig5_pca"
    else
      echo "python analysis/5_3_similarity.py $p --datasets $sets $reference --imagenet \$IMAGENET_ROOT --inception-weights \$INCEPTION_WEIGHTS --i3d-weights \$I3D_WEIGHTS --out $stats"
      echo "python analysis/5_4_frame_properties.py $p --datasets $sets --stats diversity,spectrum,color $reference --imagenet \$IMAGENET_ROOT --inception-weights \$INCEPTION_WEIGHTS --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $sets --data-root $UCF101_ROOT/UCF-101 --class-name PlayingGuitar --out $RUNS/analysis/fig5_pca"
    fi
    echo "python analysis/5_4_correlations.py $p --stats-dir $stats/results --runs $RUNS --only-profile $PROFILE --out $RUNS/analysis/fig4" ;;
  tables)
    echo "python paper_tables/make_tables.py $p --runs $RUNS --out results/$PROFILE" ;;
  esac
}
