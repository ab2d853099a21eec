"""pretrain/3_2_export.py (synvid.export): a real pre-training run of each objective, exported to the official
VideoMAE, HuggingFace VideoMAE and official V-JEPA layouts, read back by our loaders of those layouts (and by
transformers itself when it is installed), with the same outputs; wrong pairings and foreign files are refused."""
import copy
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from synvid import export
from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_checkpoint, load_pretrained
from synvid.config import PretrainConfig, RenderConfig, VjepaConfig, load_config, resolve
from synvid.engine import pretrain
from synvid.errors import BadInput
from synvid.models import build, tube_mask

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("export_script", ROOT / "pretrain" / "3_2_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _export(*argv):
    script = _script()
    return script.main(script.get_args_parser().parse_args(list(argv)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{objective: finished smoke pre-training run} (tiny ViT, 4 frames of 32 px, 2 steps)."""
    base, found = tmp_path_factory.mktemp("runs"), {}
    render = RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8)
    for objective in ("videomae", "vjepa"):
        found[objective] = base / objective
        pretrain.run(resolve(PretrainConfig, "smoke", epochs=1, warmup_epochs=0, objective=objective),
                     found[objective], dataset="moving_circles", render_size=32, progress=False,
                     synthetic=dict(cfg=render), vjepa=resolve(VjepaConfig, "smoke"))
    return found


def _inputs(model):
    g = torch.Generator().manual_seed(0)
    t, h, _ = model.window
    videos = torch.randn(2, 3, t * model.tubelet, h * model.patch, h * model.patch, generator=g)
    return videos, tube_mask(2, model.window, 0.75, generator=g)


def _perturbed(model):
    """A copy of `model` whose every weight differs: loading a file into it must restore them all."""
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    return other


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_videomae_run_as_the_official_layout(runs, tmp_path):
    ours, _ = export.pretrained(runs["videomae"])
    path = _export("--run", str(runs["videomae"]), "--format", "videomae", "--out", str(tmp_path / "ck.pth"))
    raw = torch.load(path, weights_only=True)
    assert list(raw) == ["model"] and "encoder.blocks.0.attn.q_bias" in raw["model"] and "mask_token" in raw["model"]
    assert torch.equal(raw["model"]["encoder.patch_embed.proj.weight"],
                       load_checkpoint(runs["videomae"] / "last.pth")["model"]["encoder.patch_embed.proj.weight"])
    fresh = _perturbed(ours)
    assert load_pretrained(fresh, path)["layout"] == "official" and _same_weights(fresh, ours)
    videos, mask = _inputs(ours)
    with torch.no_grad():
        assert torch.equal(fresh(videos, mask), ours(videos, mask))
    clf = build("vit_tiny_patch16_224", num_classes=3, num_frames=4, img_size=32)   # VM's fine-tuning load
    load_pretrained(clf, path, **PRETRAIN_TO_CLASSIFIER)
    assert torch.equal(clf.blocks[1].mlp.fc2.weight, ours.encoder.blocks[1].mlp.fc2.weight)


def test_videomae_run_as_a_huggingface_folder(runs, tmp_path):
    ours, _ = export.pretrained(runs["videomae"] / "last.pth")
    folder = _export("--run", str(runs["videomae"] / "last.pth"), "--format", "hf", "--out", str(tmp_path / "hf"))
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "videomae" and config["architectures"] == ["VideoMAEForPreTraining"]
    assert (config["image_size"], config["num_frames"], config["hidden_size"], config["num_hidden_layers"],
            config["num_attention_heads"], config["intermediate_size"], config["decoder_hidden_size"],
            config["decoder_num_hidden_layers"], config["use_mean_pooling"]) == (
        32, 4, 64, 2, 2, 256, 32, load_config(PretrainConfig, runs["videomae"] / "config.json").decoder_depth, False)
    fresh = _perturbed(ours)
    assert load_pretrained(fresh, folder)["layout"] == "hf" and _same_weights(fresh, ours)


def test_huggingface_export_loads_in_transformers(runs, tmp_path):
    """transformers' own from_pretrained: strict names, our encoder's tokens and (HF's decoder norm has eps 1e-5,
    ours VM's 1e-6) our predictions."""
    transformers = pytest.importorskip("transformers")
    ours, _ = export.pretrained(runs["videomae"])
    folder = export.export(runs["videomae"], "hf", tmp_path / "hf")
    hf, info = transformers.VideoMAEForPreTraining.from_pretrained(folder, output_loading_info=True)
    assert not any(info.values()), info
    videos, mask = _inputs(ours)
    with torch.no_grad():
        hidden = hf.videomae(pixel_values=videos.transpose(1, 2), bool_masked_pos=mask).last_hidden_state
        assert torch.allclose(hidden, ours.encoder(videos, mask), atol=1e-5)
        hf.decoder.norm.eps = 1e-6
        logits = hf.eval()(pixel_values=videos.transpose(1, 2), bool_masked_pos=mask).logits
        assert torch.allclose(logits, ours(videos, mask), atol=1e-5)
    encoder = transformers.VideoMAEModel.from_pretrained(folder)   # the encoder alone, as HF fine-tuning loads it
    with torch.no_grad():
        assert torch.allclose(encoder(pixel_values=videos.transpose(1, 2)).last_hidden_state,
                              ours.encoder.norm(ours.encoder.run_blocks(ours.encoder.embed(videos))), atol=1e-5)


def test_vjepa_run_as_the_official_layout(runs, tmp_path):
    ours, checkpoint = export.pretrained(runs["vjepa"])
    path = _export("--run", str(runs["vjepa"]), "--format", "vjepa", "--out", str(tmp_path / "jepa-latest.pth.tar"))
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"encoder", "target_encoder", "predictor", "epoch"} and raw["epoch"] == checkpoint["epoch"]
    assert "module.backbone.predictor_blocks.0.attn.qkv.bias" in raw["predictor"]
    fresh = _perturbed(ours)
    assert load_pretrained(fresh, path)["layout"] == "vjepa" and _same_weights(fresh, ours)
    videos, _ = _inputs(ours)
    assert torch.equal(fresh.target_features(videos), ours.target_features(videos))


def test_wrong_pairings_and_foreign_sources_are_refused(runs, tmp_path):
    with pytest.raises(BadInput, match="vjepa objective.*export it as vjepa"):
        export.export(runs["vjepa"], "hf", tmp_path / "x")
    with pytest.raises(BadInput, match="videomae objective.*export it as videomae or hf"):
        export.export(runs["videomae"], "vjepa", tmp_path / "x.pth.tar")
    official = export.export(runs["videomae"], "videomae", tmp_path / "official.pth")
    with pytest.raises(BadInput, match="official file"):
        export.export(official, "videomae", tmp_path / "again.pth")
    with pytest.raises(BadInput, match="unknown export format 'onnx'"):
        export.export(runs["videomae"], "onnx", tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.pth.tar").exists()
