"""Video `index` of a registered synthetic dataset, frame by frame (Section 3.1, Table 8, PROTOCOLS §6-7): the
spec's shapes (synvid.render.dynamics) drawn by synvid.render.shapes, filled with colours or the set's textures."""
from typing import Optional, Sequence

import numpy as np
import torch

from synvid import progression
from synvid.config import RenderConfig, TextureConfig
from synvid.errors import BadInput
from synvid.render import dynamics, shapes
from synvid.textures.datasets import AtFrame, frame_of, texture_source


def _fit(tex: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [K, S, S, 3] -> [K, size, size, 3]: a whole texture / image shown as the canvas (bilinear)."""
    if tex.shape[1] == size and tex.shape[2] == size:
        return tex
    x = torch.nn.functional.interpolate(tex.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear",
                                        align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class PerVideo:
    """A source that fetches each texture once per video: the rasteriser asks for the visible ones every frame,
    and generating (or reading) a texture costs far more than drawing it. The textures sit in one table that the
    numba rasteriser reads by row (`rows`), so no frame copies them (512^2 image crops: 0.8 MB each)."""

    def __init__(self, src):
        self.src, self.pool_size, self.size = src, src.pool_size, src.size
        self._row: dict = {}
        self._table = np.empty((0, src.size, src.size, 3), np.uint8)

    def rows(self, ids):
        """(table uint8 [M, S, S, 3] of the textures fetched so far, numpy row of each id)."""
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        new = sorted(set(ids) - self._row.keys())
        if new:
            n = len(self._row)
            if n + len(new) > len(self._table):           # grow by doubling: a few copies per video
                grown = np.empty((max(2 * len(self._table), n + len(new)),) + self._table.shape[1:], np.uint8)
                grown[:n] = self._table[:n]
                self._table = grown
            self._table[n:n + len(new)] = self.src.get(torch.tensor(new), "cpu").cpu().numpy()
            self._row.update((k, n + j) for j, k in enumerate(new))
        return self._table[:len(self._row)], np.array([self._row[i] for i in ids], dtype=np.int64)

    def get(self, ids, device):
        table, rows = self.rows(torch.as_tensor(ids).cpu().numpy())
        return torch.from_numpy(table[rows]).to(device)


def _background(mode, name, index, seed, size, textures, saturated) -> Optional[torch.Tensor]:
    """None (black, the §9.2 default), one random colour, or one random image of the set's own source resized to
    the canvas (§9.4 "a random image from the image crops set"; saturation is per moving object, so not here)."""
    if mode == "black":
        return None
    if mode == "color":
        return torch.tensor(progression.background_colour(name, index, seed), dtype=torch.uint8).expand(size, size, 3)
    src = textures.base if saturated and hasattr(textures, "base") else textures
    k = int(progression.rng_for(seed, name, index, 5).integers(0, src.pool_size))
    return _fit(src.get(torch.tensor([k]), "cpu"), size)[0]


def render(name: str, index: int, *, seed: int = 0, frames: Optional[Sequence[int]] = None,
           size: int = 256, device="cpu", textures=None, cfg: Optional[RenderConfig] = None,
           imagenet: str = "", background: Optional[str] = None, tex_cfg: Optional[TextureConfig] = None,
           bank: str = "", texture_device=None) -> torch.Tensor:
    """Video `index` of dataset `name` -> uint8 [T, size, size, 3] (frames=None: the whole video).
    `background` overrides the set's (progression.resolve_background).
    `tex_cfg`, `bank`, `imagenet`: how the set's texture source is built (texture_source) unless `textures`;
    `texture_device`: where it generates textures (default `device`), e.g. CUDA while the numba CPU path draws."""
    spec, cfg = progression.spec(name), cfg or RenderConfig()
    n = progression.num_frames(name, index, seed, cfg)
    frames = list(range(n)) if frames is None else [int(t) for t in frames]
    if any(t < 0 or t >= n for t in frames):
        raise BadInput(f"frames must lie in [0, {n}) for {name} video {index}, got {frames}")
    bg = progression.resolve_background(name, cfg, background)
    if (spec.texture is not None or bg == "image") and textures is None:
        textures = texture_source(name, seed=seed, device=texture_device or device, imagenet=imagenet,
                                  tex_cfg=tex_cfg, bank=bank)
    empty = torch.zeros(0, size, size, 3, dtype=torch.uint8)
    if spec.full_frame or progression.is_static(name, index, cfg):   # one whole texture per video, resized
        k = torch.tensor([int(progression.rng_for(seed, name, index, 4).integers(0, textures.pool_size))])
        if not spec.dynamic:                              # static video: one image repeated (§5.1, §9.4)
            return _fit(textures.get(k, "cpu"), size).repeat(len(frames), 1, 1, 1).to(device)
        out = [_fit(frame_of(textures, k, t, True, "cpu"), size)[0] for t in frames]
        return torch.stack(out).to(device) if out else empty.to(device)
    back = _background(bg, name, index, seed, size, textures, spec.saturated)
    sh = dynamics.video_shapes(name, index, seed, cfg)
    fill, tex_ids = None, None
    if spec.fills_shapes:
        fill = textures if spec.dynamic else PerVideo(textures)
        tex_ids = progression.rng_for(seed, name, index, 2).integers(0, textures.pool_size, len(sh["kind"]))

    def frame(t):
        src = AtFrame(fill, t) if spec.dynamic and fill is not None else fill
        return shapes.render_frame(sh, dynamics.state_at(sh, t), size, device, src, tex_ids, back)
    if not spec.moving and not spec.dynamic:              # static: one frame copied (identical frames, Q24)
        return frame(0)[None].repeat(len(frames), 1, 1, 1)
    out = [frame(t) for t in frames]
    return torch.stack(out) if out else empty.to(device)
