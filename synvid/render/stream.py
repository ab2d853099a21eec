"""On-the-fly pre-training clips (INTERFACES.md): 16 frames at stride 4 from a uniform start (PROTOCOLS §2.2)."""
import torch

from synvid.render import dynamics


class SyntheticClips(torch.utils.data.Dataset):
    def __init__(self, name, *, epoch_size=9537, num_frames=16, sampling_rate=4, seed=0, size=256,
                 textures=None):
        from synvid import progression
        progression._spec(name)
        self.name, self.epoch_size, self.t, self.stride = name, epoch_size, num_frames, sampling_rate
        self.seed, self.size, self.textures, self.epoch = seed, size, textures, 0

    def set_epoch(self, epoch: int):
        self.epoch = int(epoch)

    def __len__(self):
        return self.epoch_size

    def __getitem__(self, i):
        from synvid import progression
        index = self.epoch * self.epoch_size + int(i)
        n = progression.num_frames(self.name, index, self.seed)
        span = self.t * self.stride
        start = int(dynamics.rng_for(self.seed, self.name, index, 3).integers(0, max(n - span, 0) + 1))
        frames = [min(start + k * self.stride, n - 1) for k in range(self.t)]
        return progression.render(self.name, index, seed=self.seed, frames=frames, size=self.size,
                                  textures=self.textures)
