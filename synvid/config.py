"""Every hyper-parameter of the package, declared once.

Each dataclass holds one stage's settings; its defaults are the paper's values (Tables 5-8, Appendix 9.2),
which is the `paper` profile. The other profiles (authors, mini, cpu, smoke) are small override sets in
synvid/profiles.py, as are the labelled datasets' recipes (K400's fine-tuning, the authors' HMDB51 clip).

Command-line flags are generated from the same fields (`add_arguments`), so nothing is declared twice. Every
script resolves them in one step (`settings`, over `resolve`): dataclass default -> profile -> the dataset's recipe
-> explicit flag.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from pathlib import Path

from synvid.errors import BadInput
from synvid.profiles import PROFILES, RECIPE_PARTS, RECIPES


# --- Stage configurations (defaults = profile `paper`) ---------------------------------------------------------------

@dataclass
class RenderConfig:
    """Synthetic video generator (Section 3.1, Table 8, Appendix 9.2, PROTOCOLS.md §6)."""
    size: int = 256                      # §9.2: 256x256
    fps: int = 25                        # §9.2: 25 fps
    min_frames: int = 100                # §9.2: length ~ U(100, 200)
    max_frames: int = 200                # §9.2; inclusive on the fly, excluded offline (progression.num_frames)
    num_shapes: int = 500                # PROTOCOLS §6 / Q3: 500 shapes per video, all sampled at t = 0
    min_speed: float = 1.2               # Table 8: initial speed ~ U(1.2, 3.0) px/frame
    max_speed: float = 3.0               # Table 8
    # Table 8 gives (-0.06, 0.06); the code's x = x0 + (v0 + a t) t draws a ~ U(-.03, .03) (Q1)
    max_accel: float = 0.03
    max_rotation_speed: float = math.pi / 100   # Table 8: rotation speed ~ U(-pi/100, pi/100) rad/frame
    max_scale_speed: float = 0.005       # Table 8: scale x/y speed ~ U(-0.005, 0.005)
    max_shear_speed: float = 0.005       # Table 8: shear x/y speed ~ U(-0.005, 0.005)
    speed_multiplier: float = 1.0        # §9.4 / Table 9: 0.5 for the "slower" ablation
    background: str = "black"            # §9.4 / Table 10: black | color | image
    # Equal compute across the progression (§9.2, the UCF101 train size): a fixed (materialised) set has
    # num_videos videos and an on-the-fly epoch num_videos clips, under every profile. Declared only here: the
    # pre-training epoch of an on-the-fly set, the fixed sets' size and the Section 5 samplers all read it.
    num_videos: int = 9537


@dataclass
class TextureConfig:
    """Texture sources for the textured datasets (Section 3.1, 5.2, shared/reference/TEXTURES.md)."""
    size: int = 256                      # TEXTURES.md: the learning_with_noise textures are used at 256^2 here
    pool_size: int = 300_000             # Table 2: 300k statistical textures / StyleGAN samples / images
    imagenet: str = ""                   # ImageFolder root (ImageNet train) for image crops; "" = not given


@dataclass
class PretrainConfig:
    """VideoMAE pre-training (Section 3.2, Table 5, PROTOCOLS.md §2.2)."""
    model: str = "pretrain_videomae_base_patch16_224"   # §4: ViT-B
    decoder_depth: int = 4               # PROTOCOLS §2.1: UCF101 scripts use 4
    mask_ratio: float = 0.75             # Table 5
    epochs: int = 3200                   # Table 5 (the official 3201 is a scheduler work-around, not copied)
    warmup_epochs: int = 40              # Table 5
    batch_size: int = 256                # Table 5: total batch over all processes
    base_lr: float = 3e-4                # Table 5: lr = base_lr * batch_size / 256
    min_lr: float = 1e-5                 # VM run_mae_pretraining.py default, scaled like lr
    weight_decay: float = 0.05           # Table 5
    beta1: float = 0.9                   # Table 5
    beta2: float = 0.95                  # Table 5
    num_frames: int = 16                 # PROTOCOLS §2.2: 16 frames
    sampling_rate: int = 4               # PROTOCOLS §2.2: stride 4
    input_size: int = 224                # PROTOCOLS §2.2: MultiScaleCrop to 224
    clip_grad: float = 0.0               # official code clips nothing; > 0 enables clipping
    bf16: bool = True                    # autocast on CUDA (ignored on CPU)
    compile: bool = False                # torch.compile the model
    grad_checkpointing: bool = False     # activation checkpointing in the encoder
    save_every: int = 1000               # steps between atomic checkpoints
    num_workers: int = 8                 # DataLoader workers per process
    render_device: str = "loader"        # loader = CPU workers render; device = shape sets on the GPU
    mix_fraction: float = 0.0            # Table 11 / §9.4: this fraction of each epoch from --mix-list (real videos)
    deterministic: bool = False          # torch.use_deterministic_algorithms (exact resume, slower on CUDA)
    tensorboard: bool = False            # also write TensorBoard scalars to <out>/tb
    objective: str = "videomae"          # videomae (the paper) | vjepa (VjepaConfig holds its recipe)
    seed: int = 0


# V-JEPA's learning rates are per 256 clips: the official values (batch 3072 = 24 x 128 GPUs) times 256 / 3072, so
# our VideoMAE rule lr = value * batch_size / 256 gives the official lr at the official batch.
_VJEPA_BATCH = 3072                      # jepa configs/pretrain/vitl16.yaml: batch_size 24, 16 nodes x 8 tasks


@dataclass
class VjepaConfig:
    """V-JEPA objective (Bardes et al. 2024; jepa configs/pretrain/vitl16.yaml, app/vjepa/train.py).

    Used when PretrainConfig.objective == 'vjepa', in place of PretrainConfig's VideoMAE-only fields (mask_ratio,
    decoder_depth, base_lr, min_lr, warmup_epochs, weight_decay, beta1, beta2, clip_grad). PretrainConfig still
    sets the run: encoder size (`model`), epochs, batch, data, clip sampling, seed. CLI flags: --vjepa-<field>."""
    predictor_depth: int = 12            # vitl16.yaml model.pred_depth
    predictor_dim: int = 384             # vitl16.yaml model.pred_embed_dim (heads = encoder heads, utils.py)
    short_blocks: int = 8                # vitl16.yaml mask[0]: 8 blocks of spatial scale 0.15
    short_scale: float = 0.15
    long_blocks: int = 2                 # vitl16.yaml mask[1]: 2 blocks of spatial scale 0.7
    long_scale: float = 0.7
    aspect_min: float = 0.75             # vitl16.yaml mask[*].aspect_ratio (0.75, 1.5); temporal_scale 1.0
    aspect_max: float = 1.5
    # multiblock3d.py MaskCollator cuts each GPU's masks to that batch's shortest (vitl16.yaml data.batch_size 24
    # per GPU); we cut per group of this many consecutive clips of the global batch, whatever the process count
    mask_group: int = 24
    loss_exp: float = 1.0                # vitl16.yaml loss.loss_exp (L1); reg_coeff 0 (no regulariser)
    base_lr: float = 6.25e-4 * 256 / _VJEPA_BATCH    # vitl16.yaml optimization.lr (peak), per 256 clips
    start_lr: float = 2e-4 * 256 / _VJEPA_BATCH      # optimization.start_lr (warm-up start), per 256 clips
    min_lr: float = 1e-6 * 256 / _VJEPA_BATCH        # optimization.final_lr, per 256 clips
    warmup_fraction: float = 40 / 300    # optimization.warmup 40 of epochs 300
    schedule_stretch: float = 1.25       # optimization.ipe_scale: lr/wd/momentum schedules span 1.25 x the run
    weight_decay: float = 0.04           # optimization.weight_decay (cosine start)
    final_weight_decay: float = 0.4      # optimization.final_weight_decay (cosine end)
    ema_start: float = 0.998             # optimization.ema[0]: target-encoder momentum, linear ...
    ema_end: float = 1.0                 # optimization.ema[1]
    clip_grad: float = 10.0              # optimization.clip_grad (encoder and predictor separately, after warm-up)
    beta1: float = 0.9                   # train.py betas default (0.9, 0.999)
    beta2: float = 0.999


@dataclass
class FinetuneConfig:
    """Supervised fine-tuning and multi-view test (Section 4.1, Table 6, PROTOCOLS.md §2.3-2.4)."""
    model: str = "vit_base_patch16_224"
    epochs: int = 100                    # Table 6
    warmup_epochs: int = 5               # Table 6
    batch_size: int = 256                # Table 6: total batch (videos)
    base_lr: float = 1e-3                # Table 6: lr = base_lr * batch_size / 256
    min_lr: float = 1e-5                 # VM UCF101 scripts (not in Table 6)
    weight_decay: float = 0.05           # Table 6
    beta1: float = 0.9                   # Table 6
    beta2: float = 0.95                  # Table 6
    layer_decay: float = 0.7             # Table 6
    drop_path: float = 0.2               # Table 6
    dropout: float = 0.0                 # Table 6 (classifier dropout)
    flip: bool = True                    # Table 6
    randaug_magnitude: int = 9           # Table 6: RandAug (9, 0.5)
    randaug_std: float = 0.5             # Table 6
    randaug_num_ops: int = 2             # Q7: "(9, 0.5)" = timm rand-m9-mstd0.5-inc1, n = 2
    label_smoothing: float = 0.1         # Table 6
    mixup: float = 0.8                   # Table 6: mixup alpha
    cutmix: float = 1.0                  # Table 6: cutmix alpha
    mixup_switch_prob: float = 0.5       # VM default (timm Mixup)
    random_erase: float = 0.25           # VM default, kept by §9.3 "similar to Tong et al."
    repeated_aug: int = 2                # VM --num_sample 2, kept by §9.3 "similar to Tong et al."
    num_frames: int = 16                 # PROTOCOLS §2.3
    sampling_rate: int = 4               # PROTOCOLS §2.3 (Q9: the paper says HMDB51 is as UCF101)
    input_size: int = 224
    short_side_size: int = 224           # PROTOCOLS §2.4: test resize
    test_clips: int = 0                  # Table 6: 5 (UCF101); §9.3: 10 (HMDB51). 0 = the dataset's own
    test_crops: int = 3                  # Table 6
    split: int = 1                       # PROTOCOLS §1.1: the paper uses split 1
    bf16: bool = True
    compile: bool = False
    save_every: int = 1000
    num_workers: int = 8
    cache_decoded: bool = False          # decode each training video once and keep its frames in memory (small
                                         #   sets only; the clips are the same: docs/finetuning.md)
    strict: bool = False                 # stop at the first unreadable training video instead of skipping it
    # a missing/unreadable test video stops the run unless this is set; then it is left out and named
    allow_missing: bool = False          #   in DONE (test_listed, test_evaluated, test_missing)
    seed: int = 0


@dataclass
class LinprobeConfig:
    """Linear probing (Section 4.3, Table 7, PROTOCOLS.md §2.6 and Q10): only what differs from fine-tuning.

    §4.3 "the same hyper-parameters as used for fine-tuning, replacing only the base learning rate to 0.01, and do
    not use weight decay": a probe runs the FinetuneConfig of its profile, dataset recipe and command line (model,
    clip, schedule, augmentations, test views) with the PROBE_REPLACES fields taken from here."""
    optimizer: str = "adamw"             # Table 7
    base_lr: float = 1e-2                # Table 7 / §4.3: "replacing only the base learning rate to 0.01"
    min_lr: float = 0.0                  # YU run_linear_probe.py default
    weight_decay: float = 0.0            # Table 7 / §4.3: "do not use weight decay"
    layer_decay: float = 1.0             # YU run_linear_probe.py default (only the head trains)
    cache_features: bool = False         # False: §4.3, fine-tuning augmentations on every step (probe_mode
                                         #   finetune_aug); True: fast mode, head on cached features of
                                         #   unaugmented views (probe_mode cached; docs/finetuning.md)


# The FinetuneConfig settings a probe replaces with its own (engine.linprobe.finetune_settings): every field the two
# classes share, so a LinprobeConfig field never shadows a fine-tuning one by accident
PROBE_REPLACES = tuple(f.name for f in dataclasses.fields(LinprobeConfig)
                       if f.name in {g.name for g in dataclasses.fields(FinetuneConfig)})


@dataclass
class RobustnessConfig:
    """UCF101-P (Section 4.2, Figure 3, PROTOCOLS.md §4)."""
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)   # PROTOCOLS §4.4 / Q12: all five, per severity and their mean
    headline: str = "mean"               # §4.4: paper = mean over the severities; authors "1" (YU --severity default)
    mode: str = "benchmark"              # §4.5: "benchmark" = the UCF101-P files (SCH-VL generate_noisy_videos.py);
    #                                      "hook" = YU's corruption of each 224 test view (kinetics.py)
    allow_missing: bool = False          # as FinetuneConfig.allow_missing (test_listed/evaluated/missing recorded)
    num_segments: int = 5                # Table 6 / PROTOCOLS §2.4: UCF101's 5 test clips (x the run's test_crops)
    seed: int = 0
    translate_resize: int = 256          # SCH-VL generate_noisy_videos.py translate: short side resized to 256, ...
    translate_crop: int = 224            # ... then a new random 224 crop per frame (offsets < 8 s)


@dataclass
class StatsConfig:
    """Dataset statistics of Section 5 (PROTOCOLS.md §5)."""
    fid_frames: int = 10_000             # §5.3: 10k random frames per dataset
    fvd_videos: int = 1_000              # §5.3: 1,000 videos per dataset
    fvd_frames: int = 16                 # PROTOCOLS §5.2: 16 consecutive frames
    diversity_videos: int = 1_000        # §5.4; each gives one pre-training clip (PretrainConfig num_frames at
                                         #   sampling_rate: "16 sampled frames in randomly sampled videos")
    spectrum_frames: int = 1_000         # PROTOCOLS §5.4 (inferred)
    color_frames: int = 1_000            # PROTOCOLS §5.4 (inferred)
    pca_videos: int = 70                 # §5.5 / Fig. 5: 70 videos of one class
    pca_frames: int = 32                 # §5.5: 32 frames
    # §5.5 / Fig. 5: the pre-trained ViT-B models M_i (built as the classifier their encoder loads into), fed clips
    pca_model: str = FinetuneConfig.model            # of their pre-training length and size
    pca_num_frames: int = PretrainConfig.num_frames
    pca_input_size: int = PretrainConfig.input_size
    batch_size: int = 50
    seed: int = 0


CONFIGS = (RenderConfig, TextureConfig, PretrainConfig, VjepaConfig, FinetuneConfig, LinprobeConfig,
           RobustnessConfig, StatsConfig)

# --- Profiles and dataset recipes (synvid/profiles.py): override sets keyed by config class name ------------------

def _check_overrides(where: str, overrides: dict) -> None:
    names = {cls.__name__: {f.name for f in dataclasses.fields(cls)} for cls in CONFIGS}
    for cls_name, values in overrides.items():
        unknown = set(values) - names.get(cls_name, set())
        if cls_name not in names or unknown:
            raise BadInput(f"{where}: unknown setting {cls_name}.{sorted(unknown) or ''}")


def _check_profiles() -> None:
    for profile, overrides in PROFILES.items():
        _check_overrides(f"profile {profile!r}", overrides)
    for dataset, parts in RECIPES.items():
        for part, overrides in parts.items():
            if part not in RECIPE_PARTS:
                raise BadInput(f"recipe {dataset!r}: unknown part {part!r}; choose from {', '.join(RECIPE_PARTS)}")
            _check_overrides(f"recipe {dataset!r} ({part})", overrides)


_check_profiles()


# --- Resolution, command line, persistence ---------------------------------------------------------------------------

# Settings that do not change what a run measures: setting them keeps a run the profile's run (not an override). The
# seed is recorded on its own (`--seeds`); denominators of --allow-missing are recorded as test_listed / test_evaluated.
RESULT_FREE = frozenset({"seed", "num_workers", "save_every", "compile", "strict", "allow_missing"})


def resolve(cls, profile: str = "paper", dataset: str | None = None, **values):
    """The config of `cls`: dataclass default < `profile` < the recipe of `dataset` (the parts that apply under
    `profile`) < `values` (None values are ignored). The one place this order is written."""
    if profile not in PROFILES:
        raise BadInput(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    recipe = RECIPES.get(dataset, {})
    layers = [PROFILES[profile], *(recipe.get(part, {}) for part, under in RECIPE_PARTS.items() if profile in under)]
    merged = {k: v for layer in layers for k, v in layer.get(cls.__name__, {}).items()}
    merged.update({k: v for k, v in values.items() if v is not None})
    unknown = set(merged) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise BadInput(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")
    return cls(**_tuples(cls, merged))


def settings(cls, profile: str, *, dataset: str | None = None, flags: argparse.Namespace | None = None,
             prefix: str = "", skip: tuple[str, ...] = ()):
    """The step of every script from its command line to a config: returns (config, overrides). `config` is `cls`
    resolved (`resolve`: default < profile < dataset recipe < flag) with the flags of `add_arguments(..., skip,
    prefix)` in `flags`; `overrides` the settings in which those flags changed what the profile and recipe give,
    except the RESULT_FREE ones: what a downstream run records so that the tables show it apart ({} = the profile's
    run)."""
    lead = prefix + "_" if prefix else ""
    given = {f.name: getattr(flags, lead + f.name, None) for f in dataclasses.fields(cls) if f.name not in skip}
    base, config = dataclasses.asdict(resolve(cls, profile, dataset)), resolve(cls, profile, dataset, **given)
    overrides = {k: v for k, v in dataclasses.asdict(config).items() if v != base[k] and k not in RESULT_FREE}
    return config, overrides


def _tuples(cls, values: dict) -> dict:
    """Lists (from the command line or JSON) of tuple-typed fields as tuples."""
    hints = typing.get_type_hints(cls)
    return {k: tuple(v) if isinstance(v, list) and typing.get_origin(hints[k]) is tuple else v
            for k, v in values.items()}


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (), prefix: str = "") -> None:
    """One `--[prefix-]field-name` flag per dataclass field; default None so that unset flags keep the profile
    value. `prefix` keeps two configs' same-named fields apart (VjepaConfig: prefix 'vjepa')."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    lead = prefix + "_" if prefix else ""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag, dest = "--" + (lead + f.name).replace("_", "-"), lead + f.name
        if typing.get_origin(kind) is tuple:                  # tuple[int, ...]: one or more values
            kind = typing.get_args(kind)[0]
            group.add_argument(flag, dest=dest, type=kind, nargs="+", default=None,
                               metavar=kind.__name__.upper(), help=f"(paper: {' '.join(map(str, default))})")
            continue
        parse = _parse_bool if kind is bool else kind
        # a bare boolean flag (`--allow-missing`) means true; `--flag false` still turns one off
        bare = {"nargs": "?", "const": True} if kind is bool else {}
        group.add_argument(flag, dest=dest, type=parse, default=None, metavar=kind.__name__.upper(),
                           help=f"(paper: {default})", **bare)


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="paper", choices=sorted(PROFILES),
                        help="settings profile (default: paper = Tables 5-8)")


def to_dict(*configs, **extra) -> dict:
    """Plain-dict form of configs (for config.json and checkpoints: no pickled objects)."""
    out = {type(c).__name__: dataclasses.asdict(c) for c in configs}
    out.update(extra)
    return out


def load_config(cls, path: str | Path):
    """Read one config back from a run's config.json (synvid.runs.RunDir writes `to_dict` of its configs)."""
    data = json.loads(Path(path).read_text())
    if cls.__name__ not in data:
        raise BadInput(f"{path} holds no {cls.__name__}")
    return cls(**_tuples(cls, data[cls.__name__]))

