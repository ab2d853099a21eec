"""The settings profiles and the per-dataset recipes: override sets keyed by config class name (synvid/config.py
declares the fields and their defaults, which are the `paper` profile, and applies these sets in one order:
config.resolve; config._check_profiles refuses an unknown name at import).

- `paper`: the tables as printed (no overrides);
- `authors`: what the authors' released scripts actually ran where that differs from the tables
  (shared/reference/PROTOCOLS.md §2.7 and §7);
- `mini`: one GPU, hours;
- `cpu`: the miniature reproduction on a 2-core CPU within an hour (docs/miniature.md);
- `smoke`: CPU, minutes (tiny model, tiny clips). Neither cpu's nor smoke's numbers are paper results.
"""
import typing

PROFILES: dict[str, dict[str, dict[str, typing.Any]]] = {
    "paper": {},
    # PROTOCOLS §2.7 (paper vs released scripts) and §7 Q6-Q10.
    "authors": {
        "PretrainConfig": {"batch_size": 192},                      # 24/GPU x 8 (VM) = 6 x 32 (YU)
        "FinetuneConfig": {"beta2": 0.999,                           # DeepSpeed's Adam config overrides --opt_betas
                           "dropout": 0.5,                           # fc_drop_rate 0.5 in the UCF scripts
                           "randaug_magnitude": 7, "randaug_num_ops": 4},   # rand-m7-n4-mstd0.5-inc1 (code default)
        # LP.sh: --lr 1e-1, AdamW via DeepSpeed; its beta2 0.999 (DeepSpeed's Adam config) and dropout 0.5 (FT
        # fc_drop_rate left on in the probe) are the fine-tuning values above, which the probe runs with
        "LinprobeConfig": {"base_lr": 0.1},
        "RobustnessConfig": {"headline": "1", "mode": "hook"},       # YU run_class_finetuning.py --severity 1, hook
    },
    "mini": {
        "RenderConfig": {"num_videos": 2000},
        "TextureConfig": {"pool_size": 20_000},
        "PretrainConfig": {"model": "pretrain_videomae_small_patch16_224", "epochs": 200,
                           "warmup_epochs": 10, "batch_size": 64},
        "FinetuneConfig": {"model": "vit_small_patch16_224", "epochs": 30, "batch_size": 64},   # and the probe's
        "StatsConfig": {"fid_frames": 2000, "fvd_videos": 200, "diversity_videos": 200,
                        "pca_model": "vit_small_patch16_224"},      # mini pre-trains ViT-S
    },
    # The miniature reproduction (docs/miniature.md): M1-M5 pre-trained, fine-tuned and probed on the toy action set
    # within an hour on 2 CPU cores. Every value is fixed here for all sets alike, before measuring.
    "cpu": {
        # 64 px renders of the 256-px canvas (the crop keeps the whole canvas, as 224 of 256 does); videos of
        # 32-64 frames (the paper's 100-200, scaled with the clip); an epoch is 2,000 clips
        "RenderConfig": {"size": 64, "min_frames": 32, "max_frames": 64, "num_videos": 2000},
        "TextureConfig": {"size": 32, "pool_size": 16},
        # patch 8 at 64 px: an 8x8 token grid (a 4x4 grid at patch 16 left the MAE loss flat: 0.97 -> 0.95 in 20k
        # clips); 8 frames at stride 4 span 29 frames, so shapes move 9-22 px of 64 per clip as in the paper's
        # 16 x 4 at 224; mask 0.9 (VideoMAE's default; Table 5's 0.75 is the other allowed value) keeps the
        # encoder at 26 tokens. 12 epochs x 2,000 clips at ~100 clips/s: about 4 minutes per set.
        # lr = base_lr * 32 / 256 = 1.5e-3 (the /256 rule at batch 32 with the paper's 3e-4 gives 3.75e-5,
        # which barely moves a short run)
        "PretrainConfig": {"model": "pretrain_videomae_tiny_patch8_64", "mask_ratio": 0.9, "epochs": 12,
                           "warmup_epochs": 1, "batch_size": 32, "base_lr": 1.2e-2, "min_lr": 1.2e-4,
                           "num_frames": 8, "sampling_rate": 4, "input_size": 64, "save_every": 250,
                           "num_workers": 1},
        # 400 training videos, 40 epochs of batch 16 = 1,000 steps (~1 min); peak lr 1e-3 with layer decay 0.75.
        # Off, with the reason: flip (it turns PanLeft into PanRight), RandAugment, MixUp/CutMix, erasing, drop
        # path and repeated augmentation (built for 9.5k videos x 100 epochs on ViT-B; the toy set is 400 videos
        # on a 2-block ViT). The crop, the multi-view test and the rest of the recipe are the paper's.
        "FinetuneConfig": {"model": "vit_tiny_patch8_64", "epochs": 40, "warmup_epochs": 4, "batch_size": 16,
                           "base_lr": 1.6e-2, "min_lr": 1.6e-4, "layer_decay": 0.75, "drop_path": 0.0,
                           "flip": False, "randaug_num_ops": 0, "mixup": 0.0, "cutmix": 0.0, "random_erase": 0.0,
                           "repeated_aug": 1, "num_frames": 8, "sampling_rate": 4, "input_size": 64,
                           "short_side_size": 64, "save_every": 1000, "num_workers": 1,
                           # decoding 16 clips (~170 ms) outweighs the ~60 ms step; 400 toy videos are ~250 MB
                           "cache_decoded": True},
        # the fast probe (a head on cached features of the unaugmented views): 36 probes fit the hour only so;
        # lr = 0.16 * 16 / 256 = 1e-2, the probe's Table 7 peak (model, clip and schedule: fine-tuning's above)
        "LinprobeConfig": {"base_lr": 0.16, "cache_features": True},
        # Section 5 is off in the miniature; its settings name the miniature's model so a by-hand run fits it
        "StatsConfig": {"fid_frames": 256, "fvd_videos": 16, "diversity_videos": 64, "spectrum_frames": 128,
                        "color_frames": 128, "pca_videos": 8, "pca_frames": 8, "batch_size": 16,
                        "pca_model": "vit_tiny_patch8_64", "pca_num_frames": 8, "pca_input_size": 64},
    },
    "smoke": {
        "RenderConfig": {"size": 64, "min_frames": 20, "max_frames": 24, "num_shapes": 40, "num_videos": 8},
        "TextureConfig": {"size": 32, "pool_size": 16},
        "PretrainConfig": {"model": "pretrain_videomae_tiny_patch16_224", "epochs": 2, "warmup_epochs": 1,
                           "batch_size": 4, "num_frames": 4, "sampling_rate": 2,
                           "input_size": 32, "save_every": 2, "num_workers": 0},
        "VjepaConfig": {"predictor_depth": 1, "predictor_dim": 32},
        "FinetuneConfig": {"model": "vit_tiny_patch16_224", "epochs": 2, "warmup_epochs": 1, "batch_size": 4,
                           "num_frames": 4, "sampling_rate": 2, "input_size": 32, "short_side_size": 32,
                           "repeated_aug": 1, "test_clips": 2, "save_every": 4, "num_workers": 0},
        "StatsConfig": {"fid_frames": 32, "fvd_videos": 4, "fvd_frames": 4, "diversity_videos": 4,
                        "spectrum_frames": 16, "color_frames": 16,
                        "pca_videos": 2, "pca_frames": 4, "batch_size": 8,
                        "pca_model": "vit_tiny_patch16_224", "pca_num_frames": 4, "pca_input_size": 32},
        "RobustnessConfig": {"severities": (1, 3), "translate_resize": 64, "translate_crop": 32},
    },
}



# Per-dataset recipes: what a labelled dataset (a synvid.data.registry name) changes, over the profile and under the
# command line (config.resolve), in parts named by the profiles they apply under (RECIPE_PARTS): `every` under all;
# `full_scale` (run length and batch) under paper and authors only (mini, cpu and smoke keep their own scale);
# `authors` on top of the authors profile only (what the authors' scripts changed). A linear probe runs the
# fine-tuning settings of its dataset, so it gets the FinetuneConfig recipe too (docs/finetuning.md).
RECIPE_PARTS: dict[str, tuple[str, ...]] = {"every": tuple(PROFILES), "full_scale": ("paper", "authors"),
                                            "authors": ("authors",)}
RECIPES: dict[str, dict[str, dict[str, dict[str, typing.Any]]]] = {
    # Q9: YU's HMDB51 script; the paper: as UCF101 (4)
    "hmdb51": {"authors": {"FinetuneConfig": {"sampling_rate": 2}}},
    # Q15: the paper gives no K400 recipe, so every profile runs official VM's K400 ViT-B one (MCG-NJU/VideoMAE
    # scripts/kinetics/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_1600/finetune.sh and the
    # run_class_finetuning.py defaults it leaves). Equal to FinetuneConfig already: wd 0.05, warm-up 5, smoothing
    # 0.1, mixup 0.8 / cutmix 1.0, reprob 0.25, num_sample 2, RandAug mstd 0.5, 16 x 4 frames, 5 x 3 test views.
    "k400": {
        "every": {"FinetuneConfig": {"base_lr": 5e-4,                       # finetune.sh --lr 5e-4 (per 256)
                                     "min_lr": 1e-6,                        # run_class_finetuning default
                                     "beta2": 0.999,                        # finetune.sh --opt_betas 0.9 0.999
                                     "layer_decay": 0.75, "drop_path": 0.1,    # defaults
                                     "dropout": 0.0,                        # fc_drop_rate default 0 (even if authors)
                                     "randaug_magnitude": 7, "randaug_num_ops": 4}},  # --aa rand-m7-n4-mstd0.5-inc1
        "full_scale": {"FinetuneConfig": {"epochs": 75,                     # finetune.sh --epochs 75
                                          "batch_size": 384}},              # 6 per GPU x 64 GPUs
    },
}
