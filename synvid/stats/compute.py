"""Section 5 statistics of one dataset against a reference (UCF101) set, features cached per dataset."""
from __future__ import annotations

import dataclasses
import hashlib
import json

from synvid import metrics
from synvid.config import StatsConfig
from synvid.render import RENDER_VERSION
from synvid.stats import i3d, inception
from synvid.stats.cache import cache_path, cached
from synvid.stats.sources import Source, sample_clips, sample_frames

STATS = ("spectrum", "color", "fid", "fvd", "diversity")
NEEDS = {"fid": "inception", "diversity": "inception", "fvd": "i3d"}


def parse_stats(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in STATS]
    if bad or not names:
        raise ValueError(f"unknown statistics {bad}; choose from {', '.join(STATS)}")
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
                 i3d_weights=None, root=None, synthetic: dict | None = None):
        self.cfg, self.root, self.cache_dir, self.size, self.device = cfg, root, cache_dir, size, device
        self.synthetic = synthetic   # rendering options of synthetic sets (synvid.stats.sources.Source)
        self.key = render_key(size, synthetic)   # in every cache name: another size or profile -> new features
        self.inception_weights, self.i3d_weights = inception_weights, i3d_weights
        self._inception = self._i3d = None

    def _frames(self, name, n, salt):
        src = Source(name, size=self.size, seed=self.cfg.seed, root=self.root, synthetic=self.synthetic)
        path = cache_path(self.cache_dir, name, f"frames{salt}", n=n, seed=self.cfg.seed, r=self.key)
        return cached(path, lambda: sample_frames(src, n, seed=self.cfg.seed + salt))

    def _inception_feats(self, name, kind, n, frames_fn):
        def compute():
            if self._inception is None:
                self._inception = inception.build_inception(self.inception_weights, self.device)
            return inception.inception_features(self._inception, frames_fn(), self.cfg.batch_size, self.device)
        return cached(cache_path(self.cache_dir, name, kind, n=n, seed=self.cfg.seed, r=self.key), compute)

    def _clips(self, name, n, t):
        src = Source(name, size=self.size, seed=self.cfg.seed, root=self.root, synthetic=self.synthetic)
        return sample_clips(src, n, t, seed=self.cfg.seed + 7)

    def spectrum(self, name):
        alphas = metrics.spectrum_exponents(self._frames(name, self.cfg.spectrum_frames, 1))
        return {"alpha_mean": float(alphas.mean()), "alpha_std": float(alphas.std()),
                "frames": int(len(alphas))}

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
        n, t = self.cfg.diversity_videos, self.cfg.diversity_frames
        # PROTOCOLS §5.4: 16 frames (here consecutive, as the FVD clips) of each of n videos.
        def frames():
            clips = self._clips(name, n, t)
            return clips.reshape(-1, *clips.shape[2:])
        feats = self._inception_feats(name, "inception_clips", n * t, frames)
        return {"log_det_diversity": metrics.log_det_diversity(feats), "videos": n, "frames_per_video": t}

    def run(self, name, reference, stats) -> dict:
        out = {"dataset": name, "reference": reference}
        for s in stats:
            fn = getattr(self, s)
            out[s] = fn(name) if s in ("spectrum", "diversity") else fn(name, reference)
        return out
