"""Dynamic StyleGAN textures (Section 5.2, Table 3): random access to frame t of the latent walk."""
import pytest
import torch

from synvid.textures import generated, stylegan, stylegan_net


@pytest.fixture(scope="module")
def dyn():
    return generated.DynamicStyleGAN(seed=2, size=32, pool_size=16, step=0.1)


@pytest.fixture(scope="module")
def video():
    """The whole walk of textures 3 and 7 (4 frames) with dyn's settings."""
    return stylegan.dynamic_video([3, 7], 4, seed=2, size=32, step=0.1)


def test_get_at_equals_video_frame(dyn, video):
    for t in (0, 1, 3):
        assert torch.equal(dyn.get_at(torch.tensor([3, 7]), t), video[:, t])
    assert torch.equal(dyn.get_at([3], 0), dyn.get(torch.tensor([3])))   # frame 0 is the static texture


def test_get_at_per_id_frames(dyn, video):
    out = dyn.get_at(torch.tensor([3, 7, 3]), torch.tensor([2, 0, 3]))
    assert torch.equal(out[0], video[0, 2]) and torch.equal(out[1], video[1, 0]) and torch.equal(out[2], video[0, 3])


def test_get_at_renders_only_frame_t(dyn, monkeypatch):
    calls = []
    real = stylegan_net.synthesize

    def spy(draws, frames, device="cpu"):
        calls.append((frames, [len(d["layers"][0]["styles"]) for d in draws]))
        return real(draws, frames, device)
    monkeypatch.setattr(stylegan_net, "synthesize", spy)
    dyn.get_at([5], 6)
    assert calls == [([0], [1])]            # one render of one frame: the single drawn latent z_6


def test_get_at_bad_input(dyn):
    with pytest.raises(ValueError, match=">= 0"):
        dyn.get_at([1], -1)
    with pytest.raises(ValueError, match="one per id"):
        dyn.get_at([1, 2], [0, 1, 2])
    with pytest.raises(IndexError):
        dyn.get_at([16], 0)


def test_get_at_highfreq_and_batched_chunks():
    hf = generated.DynamicStyleGAN(seed=1, size=16, pool_size=8, highfreq=True)
    walk = stylegan.dynamic_video([2, 6], 3, seed=1, size=16, variant="highfreq")
    assert torch.equal(hf.get_at([2, 6], 2), walk[:, 2])
    # Rendered 2 per forward (the CUDA path batches): still bitwise the video's frame (same chunks).
    at = stylegan.dynamic_at([1, 4, 6], 2, seed=1, size=16, batch=2)
    assert torch.equal(at, stylegan.dynamic_video([1, 4, 6], 3, seed=1, size=16, batch=2)[:, 2])
