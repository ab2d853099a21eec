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
    objective.build_optimizer(torch.nn.Linear(2, 2), steps_per_epoch=1)  # 3,200 epochs of one step
    assert objective.warmup == round(3200 * 40 / 300)
    assert objective.lr.max() == pytest.approx(6.25e-4)  # the official peak at the official batch


# --- engine ------------------------------------------------------------------------------------------------------
RENDER = dict(cfg=RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8))


def smoke(**kw):
    kw = {"epochs": 3, "objective": "vjepa", **kw}
    return resolve(PretrainConfig, "smoke", **kw)


def losses(run_dir):
    return [r["loss"] for r in JsonlLog(Path(run_dir) / "log.jsonl").read()]


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


def test_upstream_objective_follows_the_checkpoint_run(tmp_path):
    from synvid.runs import upstream_objective
    (tmp_path / "vj").mkdir()
    (tmp_path / "vj" / "config.json").write_text(json.dumps({"PretrainConfig": {"objective": "vjepa"}}))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps({"PretrainConfig": {"mask_ratio": 0.75}}))
    assert upstream_objective(tmp_path / "vj" / "last.pth") == "vjepa"
    assert upstream_objective(tmp_path / "old" / "last.pth") == "videomae"   # a run from before issue 16
    assert upstream_objective("/official/checkpoint.pth") == "videomae" and upstream_objective("scratch") is None
