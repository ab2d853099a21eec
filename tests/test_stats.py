"""End-to-end tests of synvid.stats (FID/FVD/diversity wiring, caching, weight checks) on tiny inputs."""
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_fid import inception as pfi

from synvid.config import PretrainConfig, StatsConfig
from synvid.data.lists import write_list
from synvid.stats import compute, i3d, inception
from synvid.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]


class TinyI3D(torch.nn.Module):
    """Stand-in with the StyleGAN-V detector's call signature; returns 400-d 'logits'."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3 * 2 * 4 * 4, 400)

    def forward(self, video: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        x = video.float()
        if rescale:
            x = x / 127.5 - 1.0
        if resize:
            x = F.interpolate(x, size=(2, 4, 4), mode="trilinear", align_corners=False)
        return self.proj(x.flatten(1))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    # A randomly initialised FID Inception saved as a plain state_dict, the layout of pytorch-fid's file.
    with mock.patch.object(torch.nn.Module, "load_state_dict", lambda *a, **k: None), \
            mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: {}):
        net = pfi.fid_inception_v3()
    torch.save(net.state_dict(), d / inception.WEIGHTS_NAME)
    torch.jit.save(torch.jit.script(TinyI3D()), str(d / i3d.WEIGHTS_NAME))
    return d / inception.WEIGHTS_NAME, d / i3d.WEIGHTS_NAME


@pytest.fixture(scope="module")
def video_list(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    items = []
    for k in range(3):
        clip = rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
        write_video(d / f"v{k}.mp4", clip, fps=25)
        items.append((f"v{k}.mp4", k))
    return write_list(d / "list.txt", items)


def test_missing_weights_named_before_work():
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth"):
        compute.check_weights(("spectrum", "fid"))
    with pytest.raises(FileNotFoundError, match="i3d_torchscript.pt"):
        compute.check_weights(("fvd",), inception_weights=None)
    compute.check_weights(("spectrum", "color"))  # no weights needed


@pytest.mark.slow
def test_script_names_missing_weights_before_work(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "analysis/5_4_frame_properties.py"), "--profile", "smoke",
                        "--out", str(tmp_path / "run"), "--datasets", "static_circles", "--reference", "x.txt",
                        "--stats", "fid"], capture_output=True, text=True)
    assert r.returncode != 0 and "--inception-weights" in r.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_fid_fvd_diversity_end_to_end(tmp_path, weights, video_list):
    cfg = StatsConfig(fid_frames=3, fvd_videos=3, fvd_frames=4, diversity_videos=2,
                      spectrum_frames=2, color_frames=2, batch_size=4)
    clip = PretrainConfig(num_frames=2, sampling_rate=4)
    runner = compute.Runner(cfg, tmp_path / "cache", size=32, inception_weights=weights[0],
                            i3d_weights=weights[1], pretrain=clip)
    res = runner.run("moving_circles", str(video_list), ("fid", "fvd", "diversity", "spectrum", "color"))
    assert np.isfinite(res["fid"]["fid"]) and res["fid"]["fid"] >= 0
    assert np.isfinite(res["fvd"]["fvd"]) and res["fvd"]["fvd"] > 0
    div = res["diversity"]     # 4 frames span at most a 3-d space of the 2048-d features: singular, said so
    assert div["log_det_diversity"] == float("-inf") and div["covariance_rank"] <= 3 and div["feature_dim"] == 2048
    assert (div["frames_per_video"], div["sampling_rate"]) == (2, 4)
    assert res["spectrum"]["frames"] + res["spectrum"]["flat_frames"] == 2
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any("inception_frames" in n for n in cached) and any("i3d" in n for n in cached)
    # Re-running reuses the cache: no network is built again, the values are identical.
    again = compute.Runner(cfg, tmp_path / "cache", size=32, inception_weights=weights[0],
                           i3d_weights=weights[1], pretrain=clip)
    with mock.patch.object(inception, "build_inception", side_effect=AssertionError("rebuilt")):
        # (diversity, not fid: a 2048-d sqrtm costs ~24 s on this 2-core CPU)
        rerun = again.run("moving_circles", str(video_list), ("diversity",))
        assert rerun["diversity"] == res["diversity"]


def test_i3d_features_shape(weights):
    det = i3d.load_i3d(weights[1])
    clips = np.zeros((2, 4, 16, 16, 3), np.uint8)
    assert i3d.i3d_features(det, clips).shape == (2, 400)


def test_cache_is_keyed_by_how_frames_are_rendered(tmp_path):
    """Another render size or RenderConfig (profile) never reuses cached frames or features."""
    from synvid.config import RenderConfig
    cfg = StatsConfig(spectrum_frames=2)
    small = dict(cfg=RenderConfig(num_shapes=10, min_frames=20, max_frames=24))
    for size, synthetic in ((32, small), (64, small), (32, dict(cfg=RenderConfig(num_shapes=12)))):
        compute.Runner(cfg, tmp_path / "cache", size=size, synthetic=synthetic).spectrum("moving_circles")
    assert len(list((tmp_path / "cache").glob("moving_circles__frames1__*.npz"))) == 3
    assert compute.render_key(32, small) == compute.render_key(32, dict(small))


class _Lengths:
    """A stand-in Source: videos of given lengths whose frame t is filled with the value t."""
    name = "stub"

    def __init__(self, lengths):
        self.lengths, self.num_videos = lengths, len(lengths)

    def length(self, index):
        return self.lengths[index]

    def read(self, index, frames):
        return np.broadcast_to(np.asarray(frames, np.uint8)[:, None, None, None], (len(frames), 2, 2, 3)).copy()


def test_diversity_clips_are_pretraining_clips():
    # §5.4 with the pre-training sampling (PROTOCOLS §2.2): 16 frames at stride 4 from a start uniform over the
    # video, and a video shorter than 64 frames repeats its last frame from the end of the video on.
    from synvid.stats.sources import sample_pretrain_clips
    clips = sample_pretrain_clips(_Lengths([200, 150, 70]), 40, 16, 4, seed=3)[:, :, 0, 0, 0].astype(int)
    assert clips.shape == (40, 16)
    assert (np.diff(clips, axis=1) == 4).all() and (clips[:, -1] <= 199).all()
    assert len(set(clips[:, 0])) > 10                          # starts vary (not 16 consecutive frames at 0)
    short = sample_pretrain_clips(_Lengths([30]), 3, 16, 4, seed=0)[:, :, 0, 0, 0].astype(int)
    assert short.tolist() == [[0, 4, 8, 12, 16, 20, 24, 28] + [29] * 8] * 3
    again = sample_pretrain_clips(_Lengths([200, 150, 70]), 40, 16, 4, seed=3)[:, :, 0, 0, 0].astype(int)
    assert np.array_equal(again, clips)                        # fixed by the seed
