# The commands of each run_all.sh stage, per profile. Sourced by run_all.sh (which sets PROFILE and RUNS).
# The smoke profile runs everything on CPU in minutes on toy data; its numbers are never paper results.

# The progression of Section 3.1 (registry keys, in order).
PROGRESSION=(static_circles moving_circles moving_shapes moving_transforming_shapes accelerating_transforming_shapes
             accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops)
TEXTURED=(accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops)

if [ "$PROFILE" = smoke ]; then
  PRETRAIN_SETS=(moving_circles accelerating_transforming_shapes)
  UCF101_ROOT="$RUNS/toy/toy_ucf101"; HMDB51_ROOT="$RUNS/toy/toy_hmdb51"
  UCF_DATASET=toy_ucf101; HMDB_DATASET=toy_hmdb51
  LAUNCH="python"; QUIET="--no-progress"
else
  PRETRAIN_SETS=("${PROGRESSION[@]}")
  UCF_DATASET=ucf101; HMDB_DATASET=hmdb51
  LAUNCH="torchrun --nproc_per_node ${NPROC:-gpu}"; QUIET=""
fi

check_inputs() {  # fail before any work when a paper-scale input is missing
  [ "$1" = smoke ] && return 0
  local missing=()
  [ -d "${UCF101_ROOT:-}/UCF-101" ] || missing+=("UCF101_ROOT (a folder holding UCF-101/ and ucfTrainTestlist/)")
  [ -d "${HMDB51_ROOT:-}" ] || missing+=("HMDB51_ROOT (HMDB51 videos + testTrainMulti_7030_splits/)")
  [ -d "${IMAGENET_ROOT:-}" ] || missing+=("IMAGENET_ROOT (ImageNet train in ImageFolder layout)")
  [ -f "${INCEPTION_WEIGHTS:-}" ] || missing+=("INCEPTION_WEIGHTS (pt_inception-2015-12-05 .pth, for FID; docs: analysis)")
  [ -f "${I3D_WEIGHTS:-}" ] || missing+=("I3D_WEIGHTS (i3d_torchscript.pt, for FVD; docs: analysis)")
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

stage_commands() {
  local p="--profile $PROFILE" name init
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
      echo "python data_gen/3_1_generate.py $p --dataset accelerating_transforming_textures --bank $RUNS/textures/statistical --out $RUNS/data/accelerating_transforming_textures --workers 16"
      echo "python data_gen/3_1_generate.py $p --dataset accelerating_transforming_stylegan --bank $RUNS/textures/stylegan --out $RUNS/data/accelerating_transforming_stylegan --workers 16"
      echo "python data_gen/3_1_generate.py $p --dataset accelerating_transforming_image_crops --imagenet \$IMAGENET_ROOT --out $RUNS/data/accelerating_transforming_image_crops --workers 16"
      echo "python data_gen/3_1_sample_grid.py $p --out $RUNS/figures/fig1_samples"
    fi ;;
  pretrain)
    for name in "${PRETRAIN_SETS[@]}"; do
      if [[ " ${TEXTURED[*]} " == *" $name "* ]]; then   # the fixed textured sets: their materialised videos
        echo "$LAUNCH pretrain/3_2_pretrain.py $p --list $RUNS/data/$name/train.csv --out $RUNS/pretrain/$name $QUIET"
      else                                               # the shape sets: rendered on the fly, as the authors did
        echo "$LAUNCH pretrain/3_2_pretrain.py $p --dataset $name --out $RUNS/pretrain/$name $QUIET"
      fi
    done ;;
  finetune)
    echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init scratch --out $RUNS/finetune/$UCF_DATASET/scratch $QUIET"
    for name in "${PRETRAIN_SETS[@]}"; do
      init="$RUNS/pretrain/$name/last.pth"
      echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init $init --out $RUNS/finetune/$UCF_DATASET/$name $QUIET"
      echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $HMDB_DATASET --data-root $HMDB51_ROOT --init $init --out $RUNS/finetune/$HMDB_DATASET/$name $QUIET"
      echo "$LAUNCH linprobe/4_3_linprobe.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init $init --out $RUNS/linprobe/$UCF_DATASET/$name $QUIET"
    done ;;
  ucf101p)
    echo "python data_gen/4_2_make_ucf101p.py $p --data-root $UCF101_ROOT --out $RUNS/ucf101p/data $QUIET"
    for name in scratch "${PRETRAIN_SETS[@]}"; do
      echo "python finetune/4_2_eval_ucf101p.py $p --run $RUNS/finetune/$UCF_DATASET/$name --p-root $RUNS/ucf101p/data --label $name --out $RUNS/ucf101p/eval/$name"
    done ;;
  analysis)
    local stats="$RUNS/analysis/stats"   # 5_3 and 5_4 share it: results/<dataset>.json, merged
    if [ "$PROFILE" = smoke ]; then
      local ckpts labels
      ckpts=$(IFS=,; printf '%s' "${PRETRAIN_SETS[*]/#/$RUNS/pretrain/}" | sed 's#,#/last.pth,#g'; echo /last.pth)
      labels=$(IFS=,; echo "${PRETRAIN_SETS[*]}")
      echo "python analysis/5_4_frame_properties.py $p --datasets $labels --stats spectrum,color --reference $UCF101_ROOT/ucfTrainTestlist/trainlist01.txt --video-root $UCF101_ROOT/UCF-101 --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $labels --data-root $UCF101_ROOT/UCF-101 --class-name Orbit --model vit_tiny_patch16_224 --num-frames 4 --img-size 32 --out $RUNS/analysis/fig5_pca"
    else
      local sets ckpts; sets=$(IFS=,; echo "${PROGRESSION[*]}")
      ckpts=$(IFS=,; printf '%s' "${PRETRAIN_SETS[*]/#/$RUNS/pretrain/}" | sed 's#,#/last.pth,#g'; echo /last.pth)
      echo "python analysis/5_3_similarity.py $p --datasets $sets --reference $UCF101_ROOT/ucfTrainTestlist/trainlist01.txt --video-root $UCF101_ROOT/UCF-101 --inception-weights \$INCEPTION_WEIGHTS --i3d-weights \$I3D_WEIGHTS --out $stats"
      echo "python analysis/5_4_frame_properties.py $p --datasets $sets --reference $UCF101_ROOT/ucfTrainTestlist/trainlist01.txt --video-root $UCF101_ROOT/UCF-101 --inception-weights \$INCEPTION_WEIGHTS --out $stats"
      echo "python analysis/5_5_visualize_features.py $p --checkpoints $ckpts --labels $sets --data-root $UCF101_ROOT/UCF-101 --class-name PlayingGuitar --out $RUNS/analysis/fig5_pca"
    fi
    echo "python analysis/5_4_correlations.py $p --stats-dir $stats/results --runs $RUNS --only-profile $PROFILE --out $RUNS/analysis/fig4" ;;
  tables)
    echo "python paper_tables/make_tables.py $p --runs $RUNS --out results/$PROFILE" ;;
  esac
}
