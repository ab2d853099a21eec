"""Linear probing: the encoder stays frozen in both modes, the head is BN(affine=False) + Linear, results land
in results.json (toy HMDB51-layout set, tiny ViT, CPU)."""
import json

import pytest
import torch

from synvid.checkpoint import load_checkpoint, save_checkpoint
from synvid.config import LinprobeConfig, resolve
from synvid.data import toy
from synvid.engine import linprobe
from synvid.models import build


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("lp")
    root = toy.make_toy_hmdb51(base / "toy_hmdb51", num_classes=2, per_class=4, test_per_class=1,
                               unused_per_class=1, frames=12)
    ckpt = base / "pre.pth"
    torch.manual_seed(1)
    save_checkpoint(ckpt, model=build("pretrain_videomae_tiny_patch16_224", num_frames=4, img_size=32),
                    step=0, epoch=0, config={})
    return root, ckpt


def _encoder(sd):
    return {k: v for k, v in sd.items() if k.startswith(("patch_embed", "blocks", "pos_embed"))}


@pytest.mark.parametrize("cached", [True, False])
def test_probe_keeps_encoder_frozen(setup, tmp_path, cached):
    root, ckpt = setup
    cfg = resolve(LinprobeConfig, "smoke", epochs=2, batch_size=2, test_clips=2, cache_features=cached,
                  augment=not cached, drop_path=0.0 if cached else 0.2)
    res = linprobe.run(cfg, tmp_path / "run", dataset="toy_hmdb51", data_root=root, init=str(ckpt),
                       profile="smoke", progress=False)
    assert res["mode"] == ("cached" if cached else "augmented") and res["num_videos"] == 2
    assert json.loads((tmp_path / "run/results.json").read_text())["views"] == "2x3"
    pre = load_checkpoint(ckpt)["model"]
    model = linprobe.probe_model(linprobe.finetune_settings(cfg, "smoke"), 2, str(ckpt), torch.device("cpu"))
    assert isinstance(model.head[0], torch.nn.BatchNorm1d) and not model.head[0].affine
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]
    for k, v in _encoder(model.state_dict()).items():  # the loaded encoder equals the checkpoint's
        assert torch.equal(v, pre.get(k, pre.get("encoder." + k, v)))
    if not cached:  # the trained run's last.pth: encoder identical to the pre-trained one
        after = load_checkpoint(tmp_path / "run/last.pth")["model"]
        assert all(torch.equal(v, after[k]) for k, v in _encoder(model.state_dict()).items())
        assert not torch.equal(after["head.1.weight"], model.state_dict()["head.1.weight"])
