"""Checkpoints: our save/resume layout, official MCG-NJU VideoMAE, HuggingFace transformers VideoMAE and official
V-JEPA (facebookresearch/jepa) layouts.

Our models use the official VideoMAE parameter names (PROTOCOLS §3.1), so the official layout needs no renaming;
this module is the single place that knows the `model|module` keys, the `encoder.`/`backbone.` prefixes
(VM `run_class_finetuning.py`, PROTOCOLS §3.2) and the HF names (PROTOCOLS §3.3).
"""
from __future__ import annotations

import argparse
import fnmatch
import pickle
import re
from pathlib import Path

import torch
import safetensors.torch
from torch import nn

from synvid.errors import CheckpointError
from synvid.models.vit import sinusoid_table
from synvid.runs import atomic_torch_save, atomic_write

FORMAT = "synvid-checkpoint-1"
# PROTOCOLS §3.2 step 5: loading a pre-training checkpoint into a classifier, exactly VM's expected key sets.
PRETRAIN_TO_CLASSIFIER = {
    "allow_missing": ("fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"),
    "allow_unexpected": ("norm.weight", "norm.bias", "decoder.*", "encoder_to_decoder.weight", "mask_token",
                         "target_encoder.*", "predictor.*"),  # V-JEPA: the context encoder is the one loaded
}
VJEPA_SECTIONS = ("encoder", "target_encoder", "predictor")  # jepa app/vjepa/train.py save_checkpoint keys


def unwrap(model: nn.Module) -> nn.Module:
    """Strip DDP (`.module`) and torch.compile (`._orig_mod`) wrappers so saved names carry no prefix."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(path, *, model, optimizer=None, scaler=None, step: int, epoch: int, config: dict, **extra):
    """Atomically save a plain, weights_only-loadable dict: model/optimizer/scaler state, step, epoch, config."""
    obj = {"format": FORMAT, "model": unwrap(model).state_dict(), "step": int(step), "epoch": int(epoch),
           "config": dict(config), **extra}
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    if scaler is not None:
        obj["scaler"] = scaler.state_dict()
    return atomic_torch_save(path, obj)


def load_checkpoint(path, *, trust: bool = False) -> dict:
    """Load a .pth/.bin (torch.load, weights_only unless trust=True) or .safetensors file to CPU, clear errors.
    weights_only admits `argparse.Namespace`, which official VideoMAE files pickle as `args` (a plain attribute
    holder: admitting it lets no code run), so they load without trust=True."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        try:
            return safetensors.torch.load_file(str(path), device="cpu")
        except (safetensors.SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "Unsupported global" in msg or "GLOBAL" in msg:
            raise CheckpointError(
                f"{path}: holds pickled Python objects that weights_only loading refuses. If you trust the file, "
                f"pass trust=True (torch.load weights_only=False). First line: "
                f"{msg.splitlines()[0] if msg else ''}") from e
        raise CheckpointError(f"{path}: corrupt or not a torch checkpoint ({msg.splitlines()[0] if msg else e})") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or not a torch checkpoint ({str(e).splitlines()[0]})") from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(obj).__name__}")
    return obj


def state_dict_of(obj: dict, path) -> dict[str, torch.Tensor]:
    """VM `--model_key model|module`: the first key present, else the dict itself; must map names to tensors."""
    for key in ("model", "module"):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(f"{path}: no model state_dict found (top-level keys: {sorted(map(str, obj))[:10]})")
    return obj


# --- HuggingFace transformers VideoMAE names (PROTOCOLS §3.3) -------------------------------------------------
_HF_LAYER = [  # (HF 5.x sub-name, official sub-name), both ways; query/key/value weights: qkv split/concat
    ("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."), ("attention.output.dense.", "attn.proj."),
    ("intermediate.dense.", "mlp.fc1."), ("output.dense.", "mlp.fc2."),
    ("attention.attention.query.bias", "attn.q_bias"), ("attention.attention.value.bias", "attn.v_bias"),
]
_HF4_BIASES = [("attention.attention.q_bias", "attn.q_bias"), ("attention.attention.v_bias", "attn.v_bias")]  # read
_OFFICIAL_TO_HF = {o: h for h, o in _HF_LAYER}
_HF_TOP = [("videomae.embeddings.patch_embeddings.projection.", "patch_embed.proj."), ("videomae.layernorm.", "norm."),
           ("fc_norm.", "fc_norm."), ("classifier.", "head.")]
_HF_BLOCK = re.compile(r"^(videomae\.encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)$")
_HF_BARE = ("embeddings.", "encoder.layer.", "layernorm.")   # a bare `VideoMAEModel`: the `videomae.` names, unprefixed


def is_hf(sd: dict) -> bool:
    return any(k.startswith(("videomae.", "decoder.decoder_layers.", "embeddings.patch_embeddings.")) for k in sd)


def from_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF VideoMAE state_dict (`VideoMAEForPreTraining`, `VideoMAEForVideoClassification` or a bare
    `VideoMAEModel`) -> official names (pre-training layout with `encoder.` when a decoder is present)."""
    sd = {("videomae." + k if k.startswith(_HF_BARE) else k): v for k, v in sd.items()}
    pretrain = any(k.startswith(("decoder.", "encoder_to_decoder")) or k == "mask_token" for k in sd)
    enc = "encoder." if pretrain else ""
    out, qkv = {}, {}
    for k, v in sd.items():
        m = _HF_BLOCK.match(k)
        if m:
            base = (enc if m.group(1).startswith("videomae") else "decoder.") + f"blocks.{m.group(2)}."
            sub = m.group(3)
            part = re.fullmatch(r"attention\.attention\.(query|key|value)\.weight", sub)
            if part:
                qkv.setdefault(base, {})[part.group(1)] = v
                continue
            new = next((base + o + sub[len(h):] for h, o in _HF_LAYER + _HF4_BIASES if sub.startswith(h)), None)
        else:
            new = next(((enc if o in ("patch_embed.proj.", "norm.") else "") + o + k[len(h):]
                        for h, o in _HF_TOP if k.startswith(h)), k)  # decoder.norm/head, mask_token: same names
        if new is None:
            raise CheckpointError(f"unknown HF VideoMAE key {k!r}")
        out[new] = v
    for base, parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(f"HF checkpoint has incomplete query/key/value weights under {base}")
        out[base + "attn.qkv.weight"] = torch.cat([parts["query"], parts["key"], parts["value"]], 0)
    return out


def to_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official names -> HF transformers 5.x VideoMAE names (q_bias/v_bias as query.bias/value.bias)."""
    out = {}
    for k, v in sd.items():
        m = re.match(r"^(encoder\.|decoder\.)?blocks\.(\d+)\.(.+)$", k)
        if m:
            prefix = "decoder.decoder_layers." if m.group(1) == "decoder." else "videomae.encoder.layer."
            base = prefix + m.group(2) + "."
            sub = m.group(3)
            if sub == "attn.qkv.weight":
                for name, w in zip(("query", "key", "value"), v.chunk(3, 0)):
                    out[base + f"attention.attention.{name}.weight"] = w.clone()
                continue
            out[next(base + h + sub[len(o):] for o, h in _OFFICIAL_TO_HF.items() if sub.startswith(o))] = v
            continue
        bare = k.removeprefix("encoder.") if k.startswith(("encoder.patch_embed.", "encoder.norm.")) else k
        out[next((h + bare[len(o):] for h, o in _HF_TOP if bare.startswith(o)), k)] = v
    return out


# --- official V-JEPA layout (jepa app/vjepa/train.py save_checkpoint) ------------------------------------------
def is_vjepa(obj: dict) -> bool:
    return all(isinstance(obj.get(k), dict) for k in ("encoder", "target_encoder"))


def _fixed_table(v: torch.Tensor) -> bool:
    """True when a saved position table equals our fixed 1-D sinusoid table (then it carries no information)."""
    return v.ndim == 3 and torch.allclose(v.float(), sinusoid_table(v.shape[1], v.shape[2]), atol=1e-5)


def from_vjepa(obj: dict) -> dict[str, torch.Tensor]:
    """{'encoder'|'target_encoder'|'predictor': {'module.backbone.<name>': t}} -> our PretrainVJEPA names.

    qkv.bias [3D] -> q_bias, v_bias: the key bias is dropped, which is exact (it adds q.b_k to every logit of a
    query, and softmax ignores a per-row constant). A `pos_embed` equal to our 1-D sinusoid table is dropped; any
    other (the official 3-D sin-cos table) stays as an unexpected key, so loading fails unless allowed."""
    out = {}
    for section in VJEPA_SECTIONS:
        for k, v in obj.get(section, {}).items():
            k = k.removeprefix("module.").removeprefix("backbone.")
            k = re.sub(r"^predictor_blocks\.", "blocks.", k)
            if k in ("pos_embed", "predictor_pos_embed") and _fixed_table(v):
                continue
            if k.endswith("attn.qkv.bias"):
                q, _, val = v.chunk(3)
                out[f"{section}.{k[:-len('qkv.bias')]}q_bias"] = q
                out[f"{section}.{k[:-len('qkv.bias')]}v_bias"] = val
                continue
            out[f"{section}.{k}"] = v
    return out


def to_vjepa(model: nn.Module) -> dict:
    """Our PretrainVJEPA -> the official layout ('module.backbone.' names, qkv.bias = [q_bias, 0, v_bias], our
    position tables written as `pos_embed` / `predictor_pos_embed`), so the official code computes our features."""
    model = unwrap(model)
    out, sd = {section: {} for section in VJEPA_SECTIONS}, model.state_dict()
    for k, v in sd.items():
        section, name = k.split(".", 1)
        if section == "predictor" and name.startswith("blocks."):
            name = "predictor_" + name
        if name.endswith("attn.q_bias"):
            v_bias = sd[k[:-len("q_bias")] + "v_bias"]
            name, v = name[:-len("q_bias")] + "qkv.bias", torch.cat([v, torch.zeros_like(v), v_bias])
        elif name.endswith("attn.v_bias"):
            continue
        out[section]["module.backbone." + name] = v.detach().clone()
    for section in ("encoder", "target_encoder"):
        out[section]["module.backbone.pos_embed"] = getattr(model, section).pos_table.detach().clone()
    out["predictor"]["module.backbone.predictor_pos_embed"] = model.predictor.pos_table.detach().clone()
    return out


def export_vjepa(model: nn.Module, path, epoch: int = 0) -> Path:
    """Write our V-JEPA model in the official checkpoint layout (weights_only-loadable)."""
    return atomic_torch_save(path, {**to_vjepa(model), "epoch": int(epoch)})


# --- loading into our models ----------------------------------------------------------------------------------
def _adapt_to(model: nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """For a classifier: VM `run_class_finetuning.py` (PROTOCOLS §3.2): drop a head of another shape, strip
    a leading `backbone.`/`encoder.` (not `encoder_`). Pre-training models use the names as they are."""
    own = model.state_dict()
    if "patch_embed.proj.weight" not in own:
        return dict(sd)
    out = {}
    for k, v in sd.items():
        if k in ("head.weight", "head.bias") and k in own and own[k].shape != v.shape:
            continue
        for prefix in ("backbone.", "encoder."):
            if k.startswith(prefix):
                k = k[len(prefix):]
                break
        out[k] = v
    return out


def _allowed(key: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def load_pretrained(model: nn.Module, path, allow_missing=(), allow_unexpected=(), *, trust: bool = False) -> dict:
    """Strictly load ours / official VideoMAE (.pth) / HF VideoMAE (.safetensors, .bin or a save_pretrained dir) /
    official V-JEPA (.pth.tar; its context encoder `encoder` is what a classifier receives).

    Keys missing from the file or unexpected by the model must match `allow_missing` / `allow_unexpected`
    (fnmatch patterns; `PRETRAIN_TO_CLASSIFIER` holds VM's sets) or a CheckpointError lists them; shape
    mismatches always fail. Returns {"layout", "missing", "unexpected"}.
    """
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()]
        if not found:
            raise CheckpointError(f"{path}: directory has no model.safetensors or pytorch_model.bin")
        path = found[0]
    obj = load_checkpoint(path, trust=trust)
    if is_vjepa(obj):
        sd, layout = from_vjepa(obj), "vjepa"
    else:
        sd = state_dict_of(obj, path)
        layout = "hf" if is_hf(sd) else ("synvid" if obj.get("format") == FORMAT else "official")
    if layout == "hf":
        sd = from_hf(sd)
    target = unwrap(model)
    sd = _adapt_to(target, sd)
    own = target.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad_missing = [k for k in missing if not _allowed(k, allow_missing)]
    bad_unexpected = [k for k in unexpected if not _allowed(k, allow_unexpected)]
    bad_shape = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                 for k in sorted(set(sd) & set(own)) if sd[k].shape != own[k].shape]
    if bad_missing or bad_unexpected or bad_shape:
        raise CheckpointError(
            f"{path} ({layout} layout) does not fit {type(target).__name__}:\n"
            f"  missing (not allowed): {bad_missing}\n  unexpected (not allowed): {bad_unexpected}\n"
            f"  shape mismatch: {bad_shape}\n(pass allow_missing/allow_unexpected patterns for expected gaps, e.g. "
            f"synvid.checkpoint.PRETRAIN_TO_CLASSIFIER for a pre-trained encoder into a classifier)")
    target.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
    return {"layout": layout, "missing": missing, "unexpected": unexpected}


def export_official(model: nn.Module, path) -> Path:
    """Write {'model': state_dict} in the official VideoMAE layout (our names are VM's), weights_only-loadable."""
    return atomic_torch_save(path, {"model": unwrap(model).state_dict()})


def export_hf_state_dict(model: nn.Module, path) -> Path:
    """Write the weights with HF transformers VideoMAE names as .safetensors (no config.json is written)."""
    sd = {k: v.contiguous() for k, v in to_hf(unwrap(model).state_dict()).items()}
    return atomic_write(path, lambda tmp: safetensors.torch.save_file(sd, tmp))
