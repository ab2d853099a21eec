"""synvid.checkpoint: our layout, official VideoMAE layout, HF transformers layout, clear errors (PROTOCOLS §3)."""
import argparse
import fractions

import pytest
import torch

import synvid.models as M
from synvid.checkpoint import (PRETRAIN_TO_CLASSIFIER, export_hf_state_dict, export_official, from_hf,
                               load_checkpoint, load_pretrained, save_checkpoint, to_hf)
from synvid.errors import CheckpointError

T, S = 4, 32


def pretrain_model():
    return M.build("pretrain_videomae_tiny_patch16_224", num_frames=T, img_size=S)


def classifier(n=5):
    return M.build("vit_tiny_patch16_224", num_classes=n, num_frames=T, img_size=S).eval()


def batch(b=2):
    g = torch.Generator().manual_seed(3)
    return torch.randn(b, 3, T, S, S, generator=g), M.tube_mask(b, (T // 2, 2, 2), 0.75, generator=g)


def test_save_and_load_ours(tmp_path):
    m = pretrain_model()
    opt = torch.optim.AdamW(m.parameters())
    path = save_checkpoint(tmp_path / "last.pth", model=m, optimizer=opt, step=7, epoch=1, config={"lr": 1e-3})
    ck = load_checkpoint(path)  # weights_only
    assert ck["step"] == 7 and ck["config"] == {"lr": 1e-3} and "optimizer" in ck
    fresh = pretrain_model()
    assert load_pretrained(fresh, path)["layout"] == "synvid"
    x, mask = batch()
    assert torch.equal(fresh(x, mask), m(x, mask))


def test_official_export_round_trip(tmp_path):
    for make, call in ((pretrain_model, lambda m, x, k: m(x, k)), (classifier, lambda m, x, k: m(x))):
        m = make()
        path = export_official(m, tmp_path / "official.pth")
        raw = torch.load(path, weights_only=True)
        assert list(raw) == ["model"] and not any("pos_embed" in k for k in raw["model"])
        fresh = make()
        load_pretrained(fresh, path)
        x, mask = batch()
        assert torch.equal(call(fresh, x, mask), call(m, x, mask))


def test_official_pretrain_into_classifier_allow_lists(tmp_path):
    pre = pretrain_model()
    sd = pre.state_dict()
    path = tmp_path / "checkpoint-799.pth"
    torch.save({"model": sd, "epoch": 799}, path)  # official layout (its 'args' Namespace tested separately)
    clf = classifier()
    with pytest.raises(CheckpointError, match="fc_norm.weight") as err:
        load_pretrained(clf, path)
    assert "decoder.blocks.0.attn.qkv.weight" in str(err.value) and "mask_token" in str(err.value)
    info = load_pretrained(clf, path, **PRETRAIN_TO_CLASSIFIER)
    assert set(info["missing"]) == {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"}
    assert {"norm.weight", "norm.bias", "encoder_to_decoder.weight", "mask_token"} <= set(info["unexpected"])
    assert all(k.startswith("decoder.") for k in set(info["unexpected"]) - {"norm.weight", "norm.bias",
                                                                           "encoder_to_decoder.weight", "mask_token"})
    assert torch.equal(clf.blocks[1].attn.qkv.weight, pre.encoder.blocks[1].attn.qkv.weight)
    # some VM-derived files use a `backbone.` prefix instead of `encoder.` (VM strips either)
    torch.save({"model": {k.replace("encoder.", "backbone.", 1) if k.startswith("encoder.") else k: v
                          for k, v in sd.items()}}, path)
    load_pretrained(classifier(), path, **PRETRAIN_TO_CLASSIFIER)
    # DeepSpeed fine-tuned layout: key 'module', no prefix; a head of another size is dropped (VM) and must be allowed
    torch.save({"module": classifier(n=7).state_dict()}, path)
    with pytest.raises(CheckpointError, match="head.weight"):
        load_pretrained(classifier(), path)
    load_pretrained(classifier(), path, allow_missing=("head.*",))


def test_namespace_corrupt_and_foreign_files(tmp_path):
    """Official VideoMAE files pickle `args` as an argparse.Namespace (VM utils.save_model): weights_only loading
    admits it; any other pickled object still needs trust=True."""
    path = tmp_path / "with_args.pth"
    torch.save({"model": classifier().state_dict(), "args": argparse.Namespace(lr=1.0, window_size=(2, 2, 2))}, path)
    assert load_checkpoint(path)["args"].window_size == (2, 2, 2)
    load_pretrained(classifier(), path)
    pickled = tmp_path / "with_object.pth"
    torch.save({"model": classifier().state_dict(), "args": fractions.Fraction(1, 3)}, pickled)
    with pytest.raises(CheckpointError, match="trust=True"):
        load_pretrained(classifier(), pickled)
    load_pretrained(classifier(), pickled, trust=True)
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pth"
    torch.save({"epoch": 3, "note": "no weights"}, foreign)
    with pytest.raises(CheckpointError, match="no model state_dict"):
        load_pretrained(classifier(), foreign)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="conv1.weight"):
        load_pretrained(classifier(), other)
    badst = tmp_path / "model.safetensors"
    badst.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_pretrained(classifier(), badst)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pth")


# --- HuggingFace transformers VideoMAE ---------------------------------------------------------------------
def test_hf_names_both_ways_and_the_4x_bias_names():
    """to_hf writes HF 5.x names (q/v biases as query.bias / value.bias); from_hf reads them and HF 4.x's
    q_bias / v_bias back to the official names, tensor for tensor."""
    sd = pretrain_model().state_dict()
    hf = to_hf(sd)
    assert "videomae.encoder.layer.1.attention.attention.query.bias" in hf and not any("q_bias" in k for k in hf)
    assert "decoder.decoder_layers.0.attention.attention.value.bias" in hf
    hf4 = {k.replace("query.bias", "q_bias").replace("value.bias", "v_bias"): v for k, v in hf.items()}
    for names in (hf, hf4):
        back = from_hf(names)
        assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)


def hf_config(transformers, **kw):
    # PROTOCOLS §3.3: match VM (eps 1e-6), tiny sizes as our `tiny`; pixel_values are (B, T, C, H, W)
    return transformers.VideoMAEConfig(
        image_size=S, num_frames=T, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
        decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=128, layer_norm_eps=1e-6, **kw)


def randomise(model):
    with torch.no_grad():  # non-trivial biases/norms so every mapped tensor matters
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def test_hf_classifier_round_trip(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = randomise(transformers.VideoMAEForVideoClassification(hf_config(transformers, num_labels=5,
                                                                           use_mean_pooling=True))).eval()
    hf.fc_norm.eps = 1e-6  # HF builds fc_norm with the nn default 1e-5
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = classifier()
    assert load_pretrained(ours, tmp_path / "hf")["layout"] == "hf"
    x, _ = batch()
    with torch.no_grad():
        ref = hf(pixel_values=x.transpose(1, 2)).logits
    assert torch.allclose(ours(x), ref, atol=1e-5)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")  # the older .bin layout, read weights_only
    ours_bin = classifier()
    load_pretrained(ours_bin, tmp_path / "pytorch_model.bin")
    assert torch.equal(ours_bin(x), ours(x))
    # back again: our weights under HF names load strictly into the HF model
    export_hf_state_dict(ours, tmp_path / "back.safetensors")
    from safetensors.torch import load_file
    hf2 = transformers.VideoMAEForVideoClassification(hf_config(transformers, num_labels=5)).eval()
    hf2.load_state_dict(load_file(tmp_path / "back.safetensors"), strict=True)
    hf2.fc_norm.eps = 1e-6
    with torch.no_grad():
        assert torch.allclose(hf2(pixel_values=x.transpose(1, 2)).logits, ref, atol=1e-5)


def test_hf_bare_encoder_into_classifier(tmp_path):
    """A bare `VideoMAEModel` saves the `videomae.` names unprefixed (`embeddings.`, `encoder.layer.`); its tokens
    are ours after loading (mean pooling: no final LayerNorm, so our fc_norm and head stay fresh)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = randomise(transformers.VideoMAEModel(hf_config(transformers, use_mean_pooling=True))).eval()
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = classifier()
    info = load_pretrained(ours, tmp_path / "hf", **PRETRAIN_TO_CLASSIFIER)
    assert info["layout"] == "hf" and info["missing"] == ["fc_norm.bias", "fc_norm.weight", "head.bias",
                                                          "head.weight"]
    x, _ = batch()
    with torch.no_grad():
        assert torch.allclose(ours.tokens(x), hf(pixel_values=x.transpose(1, 2)).last_hidden_state, atol=1e-5)


def test_hf_pretraining_round_trip(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = randomise(transformers.VideoMAEForPreTraining(hf_config(transformers, use_mean_pooling=False))).eval()
    hf.decoder.norm.eps = 1e-6
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = pretrain_model().eval()
    load_pretrained(ours, tmp_path / "hf" / "model.safetensors")
    x, mask = batch()
    with torch.no_grad():
        ref = hf(pixel_values=x.transpose(1, 2), bool_masked_pos=mask).logits
    assert torch.allclose(ours(x, mask), ref, atol=1e-5)
    # an HF pre-trained encoder into our classifier uses the same allow-list as an official one
    info = load_pretrained(classifier(), tmp_path / "hf", **PRETRAIN_TO_CLASSIFIER)
    assert "norm.weight" in info["unexpected"]
