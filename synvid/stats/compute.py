"""Section 5 statistics of one dataset against a reference (UCF101) set, features cached per dataset."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from synvid import metrics
from synvid.config import PretrainConfig, StatsConfig
from synvid.errors import BadInput
from synvid.render import RENDER_VERSION
from synvid.stats import i3d, inception
from synvid.stats.cache import cache_path, cached
from synvid.stats.sources import Source, sample_clips, sample_frames, sample_pretrain_clips

STATS = ("spectrum", "color", "fid", "fvd", "diversity")
NEEDS = {"fid": "inception", "diversity": "inception", "fvd": "i3d"}


def parse_stats(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in STATS]
    if bad or not names:
        raise BadInput(f"unknown statistics {bad}; choose from {', '.join(STATS)}")
    return names


def check_weights(stats, inception_weights=None, i3d_weights=None) -> None:
    """Raise, naming the expected file, before any work if a requested statistic lacks its weights."""
    if any(NEEDS.get(s) == "inception" for s in stats):
        inception.check_weights(inception_weights)
    if "fvd" in stats:
        i3d.check_weights(i3d_weights)


def render_key(size: int, synthetic: dict | None) -> str:
    """A short hash of how synthetic frames are made (size, RenderConfig, TextureConfig, sources)."""
    opts = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in (synthetic or {}).items()}
    text = json.dumps({"size": size, "render_version": RENDER_VERSION, **opts}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class Runner:
    """Computes the requested statistics of `dataset` vs `reference`; features cached under `cache_dir`."""

    def __init__(self, cfg: StatsConfig, cache_dir, *, size=256, device="cpu", inception_weights=None,
                 i3d_weights=None, root=None, synthetic: dict | None = None, pretrain: PretrainConfig | None = None):
        """`pretrain`: the profile's PretrainConfig, whose clip sampling (num_frames, sampling_rate) diversity uses."""
        self.cfg, self.root, self.cache_dir, self.size, self.device = cfg, root, cache_dir, size, device
        self.pretrain = pretrain or PretrainConfig()
        self.synthetic = synthetic   # rendering options of synthetic sets (synvid.stats.sources.Source)
        self.key = render_key(size, synthetic)   # in every cache name: another size or profile -> new features
        self.inception_weights, self.i3d_weights = inception_weights, i3d_weights
        self._inception = self._i3d = None

    def _source(self, name):
        return Source(name, size=self.size, seed=self.cfg.seed, root=self.root, synthetic=self.synthetic)

    def _frames(self, name, n, salt):
        src = self._source(name)
        path = cache_path(self.cache_dir, name, f"frames{salt}", n=n, seed=self.cfg.seed, r=self.key)
        return cached(path, lambda: sample_frames(src, n, seed=self.cfg.seed + salt))

    def _inception_feats(self, name, kind, n, frames_fn):
        def compute():
            if self._inception is None:
                self._inception = inception.build_inception(self.inception_weights, self.device)
            return inception.inception_features(self._inception, frames_fn(), self.cfg.batch_size, self.device)
        return cached(cache_path(self.cache_dir, name, kind, n=n, seed=self.cfg.seed, r=self.key), compute)

    def _clips(self, name, n, t):
        return sample_clips(self._source(name), n, t, seed=self.cfg.seed + 7)

    def spectrum(self, name):
        # the one estimator (metrics.spectrum_slope, TEXTURES §5): no window, log-spaced annuli 4..side/4
        alphas = metrics.spectrum_exponents(self._frames(name, self.cfg.spectrum_frames, 1))
        ok = alphas[np.isfinite(alphas)]
        return {"alpha_mean": float(ok.mean()) if len(ok) else float("nan"),
                "alpha_std": float(ok.std()) if len(ok) else float("nan"), "frames": int(len(ok)),
                "flat_frames": int(len(alphas) - len(ok)),
                "estimator": "metrics.spectrum_slope: |FFT| no window, log-spaced annuli 4..side/4 cycles/image"}

    def color(self, name, reference):
        n = self.cfg.color_frames
        kl = metrics.color_kl(self._frames(name, n, 2), self._frames(reference, n, 2))
        return {"color_kl_sym_sum": kl, "frames": n, "note": "KL(P||Q) + KL(Q||P), sum not mean"}

    def fid(self, name, reference):
        n = self.cfg.fid_frames
        feats = [self._inception_feats(x, "inception_frames", n, lambda x=x: self._frames(x, n, 3))
                 for x in (name, reference)]
        fd = metrics.frechet_distance(*metrics.feature_stats(feats[0]), *metrics.feature_stats(feats[1]))
        return {"fid": fd, "frames": n, "implementation": "pytorch-fid InceptionV3 299 bilinear, np.cov (1/(N-1))"}

    def fvd(self, name, reference):
        n, t = self.cfg.fvd_videos, self.cfg.fvd_frames

        def feats(x):
            def compute():
                if self._i3d is None:
                    self._i3d = i3d.load_i3d(self.i3d_weights, self.device)
                return i3d.i3d_features(self._i3d, self._clips(x, n, t), device=self.device)
            return cached(cache_path(self.cache_dir, x, "i3d", n=n, t=t, seed=self.cfg.seed, r=self.key), compute)
        fa, fb = feats(name), feats(reference)
        fd = metrics.frechet_distance(*metrics.feature_stats(fa, unbiased=False),
                                      *metrics.feature_stats(fb, unbiased=False))
        return {"fvd": fd, "videos": n, "frames": t,
                "implementation": "StyleGAN-V I3D, rescale/resize=True, population covariance (1/N)"}

    def diversity(self, name):
        n, t, rate = self.cfg.diversity_videos, self.pretrain.num_frames, self.pretrain.sampling_rate
        # §5.4 "16 sampled frames in randomly sampled videos": the pre-training clip sampling (16 at stride 4)

        def frames():
            clips = sample_pretrain_clips(self._source(name), n, t, rate, seed=self.cfg.seed + 7)
            return clips.reshape(-1, *clips.shape[2:])
        kind = f"inception_pretrain_clips_t{t}_s{rate}"
        cov = metrics.covariance_log_det(self._inception_feats(name, kind, n * t, frames))
        return {"log_det_diversity": cov["log_det"], "covariance_rank": cov["rank"], "feature_dim": cov["dim"],
                "videos": n, "frames_per_video": t, "sampling_rate": rate}

    def run(self, name, reference, stats) -> dict:
        out = {"dataset": name, "reference": reference}
        for s in stats:
            fn = getattr(self, s)
            out[s] = fn(name) if s in ("spectrum", "diversity") else fn(name, reference)
        return out
