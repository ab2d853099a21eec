"""V-JEPA objective: EMA and schedules, the loss, the model (initialisation, groups, precision), the engine (resume,
torchrun), checkpoints (ours -> classifier, official V-JEPA layout both ways), config. The masks:
tests/test_vjepa_masks.py."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_vjepa_masks import LONG, SHORT, draws, one_group  # tests/ is on sys.path (pytest rootdir import)

from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, export_vjepa, load_pretrained
from synvid.config import PretrainConfig, RenderConfig, VjepaConfig, resolve
from synvid.engine.objectives import VJEPA, cosine_weight_decay, warmup_cosine
from synvid.engine.pretrain import run
from synvid.errors import BadInput, CheckpointError
from synvid.models import build
from synvid.models.multiblock import sample_masks
from synvid.models.vjepa import ema_update, jepa_loss, momentum_schedule
from synvid.runs import JsonlLog

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "pretrain" / "3_2_pretrain.py")


def test_ema_update_and_momentum_schedule():
    target, online = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        for p in target.parameters():
            p.fill_(1.0)
        for p in online.parameters():
            p.fill_(3.0)
    ema_update(target, online, 0.75)
    assert all(torch.allclose(p, torch.full_like(p, 0.75 * 1 + 0.25 * 3)) for p in target.parameters())
    m = momentum_schedule(0.998, 1.0, 10, stretch=1.25)  # train.py: 0.998 + i * 0.002 / (10 * 1.25)
    assert m[0] == 0.998 and m[-1] == pytest.approx(0.998 + 9 * 0.002 / 12.5)
    assert momentum_schedule(0.998, 1.0, 4)[-1] == pytest.approx(0.998 + 3 * 0.002 / 4)


def test_lr_and_weight_decay_schedules_follow_the_official_schedulers():
    lr = warmup_cosine(1.0, 5.0, 0.5, total=100, warmup=10, stretch=1.25)
    assert lr[0] == pytest.approx(1.0 + 0.1 * 4.0)  # WarmupCosineSchedule counter is 1 at the first step
    assert lr[9] == pytest.approx(5.0)               # counter 10 = warm-up end: progress 0 of the cosine
    assert lr[99] == pytest.approx(0.5 + 4.5 * 0.5 * (1 + math.cos(math.pi * 90 / 115)))  # T_max 125 - 10
    wd = cosine_weight_decay(0.04, 0.4, total=100, stretch=1.25)
    assert wd[0] == pytest.approx(0.4 - 0.36 * 0.5 * (1 + math.cos(math.pi / 125)))
    assert wd[99] == pytest.approx(0.4 - 0.36 * 0.5 * (1 + math.cos(math.pi * 100 / 125))) and np.all(np.diff(wd) > 0)


def test_loss_on_a_hand_built_example():
    preds = [[torch.tensor([[[1.0, -2.0]]])], [torch.tensor([[[0.0, 0.0], [3.0, 1.0]]])]]
    targets = [[torch.zeros(1, 1, 2)], [torch.ones(1, 2, 2)]]
    # mask 1: mean(|1|, |-2|) = 1.5; mask 2: mean(1, 1, 2, 0) = 1.0; averaged over masks
    assert jepa_loss(preds, targets).item() == pytest.approx((1.5 + 1.0) / 2)
    # loss_exp 2: mean(squares) / 2 per mask: (2.5 / 2 + 1.5 / 2) / 2
    assert jepa_loss(preds, targets, loss_exp=2.0).item() == pytest.approx((1.25 + 0.75) / 2)
    # groups of 1 and 3 clips with their own lengths: each group's mean (one official GPU's loss), by clips
    preds = [[torch.full((1, 2, 2), 4.0), torch.full((3, 1, 2), 2.0)]]
    targets = [[torch.zeros(1, 2, 2), torch.zeros(3, 1, 2)]]
    assert jepa_loss(preds, targets).item() == pytest.approx((1 * 4.0 + 3 * 2.0) / 4)
    with pytest.raises(BadInput, match="groups"):
        jepa_loss(preds, [[torch.zeros(1, 2, 2)]])


def tiny(**kw):
    torch.manual_seed(0)
    return build("pretrain_vjepa_tiny_patch16_224", predictor_dim=32, predictor_depth=1, num_frames=4,
                 img_size=64, **kw)


def test_initialisation_is_the_official_one():
    """app/vjepa/utils.py init_video_model: every Linear N(0, 0.02) truncated at +-2 absolute, zero bias, LN 1/0,
    after the models' `_rescale_blocks` (so no depth rescaling survives); patch-embed Conv3d trunc-normal 0.02
    (the models' own _init_weights), zero bias; mask tokens zero; the target encoder a copy."""
    model = build("pretrain_vjepa_tiny_patch16_224", predictor_dim=64, predictor_depth=3, num_frames=2, img_size=32)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    for m in linears + [model.encoder.patch_embed.proj]:
        assert abs(m.weight.std().item() - 0.02) < 0.0015, m  # last block's proj/fc2 too: no 1/sqrt(2 * layer)
        assert torch.all(m.bias == 0) if m.bias is not None else True
    assert all(torch.all(p == 0) for n, p in model.named_parameters() if n.endswith(("q_bias", "v_bias")))
    assert all(torch.all(t == 0) for t in model.predictor.mask_tokens)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)


def test_targets_are_layer_normed_ema_features_and_carry_no_gradient():
    model = tiny()
    videos = torch.randn(2, 3, 4, 64, 64)
    masks = one_group(2, model.window, (SHORT, LONG))
    _, targets = model.predict(videos, masks)
    for (t,), ((_, idx),) in zip(targets, masks):
        assert t.shape == (2, idx.shape[1], 64) and not t.requires_grad
        assert torch.allclose(t.mean(-1), torch.zeros(()), atol=1e-5)
        assert torch.allclose(t.var(-1, unbiased=False), torch.ones(()), atol=1e-3)
    assert all(not p.requires_grad for p in model.target_encoder.parameters())
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.parameters(), model.target_encoder.parameters()))
    model(videos, masks).backward()
    assert model.predictor.mask_tokens[0].grad is not None and model.encoder.blocks[0].attn.qkv.weight.grad is not None


def test_groups_are_separate_passes_weighted_by_their_clips():
    """A batch split into groups of their own lengths: each group is the loss of its own clips alone (one official
    GPU), and the batch loss their clip-weighted mean; groups that do not cover the batch are refused."""
    model = tiny()
    with torch.no_grad():
        for p in model.target_encoder.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # a target encoder apart from the context encoder
    videos = torch.randn(5, 3, 4, 64, 64)
    masks = sample_masks(model.window, (SHORT, LONG), draws(3), total=5, group=3)
    assert [ctx.shape[0] for ctx, _ in masks[0]] == [3, 2]
    alone = [model(videos[part], [[groups[j]] for groups in masks]) for j, part in enumerate((slice(0, 3),
                                                                                            slice(3, 5)))]
    torch.testing.assert_close(model(videos, masks), (3 * alone[0] + 2 * alone[1]) / 5)
    with pytest.raises(BadInput, match="do not cover"):
        model(videos[:4], masks)


def test_predictor_residual_stream_is_float32_under_bf16_autocast():
    """Official predictor.py: `x += pos` keeps the context tokens in bf16, `torch.cat` with the float32 mask
    tokens promotes the stream to float32 (the same predictor, run with our weights under CPU bf16 autocast, gave
    bit-identical outputs, jepa @ 51c59d5). The encoder's stream stays bf16 (official `x += pos_embed`)."""
    model = tiny()
    streams = {"predictor": [], "encoder": []}
    for name in streams:
        for blk in getattr(model, name).blocks:
            blk.register_forward_pre_hook(lambda _, args, name=name: streams[name].append(args[0]))
    masks = one_group(2, model.window, (SHORT, LONG))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        preds, _ = model.predict(torch.randn(2, 3, 4, 64, 64), masks)
    assert {x.dtype for x in streams["predictor"]} == {torch.float32} and len(streams["predictor"]) == 2
    assert {x.dtype for x in streams["encoder"]} == {torch.bfloat16}
    for x, ((ctx, _),) in zip(streams["predictor"], masks):  # context tokens rounded to bf16 once, as `x +=`
        kept = x[:, :ctx.shape[1]]
        assert torch.equal(kept, kept.bfloat16().float()) and not torch.equal(x, x.bfloat16().float())
    assert {z.dtype for (z,) in preds} == {torch.bfloat16}  # predictor_proj: a Linear under autocast


def test_a_few_steps_on_a_tiny_model_lower_the_loss():
    model = tiny()
    videos = torch.randn(4, 3, 4, 64, 64)
    masks = one_group(4, model.window, (SHORT, LONG))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(15):
        loss = model(videos, masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema_update(model.target_encoder, model.encoder, 0.998)
        losses.append(loss.item())
    assert losses[-1] < 0.93 * losses[0] and min(losses[-3:]) < min(losses[:3])


def test_recipe_scales_the_official_lr_and_warmup():
    v = VjepaConfig()
    assert v.base_lr * 3072 / 256 == pytest.approx(6.25e-4) and v.start_lr * 12 == pytest.approx(2e-4)
    objective = VJEPA(resolve(PretrainConfig, "paper", objective="vjepa", batch_size=3072), v)
    schedule = objective.schedule(steps_per_epoch=1)  # 3,200 epochs of one step
    assert objective.warmup == round(3200 * 40 / 300) and len(schedule["lr"]) == 3200
    assert schedule["lr"].max() == pytest.approx(6.25e-4)  # the official peak at the official batch


# --- engine ------------------------------------------------------------------------------------------------------
RENDER = dict(cfg=RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8))


def smoke(**kw):
    kw = {"epochs": 3, "objective": "vjepa", **kw}
    return resolve(PretrainConfig, "smoke", **kw)


def losses(run_dir):
    return [r["loss"] for r in JsonlLog(Path(run_dir) / "log.jsonl").read()]


@pytest.mark.slow
def test_vjepa_run_records_its_objective_and_resume_is_exact(tmp_path):
    vj = resolve(VjepaConfig, "smoke")
    kw = dict(dataset="moving_circles", render_size=32, synthetic=RENDER, progress=False, vjepa=vj)
    full = run(smoke(), tmp_path / "full", **kw)
    assert full["steps"] == 6 and full["objective"] == "vjepa" and math.isfinite(full["final_loss"])
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["objective"] == "vjepa" and config["VjepaConfig"]["predictor_depth"] == 1
    assert config["VjepaConfig"]["mask_group"] == 24  # recorded: it changes which context is kept
    assert json.loads((tmp_path / "full" / "DONE").read_text())["objective"] == "vjepa"
    record = JsonlLog(tmp_path / "full" / "log.jsonl").read()[0]
    assert record["momentum"] == 0.998 and record["weight_decay"] > 0.04
    part = tmp_path / "part"
    assert run(smoke(), part, stop_after=3, **kw)["steps"] == 3
    run(smoke(), part, **kw)
    assert losses(part) == losses(tmp_path / "full")  # interrupted = uninterrupted, bit for bit
    (part / "DONE").unlink()
    with pytest.raises(ValueError, match="different settings.*predictor_dim"):
        run(smoke(), part, **{**kw, "vjepa": resolve(VjepaConfig, "smoke", predictor_dim=16)})
    with pytest.raises(ValueError, match="different settings.*objective"):
        run(smoke(objective="videomae"), part, **kw)
    with pytest.raises(ValueError, match="unknown objective"):
        run(smoke(objective="byol"), tmp_path / "bad", **kw)


def test_vjepa_checkpoint_into_a_classifier_and_the_official_layout(tmp_path):
    run(smoke(epochs=1), tmp_path / "r", dataset="moving_circles", render_size=32, synthetic=RENDER,
        progress=False, vjepa=resolve(VjepaConfig, "smoke"))
    clf = build("vit_tiny_patch16_224", num_classes=3, num_frames=4, img_size=32)
    info = load_pretrained(clf, tmp_path / "r" / "last.pth", **PRETRAIN_TO_CLASSIFIER)
    assert info["layout"] == "synvid"
    assert sorted(info["missing"]) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    state = torch.load(tmp_path / "r" / "last.pth", weights_only=True)["model"]
    assert torch.equal(clf.blocks[0].attn.qkv.weight, state["encoder.blocks.0.attn.qkv.weight"])  # context encoder
    # ours -> official layout -> ours: identical weights, identical loss
    model = tiny()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    export_vjepa(model, tmp_path / "jepa-latest.pth.tar", epoch=3)
    official = torch.load(tmp_path / "jepa-latest.pth.tar", weights_only=True)
    assert {"encoder", "target_encoder", "predictor", "epoch"} <= set(official)
    enc = official["encoder"]
    assert "module.backbone.blocks.0.attn.qkv.bias" in enc and "module.backbone.pos_embed" in enc
    assert "module.backbone.predictor_blocks.0.mlp.fc1.weight" in official["predictor"]
    again = tiny()
    assert load_pretrained(again, tmp_path / "jepa-latest.pth.tar")["layout"] == "vjepa"
    videos = torch.randn(2, 3, 4, 64, 64)
    masks = one_group(2, model.window, (SHORT, LONG))
    assert torch.equal(model(videos, masks), again(videos, masks))
    clf = build("vit_tiny_patch16_224", num_classes=3, num_frames=4, img_size=64)
    load_pretrained(clf, tmp_path / "jepa-latest.pth.tar", **PRETRAIN_TO_CLASSIFIER)
    assert torch.equal(clf.blocks[1].attn.v_bias, model.encoder.blocks[1].attn.v_bias)
    # another position table (the official 3-D sin-cos) would silently change the features: refused
    official["encoder"]["module.backbone.pos_embed"] += 0.1
    torch.save(official, tmp_path / "other_pos.pth.tar")
    with pytest.raises(CheckpointError, match="pos_embed"):
        load_pretrained(clf, tmp_path / "other_pos.pth.tar", **PRETRAIN_TO_CLASSIFIER)


def official_vjepa_checkpoint(path, *, depth=2, dim=64, pred_depth=1, pred_dim=32, tokens=32):
    """A file in the layout of jepa @ 51c59d5 app/vjepa/train.py `save_checkpoint`: the state_dicts of
    DDP(MultiMaskWrapper(vit)) / DDP(PredictorMultiMaskWrapper(vit_predictor)) under 'module.backbone.' (key names
    and shapes checked against the official vit_tiny and vit_predictor), random weights, random stand-ins for the
    3-D sin-cos tables, an AdamW state as init_opt's two groups, the GradScaler state, epoch, loss, batch_size,
    world_size, lr. Returns its three sections."""
    torch.manual_seed(1)

    def blocks(prefix, d, n):
        shapes = {"norm1.weight": (d,), "norm1.bias": (d,), "attn.qkv.weight": (3 * d, d), "attn.qkv.bias": (3 * d,),
                  "attn.proj.weight": (d, d), "attn.proj.bias": (d,), "norm2.weight": (d,), "norm2.bias": (d,),
                  "mlp.fc1.weight": (4 * d, d), "mlp.fc1.bias": (4 * d,), "mlp.fc2.weight": (d, 4 * d),
                  "mlp.fc2.bias": (d,)}
        return {f"{prefix}.{i}.{k}": s for i in range(n) for k, s in shapes.items()}
    encoder = {"pos_embed": (1, tokens, dim), "patch_embed.proj.weight": (dim, 3, 2, 16, 16),
               "patch_embed.proj.bias": (dim,), **blocks("blocks", dim, depth), "norm.weight": (dim,),
               "norm.bias": (dim,)}
    predictor = {"predictor_pos_embed": (1, tokens, pred_dim), "predictor_embed.weight": (pred_dim, dim),
                 "predictor_embed.bias": (pred_dim,), "mask_tokens.0": (1, 1, pred_dim),
                 "mask_tokens.1": (1, 1, pred_dim), **blocks("predictor_blocks", pred_dim, pred_depth),
                 "predictor_norm.weight": (pred_dim,), "predictor_norm.bias": (pred_dim,),
                 "predictor_proj.weight": (dim, pred_dim), "predictor_proj.bias": (dim,)}
    sections = {name: {f"module.backbone.{k}": torch.randn(shape) * 0.02 for k, shape in keys.items()}
                for name, keys in (("encoder", encoder), ("predictor", predictor), ("target_encoder", encoder))}
    params = [torch.nn.Parameter(v.clone()) for v in [*sections["encoder"].values(), *sections["predictor"].values()]]
    opt = torch.optim.AdamW([{"params": [p for p in params if p.ndim > 1]},
                             {"params": [p for p in params if p.ndim == 1], "WD_exclude": True, "weight_decay": 0}])
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
              "_growth_tracker": 7}
    torch.save({"encoder": sections["encoder"], "predictor": sections["predictor"], "opt": opt.state_dict(),
                "scaler": scaler, "target_encoder": sections["target_encoder"], "epoch": 300, "loss": 0.42,
                "batch_size": 24, "world_size": 128, "lr": 6.25e-4}, path)
    return {name: {k.removeprefix("module.backbone."): v for k, v in sd.items()} for name, sd in sections.items()}


def test_an_official_vjepa_file_loads_with_its_position_tables_refused_or_allowed(tmp_path):
    """docs/vjepa.md: an official release's 3-D position tables are refused by default; the documented call
    (the classifier preset plus '*pos_embed') loads the rest into a classifier, and ('*pos_embed',) alone into a
    V-JEPA model (encoder.pos_embed, target_encoder.pos_embed, predictor.predictor_pos_embed)."""
    path = tmp_path / "vitl16.pth.tar"
    official = official_vjepa_checkpoint(path)
    clf = build("vit_tiny_patch16_224", num_classes=3, num_frames=4, img_size=64)
    with pytest.raises(CheckpointError, match=r"unexpected \(not allowed\): \['pos_embed'\]"):
        load_pretrained(clf, path, **PRETRAIN_TO_CLASSIFIER)
    info = load_pretrained(clf, path, allow_missing=PRETRAIN_TO_CLASSIFIER["allow_missing"],
                           allow_unexpected=PRETRAIN_TO_CLASSIFIER["allow_unexpected"] + ("*pos_embed",))
    assert info["layout"] == "vjepa" and "pos_embed" in info["unexpected"]
    assert sorted(info["missing"]) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    enc = official["encoder"]
    assert torch.equal(clf.patch_embed.proj.weight, enc["patch_embed.proj.weight"])
    assert torch.equal(clf.blocks[1].mlp.fc2.weight, enc["blocks.1.mlp.fc2.weight"])
    q, _, v = enc["blocks.0.attn.qkv.bias"].chunk(3)  # the key bias is dropped (exact, see the test below)
    assert torch.equal(clf.blocks[0].attn.q_bias, q) and torch.equal(clf.blocks[0].attn.v_bias, v)
    model = tiny()
    with pytest.raises(CheckpointError) as refused:
        load_pretrained(model, path)
    for key in ("'encoder.pos_embed'", "'target_encoder.pos_embed'", "'predictor.predictor_pos_embed'"):
        assert key in str(refused.value)
    info = load_pretrained(model, path, allow_unexpected=("*pos_embed",))
    assert info["missing"] == [] and len(info["unexpected"]) == 3
    assert torch.equal(model.target_encoder.blocks[1].attn.qkv.weight,
                       official["target_encoder"]["blocks.1.attn.qkv.weight"])
    assert torch.equal(model.predictor.blocks[0].mlp.fc1.bias, official["predictor"]["predictor_blocks.0.mlp.fc1.bias"])
    assert torch.equal(model.predictor.mask_tokens[1], official["predictor"]["mask_tokens.1"])


def test_dropping_the_official_key_bias_is_exact():
    """Official qkv has a key bias; ours has none. q.(k + b) = q.k + q.b: a per-query constant softmax ignores."""
    from synvid.models.vit import Attention
    torch.manual_seed(0)
    ours, x = Attention(16, 2), torch.randn(2, 5, 16)
    bias = torch.randn(48)
    with torch.no_grad():
        ours.q_bias.copy_(bias[:16])
        ours.v_bias.copy_(bias[32:])
    qkv = (x @ ours.qkv.weight.T + bias).reshape(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    official = torch.nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    official = ours.proj(official.transpose(1, 2).flatten(2))
    torch.testing.assert_close(ours(x), official, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_cli_and_torchrun_two_processes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["--profile", "smoke", "--objective", "vjepa", "--dataset", "moving_circles", "--epochs", "1",
            "--vjepa-predictor-dim", "16", "--no-progress"]
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          SCRIPT, *args, "--out", str(tmp_path / "ddp")], cwd=ROOT, capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    done = json.loads((tmp_path / "ddp" / "DONE").read_text())
    assert done["world_size"] == 2 and done["objective"] == "vjepa" and math.isfinite(done["final_loss"])
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["VjepaConfig"]["predictor_dim"] == 16
