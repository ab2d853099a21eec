# The commands of each run_all.sh stage, per profile. Sourced by run_all.sh (which sets PROFILE and RUNS).
# The smoke profile runs everything on CPU in minutes on toy data; its numbers are never paper results.

# The progression of Section 3.1 (registry keys, in order).
PROGRESSION=(static_circles moving_circles moving_shapes moving_transforming_shapes accelerating_transforming_shapes
             accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops)
TEXTURED=(accelerating_transforming_textures accelerating_transforming_stylegan accelerating_transforming_image_crops)

if [ "$PROFILE" = smoke ]; then
  PRETRAIN_SETS=(moving_circles accelerating_transforming_shapes)
  UCF101_ROOT="$RUNS/toy"; HMDB51_ROOT="$RUNS/toy"
  UCF_DATASET=toy_ucf101; HMDB_DATASET=toy_hmdb51
  LAUNCH="python"
else
  PRETRAIN_SETS=("${PROGRESSION[@]}")
  UCF_DATASET=ucf101; HMDB_DATASET=hmdb51
  LAUNCH="torchrun --nproc_per_node ${NPROC:-gpu}"
fi

check_inputs() {  # fail before any work when a paper-scale input is missing
  [ "$1" = smoke ] && return 0
  local missing=()
  [ -d "${UCF101_ROOT:-}/UCF-101" ] || missing+=("UCF101_ROOT (a folder holding UCF-101/ and ucfTrainTestlist/)")
  [ -d "${HMDB51_ROOT:-}" ] || missing+=("HMDB51_ROOT (HMDB51 videos + testTrainMulti_7030_splits/)")
  [ -d "${IMAGENET_ROOT:-}" ] || missing+=("IMAGENET_ROOT (ImageNet train in ImageFolder layout)")
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
  local p="--profile $PROFILE" name
  case "$1" in
  data)
    if [ "$PROFILE" = smoke ]; then
      echo "python data_gen/3_1_texture_banks.py $p --source statistical --num 16 --out $RUNS/textures/statistical"
      for name in moving_circles accelerating_transforming_shapes accelerating_transforming_textures; do
        echo "python data_gen/3_1_generate.py $p --dataset $name --num-videos 2 --out $RUNS/data/$name"
      done
      echo "python data_gen/3_1_sample_grid.py $p --out $RUNS/figures/fig1_samples.png"
      echo "python data_gen/4_0_make_toy.py $p --out $RUNS/toy"
    else
      for name in statistical stylegan; do
        echo "python data_gen/3_1_texture_banks.py $p --source $name --num 300000 --out $RUNS/textures/$name"
      done
      for name in "${TEXTURED[@]}"; do
        echo "python data_gen/3_1_generate.py $p --dataset $name --out $RUNS/data/$name --imagenet \$IMAGENET_ROOT --workers 16"
      done
      echo "python data_gen/3_1_sample_grid.py $p --out $RUNS/figures/fig1_samples.png --imagenet \$IMAGENET_ROOT"
    fi ;;
  pretrain)
    for name in "${PRETRAIN_SETS[@]}"; do
      echo "$LAUNCH pretrain/3_2_pretrain.py $p --dataset $name --out $RUNS/pretrain/$name"
    done ;;
  finetune)
    echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init scratch --out $RUNS/finetune/$UCF_DATASET/scratch"
    for name in "${PRETRAIN_SETS[@]}"; do
      echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init $RUNS/pretrain/$name/checkpoint.pth --out $RUNS/finetune/$UCF_DATASET/$name"
      echo "$LAUNCH finetune/4_1_finetune.py $p --dataset $HMDB_DATASET --data-root $HMDB51_ROOT --init $RUNS/pretrain/$name/checkpoint.pth --out $RUNS/finetune/$HMDB_DATASET/$name"
      echo "$LAUNCH linprobe/4_3_linprobe.py $p --dataset $UCF_DATASET --data-root $UCF101_ROOT --init $RUNS/pretrain/$name/checkpoint.pth --out $RUNS/linprobe/$UCF_DATASET/$name"
    done ;;
  ucf101p)
    echo "python data_gen/4_2_make_ucf101p.py $p --data-root $UCF101_ROOT --out $RUNS/ucf101p/data"
    for name in "${PRETRAIN_SETS[@]}"; do
      echo "python finetune/4_2_eval_ucf101p.py $p --data $RUNS/ucf101p/data --checkpoint $RUNS/finetune/$UCF_DATASET/$name/checkpoint.pth --out $RUNS/ucf101p/eval/$name"
    done ;;
  analysis)
    if [ "$PROFILE" = smoke ]; then
      echo "python analysis/5_4_frame_properties.py $p --datasets ${PRETRAIN_SETS[*]} --reference $UCF101_ROOT --stats spectrum,color --out $RUNS/analysis"
    else
      echo "python analysis/5_3_similarity.py $p --datasets ${PROGRESSION[*]} --reference $UCF101_ROOT --inception-weights \$INCEPTION_WEIGHTS --i3d-weights \$I3D_WEIGHTS --out $RUNS/analysis"
      echo "python analysis/5_4_frame_properties.py $p --datasets ${PROGRESSION[*]} --reference $UCF101_ROOT --inception-weights \$INCEPTION_WEIGHTS --out $RUNS/analysis"
      echo "python analysis/5_5_visualize_features.py $p --reference $UCF101_ROOT --checkpoints $RUNS/pretrain/*/checkpoint.pth --out $RUNS/analysis/fig5_pca.png"
    fi ;;
  tables)
    echo "python paper_tables/make_tables.py $p --runs $RUNS --out results/$PROFILE" ;;
  esac
}
