"""Natural-image texture pools from an ImageFolder-layout directory (ImageNet train by default).

Tables 2 and 10: the textured shapes show crops of 300k (or 1.3M) ImageNet images, or a mix of 150k images and
150k statistical textures. The pool is a deterministic subset of the sorted file list chosen by seed; texture
id k is the full-resolution image pool[k] resized straight to its size (textures.source: 2S = 512^2, as the
authors' offline generator does per shape with cv2 INTER_NEAREST, gen_syn_video.py:156); the renderer then shows
the part inside the shape's outline (images are not segmented). `Saturated` (Appendix 9.4, Table 12) adds a random
per-id colour to any source.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from synvid.errors import BadInput, MissingInput
from synvid.textures.rng import np_rng

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff", ".JPEG")


def list_images(root: str | Path) -> list[Path]:
    """Sorted image files of an ImageFolder tree root/<class>/<image>; clear errors otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise MissingInput(f"image-crop textures: directory {root} does not exist (pass --imagenet DIR, "
                           "an ImageFolder root such as ImageNet train/)")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if not classes:
        raise BadInput(f"{root} is not ImageFolder-shaped: expected class sub-directories root/<class>/<img>")
    files = sorted(f for c in classes for f in c.iterdir() if f.is_file() and f.suffix.lower() in
                   {e.lower() for e in EXTENSIONS})
    if not files:
        raise BadInput(f"{root} is not ImageFolder-shaped: no image files in its class directories "
                       f"(first class: {classes[0]})")
    return files


def pool_indices(total: int, pool_size: int, seed: int) -> np.ndarray:
    """Deterministic subset of `pool_size` of `total` images (all of them, in order, when it is larger)."""
    if pool_size >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng([4, seed]).choice(total, size=pool_size, replace=False))


def load(path: Path, size: int) -> torch.Tensor:
    """RGB image resized (nearest) to size x size -> uint8 [size, size, 3]; an unreadable file is named."""
    try:
        with Image.open(path) as im:
            return torch.from_numpy(resize_nearest(np.asarray(im.convert("RGB")), size))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BadInput(f"unreadable image {path}: {e}") from e


def resize_nearest(image: np.ndarray, size: int) -> np.ndarray:
    """[H, W, C] -> [size, size, C] as cv2.resize INTER_NEAREST: output pixel i takes input floor(i * H / size)
    (PIL's NEAREST samples pixel centres instead, a half-pixel shift)."""
    rows = np.arange(size) * image.shape[0] // size
    cols = np.arange(size) * image.shape[1] // size
    return np.ascontiguousarray(image[rows][:, cols])


class ImageCrops:
    """TextureSource over natural images: id k -> pool image k at S x S."""

    def __init__(self, root, *, seed: int = 0, size: int = 256, pool_size: int = 300_000):
        files = list_images(root)
        self.files = [files[i] for i in pool_indices(len(files), pool_size, seed)]
        self.pool_size, self.size, self.seed = len(self.files), size, seed

    def get(self, ids: torch.Tensor, device="cpu") -> torch.Tensor:
        out = [load(self.files[int(k)], self.size) for k in torch.as_tensor(ids).tolist()]
        return torch.stack(out).to(device) if out else torch.empty(0, self.size, self.size, 3, dtype=torch.uint8)


class Mix:
    """Table 2 / 10 mix: ids [0, a) from source a, ids [a, a+b) from source b (e.g. 150k images + 150k stat).
    A part of a smaller size (generated S^2 beside 2S^2 images) is enlarged by pixel repetition, which the renderer's
    texel floor(q size / 512) reads exactly as the part itself."""

    def __init__(self, first, second):
        self.parts, self.size = (first, second), max(first.size, second.size)
        if self.size % first.size or self.size % second.size:
            raise BadInput(f"mixed texture sources need sizes that divide each other, got {first.size} and "
                           f"{second.size}")
        self.pool_size = first.pool_size + second.pool_size

    def get(self, ids: torch.Tensor, device="cpu") -> torch.Tensor:
        ids = torch.as_tensor(ids).cpu()
        out = torch.empty(len(ids), self.size, self.size, 3, dtype=torch.uint8)
        n0 = self.parts[0].pool_size
        for part, sel, offset in ((self.parts[0], ids < n0, 0), (self.parts[1], ids >= n0, n0)):
            if sel.any():
                rep = self.size // part.size
                out[sel] = part.get(ids[sel] - offset, "cpu").cpu().repeat_interleave(rep, 1).repeat_interleave(rep, 2)
        return out.to(device)


class Saturated:
    """Appendix 9.4 / Table 12: a random per-texture RGB colour added to the texture (clipped to 255)."""

    def __init__(self, base, *, seed: int = 0):
        self.base, self.seed = base, seed
        self.pool_size, self.size = base.pool_size, base.size

    def get(self, ids: torch.Tensor, device="cpu") -> torch.Tensor:
        tex = self.base.get(ids, device).to(torch.int16)
        colours = [np_rng(self.seed, int(k), "saturated").integers(0, 256, 3) for k in torch.as_tensor(ids).tolist()]
        add = torch.as_tensor(np.array(colours, dtype=np.int16).reshape(-1, 1, 1, 3), device=tex.device)
        return (tex + add).clamp(0, 255).to(torch.uint8)
