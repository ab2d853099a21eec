"""On-the-fly pre-training clips: 16 frames at stride 4 from a uniform start (PROTOCOLS §2.2)."""
import torch

from synvid import progression
from synvid.config import RenderConfig
from synvid.data.sampling import pretrain_clip_indices
from synvid.render.video import render


def clip_plan(name: str, draw: int, *, num_frames: int, sampling_rate: int, seed: int, cfg: RenderConfig):
    """(video index, frame ids) of clip `draw`: fixed sets cycle through their cfg.num_videos videos; the frames
    follow the pre-training clip rule with the start from rng stream 3 keyed by the draw (PROTOCOLS §2.2)."""
    index = draw % cfg.num_videos if progression.spec(name).fixed else draw
    n = progression.num_frames(name, index, seed, cfg)
    return index, pretrain_clip_indices(n, num_frames, sampling_rate, progression.rng_for(seed, name, draw, 3))


class SyntheticClips(torch.utils.data.Dataset):
    """Clip i of epoch e. On-the-fly sets draw a new video per (e, i) (the authors' virtual dataset of
    cfg.num_videos per epoch); fixed sets (the textured ones) reuse their cfg.num_videos videos, with a new clip
    start each epoch. An epoch has cfg.num_videos clips (equal compute across the progression, RenderConfig);
    `epoch_size` is for tests and benchmarks only."""

    def __init__(self, name, *, epoch_size=None, num_frames=16, sampling_rate=4, seed=0, size=256,
                 textures=None, cfg=None, tex_cfg=None, imagenet="", bank=""):
        progression.spec(name)
        self.cfg = cfg or RenderConfig()
        self.epoch_size = self.cfg.num_videos if epoch_size is None else epoch_size
        self.name, self.t, self.stride = name, num_frames, sampling_rate
        self.seed, self.size, self.textures, self.epoch = seed, size, textures, 0
        self.source = dict(tex_cfg=tex_cfg, imagenet=imagenet, bank=bank)

    def set_epoch(self, epoch: int):
        self.epoch = int(epoch)

    def __len__(self):
        return self.epoch_size

    def __getitem__(self, i):
        index, frames = clip_plan(self.name, self.epoch * self.epoch_size + int(i), num_frames=self.t,
                                  sampling_rate=self.stride, seed=self.seed, cfg=self.cfg)
        return render(self.name, index, seed=self.seed, frames=frames, size=self.size, cfg=self.cfg,
                      textures=self.textures, **self.source)
