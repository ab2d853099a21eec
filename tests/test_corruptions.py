"""UCF101-P corruptions (synvid.corruptions) and the qscale fix of write_video."""
import numpy as np
import pytest
import torch

from synvid import corruptions
from synvid.video_io import write_video


def _video(t=4, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(40, 216, (t, h // 4, w // 4, 3), generator=g, dtype=torch.uint8)
    return base.repeat_interleave(4, 1).repeat_interleave(4, 2).contiguous()  # blocky: blur visibly changes it


def test_registry_order_and_families():
    assert corruptions.NAMES == ("translate", "rotate", "static_rotate", "motion_blur", "defocus_blur", "zoom_blur",
                                 "glass_blur", "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
                                 "jpeg", "codec1", "codec2")
    assert sum(len(v) for v in corruptions.FAMILIES.values()) == 14
    assert all(len(r.params) == 5 for r in corruptions.REGISTRY.values())


@pytest.mark.parametrize("name", corruptions.NAMES)
def test_each_severity_changes_keeps_shape_and_is_deterministic(name):
    video = _video()
    for s in range(1, 6):
        out = corruptions.apply(name, video, s, seed=1)
        assert out.shape == video.shape and out.dtype == torch.uint8
        assert not torch.equal(out, video), (name, s)
    assert torch.equal(corruptions.apply(name, video, 3, seed=5), corruptions.apply(name, video, 3, seed=5))


def test_seed_changes_random_corruptions():
    video = _video()
    for name in ("gaussian_noise", "rotate", "glass_blur", "motion_blur", "impulse_noise"):
        assert not torch.equal(corruptions.apply(name, video, 3, 0), corruptions.apply(name, video, 3, 1)), name


def test_uint8_range_path():
    """0-255 input stays a faithful 0-255 image (no float*255 ToPILImage bug): mild noise keeps the mean."""
    video = torch.full((2, 32, 32, 3), 128, dtype=torch.uint8)
    out = corruptions.apply("gaussian_noise", video, 1, 0).float()
    assert abs(out.mean().item() - 128) < 3 and 10 < out.std().item() < 30  # sigma .08 * 255 ~ 20


@pytest.mark.parametrize("name", ["gaussian_noise", "speckle_noise", "impulse_noise", "shot_noise",
                                  "defocus_blur", "jpeg"])
def test_severity_monotone(name):
    video = _video(h=64, w=64)
    errors = [(corruptions.apply(name, video, s, 0).float() - video.float()).abs().mean().item() for s in range(1, 6)]
    assert errors == sorted(errors), errors


def test_rotate_matches_pil():
    from PIL import Image

    video = _video(t=1, h=32, w=48)
    ours = corruptions.apply("static_rotate", video, 3, 0)[0].numpy()
    pil = np.asarray(Image.fromarray(video[0].numpy()).rotate(30, resample=Image.NEAREST))
    assert (ours == pil).all(-1).mean() > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown corruption"):
        corruptions.apply("fog", _video(), 3, 0)
    with pytest.raises(ValueError, match="severity"):
        corruptions.apply("jpeg", _video(), 6, 0)
    with pytest.raises(ValueError, match="uint8"):
        corruptions.apply("jpeg", _video().float(), 3, 0)


@pytest.mark.parametrize("codec", ["mpeg4", "mpeg2video"])
def test_write_video_qscale_changes_size(tmp_path, codec):
    frames = torch.randint(0, 256, (6, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    sizes = [write_video(tmp_path / f"{q}.avi", frames, codec=codec, crf=None, qscale=q).stat().st_size
             for q in (2, 31)]
    assert sizes[0] > 2 * sizes[1], sizes


def test_where_each_corruption_acts():
    """PROTOCOLS §4.3 / Q13: the codecs re-encode the whole video, the 12 others act on each test view."""
    assert corruptions.WHOLE_VIDEO == ("codec1", "codec2")
    assert set(corruptions.PER_VIEW) | set(corruptions.WHOLE_VIDEO) == set(corruptions.NAMES)
    assert len(corruptions.PER_VIEW) == 12


@pytest.mark.parametrize("name", ["codec1", "codec2"])
def test_written_codec_file_decodes_to_apply(tmp_path, name):
    from synvid.video_io import read_video
    video = _video(t=6, h=48, w=64)
    path = corruptions.write_whole_video(name, video, 2, tmp_path / "v.avi", fps=30000 / 1001)  # NTSC, as UCF101
    assert torch.equal(read_video(path), corruptions.apply(name, video, 2))
    with pytest.raises(ValueError, match="not a whole-video"):
        corruptions.write_whole_video("jpeg", video, 2, tmp_path / "j.avi", fps=25)
    with pytest.raises(ValueError, match="severity"):
        corruptions.write_whole_video(name, video, 0, tmp_path / "x.avi", fps=25)
