"""A synvid pre-training run in the layouts other code loads (pretrain/3_2_export.py):

- `videomae`: the official MCG-NJU VideoMAE checkpoint (`{'model': state_dict}`, as VM `utils.save_model` keys it),
  loaded by VM's `modeling_pretrain.py` models and by `run_class_finetuning.py --finetune` (VideoMAE runs);
- `hf`: a HuggingFace transformers `VideoMAEForPreTraining` folder (config.json + model.safetensors), loaded by
  `from_pretrained` (VideoMAE runs; transformers >= 5 names);
- `vjepa`: the official facebookresearch/jepa checkpoint (`encoder` / `target_encoder` / `predictor` / `epoch`, as
  `app/vjepa/train.py` saves it), loaded by its `init_video_model` models and its evals (V-JEPA runs).
The weights come from a run directory (its last.pth) or one of its checkpoints, resolved by synvid.inits; the model
is rebuilt from the config the checkpoint carries, by the objective that trained it (synvid.engine.objectives).
"""
from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from synvid import inits
from synvid.checkpoint import export_hf_state_dict, export_official, export_vjepa, load_checkpoint, load_pretrained
from synvid.config import PretrainConfig, VjepaConfig, resolve
from synvid.engine import objectives
from synvid.errors import BadInput
from synvid.models.vit import LN_EPS
from synvid.runs import atomic_write_json

FORMATS = {"videomae": "videomae", "hf": "videomae", "vjepa": "vjepa"}   # format -> the objective it holds


def pretrained(source, *, allow_unfinished: bool = False) -> tuple[nn.Module, dict]:
    """The pre-training model of a synvid run directory or checkpoint file, with its weights, and the
    checkpoint's dict (step, epoch, config)."""
    init = inits.resolve(source, allow_unfinished=allow_unfinished)
    if init.kind != "synvid":
        raise BadInput(f"{source} is a {init.kind} file: export reads a synvid pre-training run directory or a "
                       f"checkpoint of one (pretrain/3_2_pretrain.py)")
    checkpoint = load_checkpoint(init.weights)
    config = checkpoint.get("config") or {}
    if "PretrainConfig" not in config:
        raise BadInput(f"{init.weights} is not a pre-training checkpoint (its config holds no PretrainConfig)")
    cfg = resolve(PretrainConfig, "paper", **config["PretrainConfig"])
    vjepa = resolve(VjepaConfig, "paper", **config["VjepaConfig"]) if "VjepaConfig" in config else None
    model = objectives.build(cfg, vjepa).build_model("cpu")
    load_pretrained(model, init.weights)
    return model.eval(), checkpoint


def hf_config(model: nn.Module) -> dict:
    """transformers `VideoMAEConfig` of our PretrainVideoMAE (VM's architecture: GELU, q/v biases, LayerNorm eps
    1e-6, the final encoder norm kept, so no mean pooling; normalised-pixel targets)."""
    enc, dec = model.encoder, model.decoder
    t, h, _ = model.window

    def stack(prefix: str, part) -> dict:
        block = part.blocks[0]
        return {f"{prefix}hidden_size": block.norm1.normalized_shape[0], f"{prefix}num_hidden_layers": len(part.blocks),
                f"{prefix}num_attention_heads": block.attn.heads,
                f"{prefix}intermediate_size": block.mlp.fc1.out_features}
    return {"model_type": "videomae", "architectures": ["VideoMAEForPreTraining"], "image_size": h * model.patch,
            "patch_size": model.patch, "num_channels": 3, "num_frames": t * model.tubelet,
            "tubelet_size": model.tubelet, **stack("", enc), **stack("decoder_", dec), "hidden_act": "gelu",
            "layer_norm_eps": LN_EPS, "qkv_bias": True, "use_mean_pooling": False, "norm_pix_loss": True}


def export(source, fmt: str, out, *, allow_unfinished: bool = False) -> Path:
    """Write the run or checkpoint `source` in format `fmt` (FORMATS) to `out` (a file; a folder for `hf`)."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    model, checkpoint = pretrained(source, allow_unfinished=allow_unfinished)
    objective = checkpoint["config"]["PretrainConfig"].get("objective", inits.DEFAULT_OBJECTIVE)
    if objective != FORMATS[fmt]:
        fits = [f for f, o in FORMATS.items() if o == objective]
        raise BadInput(f"{source} was pre-trained with the {objective} objective: format {fmt} holds a "
                       f"{FORMATS[fmt]} model; export it as {' or '.join(fits)}")
    out = Path(out)
    if fmt == "videomae":
        return export_official(model, out)
    if fmt == "vjepa":
        return export_vjepa(model, out, epoch=int(checkpoint.get("epoch", 0)))
    export_hf_state_dict(model, out / "model.safetensors")
    atomic_write_json(out / "config.json", hf_config(model))
    return out
