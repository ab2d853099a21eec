"""On-the-fly pre-training clips (INTERFACES.md): 16 frames at stride 4 from a uniform start (PROTOCOLS §2.2)."""
import torch

from synvid.config import RenderConfig
from synvid.render import dynamics


class SyntheticClips(torch.utils.data.Dataset):
    """Clip i of epoch e. On-the-fly sets draw a new video per (e, i) (the authors' virtual dataset of 9,537 per
    epoch); fixed sets (the textured ones) reuse their cfg.num_videos videos, with a new clip start each epoch."""

    def __init__(self, name, *, epoch_size=9537, num_frames=16, sampling_rate=4, seed=0, size=256,
                 textures=None, cfg=None, tex_cfg=None, imagenet="", bank=""):
        from synvid import progression
        self.fixed = progression._spec(name).fixed
        self.name, self.epoch_size, self.t, self.stride = name, epoch_size, num_frames, sampling_rate
        self.seed, self.size, self.textures, self.epoch = seed, size, textures, 0
        self.cfg = cfg or RenderConfig()
        self.source = dict(tex_cfg=tex_cfg, imagenet=imagenet, bank=bank)

    def set_epoch(self, epoch: int):
        self.epoch = int(epoch)

    def __len__(self):
        return self.epoch_size

    def __getitem__(self, i):
        from synvid import progression
        draw = self.epoch * self.epoch_size + int(i)
        index = draw % self.cfg.num_videos if self.fixed else draw
        n = progression.num_frames(self.name, index, self.seed, self.cfg)
        span = self.t * self.stride
        start = int(dynamics.rng_for(self.seed, self.name, draw, 3).integers(0, max(n - span, 0) + 1))
        frames = [min(start + k * self.stride, n - 1) for k in range(self.t)]
        return progression.render(self.name, index, seed=self.seed, frames=frames, size=self.size, cfg=self.cfg,
                                  textures=self.textures, **self.source)
