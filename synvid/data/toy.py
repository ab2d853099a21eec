"""The "toy" labelled video sets: a few procedurally generated actions over natural photographs, written in
the exact UCF101 and HMDB51 on-disk layouts (PROTOCOLS.md §1.1-1.2) so that smoke runs and tests go through
the same split parsers and decord reader as the real data. Toy numbers are never paper results.

Action classes (a bright disc over a scikit-image photo): the disc moves left, moves right, orbits the
centre, or grows. Each video gets its own photo crop, disc colour, speed and start, drawn from (seed, index).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from synvid.errors import BadInput
from synvid.runs import RunDir, atomic_write_text
from synvid.video_io import write_video

ACTIONS = ("MoveLeft", "MoveRight", "Orbit", "Grow")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")


def _backgrounds() -> list[np.ndarray]:
    from skimage import data
    out = []
    for name in PHOTOS:
        img = getattr(data, name)()
        out.append(np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3])
    return out


def render_action(action: str, rng: np.random.Generator, *, frames: int, height: int, width: int,
                  backgrounds: list[np.ndarray]) -> np.ndarray:
    """uint8 [frames, height, width, 3] of one toy action."""
    bg = backgrounds[int(rng.integers(len(backgrounds)))]
    scale = int(rng.integers(2, 5))  # subsample the photo so the crop holds natural structure at any size
    small = bg[::scale, ::scale]
    y0 = int(rng.integers(0, max(small.shape[0] - height, 1)))
    x0 = int(rng.integers(0, max(small.shape[1] - width, 1)))
    canvas = np.ascontiguousarray(small[y0:y0 + height, x0:x0 + width])
    canvas = np.pad(canvas, ((0, height - canvas.shape[0]), (0, width - canvas.shape[1]), (0, 0)), mode="edge")
    colour = rng.integers(128, 256, size=3)
    t = np.arange(frames) / max(frames - 1, 1)
    cy, cx = height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65)
    radius = np.full(frames, min(height, width) * rng.uniform(0.12, 0.2))
    span = width * rng.uniform(0.25, 0.4)
    if action == "MoveLeft":
        xs, ys = cx + span * (0.5 - t), np.full(frames, cy)
    elif action == "MoveRight":
        xs, ys = cx - span * (0.5 - t), np.full(frames, cy)
    elif action == "Orbit":
        angle = 2 * np.pi * t + rng.uniform(0, 2 * np.pi)
        xs, ys = width / 2 + span * np.cos(angle), height / 2 + span * np.sin(angle)
    elif action == "Grow":
        xs, ys = np.full(frames, cx), np.full(frames, cy)
        radius = radius * (0.5 + 1.5 * t)
    else:
        raise BadInput(f"unknown toy action {action!r}; choose from {ACTIONS}")
    yy, xx = np.mgrid[:height, :width]
    video = np.repeat(canvas[None], frames, 0)
    inside = (yy[None] - ys[:, None, None]) ** 2 + (xx[None] - xs[:, None, None]) ** 2 <= radius[:, None, None] ** 2
    video[inside] = colour
    return video


def _videos(num_classes, count, seed, **kw):
    """Yield (class name, video index within class, frames) deterministically from the seed."""
    if not 2 <= num_classes <= len(ACTIONS):
        raise BadInput(f"toy sets have 2..{len(ACTIONS)} classes, got {num_classes}")
    backgrounds = _backgrounds()
    for c, action in enumerate(ACTIONS[:num_classes]):
        for i in range(count):
            rng = np.random.default_rng([seed, c, i])
            yield action, i, render_action(action, rng, backgrounds=backgrounds, **kw)


def make_toy_ucf101(out: str | Path, *, num_classes: int = 3, groups: int = 4, clips_per_group: int = 2,
                    test_groups: int = 1, frames: int = 24, height: int = 32, width: int = 40, seed: int = 0,
                    fps: int = 25) -> Path:
    """Write `<out>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi` and `<out>/ucfTrainTestlist/` (classInd, trainlist01
    with 1-based labels, testlist01 without labels and with CRLF endings, as distributed). Groups 1..test_groups
    are the test split (UCF101 split 1 tests g01-g07)."""
    out = Path(out)
    classes = ACTIONS[:num_classes]
    train, test = [], []
    for action, i, video in _videos(num_classes, groups * clips_per_group, seed,
                                    frames=frames, height=height, width=width):
        g, c = i // clips_per_group + 1, i % clips_per_group + 1
        rel = f"{action}/v_{action}_g{g:02d}_c{c:02d}.avi"
        write_video(out / "UCF-101" / rel, video, fps=fps, codec="mpeg4", crf=None, qscale=2)
        if g <= test_groups:
            test.append(rel)
        else:
            train.append(f"{rel} {classes.index(action) + 1}")
    lists = out / "ucfTrainTestlist"
    atomic_write_text(lists / "classInd.txt", "".join(f"{k + 1} {n}\n" for k, n in enumerate(classes)))
    atomic_write_text(lists / "trainlist01.txt", "".join(f"{line}\n" for line in train))
    atomic_write_text(lists / "testlist01.txt", "".join(f"{line}\r\n" for line in test))
    return out


def make_toy_hmdb51(out: str | Path, *, num_classes: int = 3, per_class: int = 6, test_per_class: int = 2,
                    unused_per_class: int = 1, frames: int = 24, height: int = 32, width: int = 40, seed: int = 0,
                    fps: int = 30) -> Path:
    """Write `<out>/<class>/<name>.avi` and `<out>/testTrainMulti_7030_splits/<class>_test_split1.txt` with
    flags 1 = train, 2 = test, 0 = unused (HMDB51 layout, lower-case class names)."""
    out = Path(out)
    lines: dict[str, list[str]] = {}
    for action, i, video in _videos(num_classes, per_class, seed + 1, frames=frames, height=height, width=width):
        name = action.lower()
        file = f"toy_{name}_clip_{i:02d}_u_nm_np1_fr_goo_0.avi"
        write_video(out / name / file, video, fps=fps, codec="mpeg4", crf=None, qscale=2)
        flag = 2 if i < test_per_class else (0 if i < test_per_class + unused_per_class else 1)
        lines.setdefault(name, []).append(f"{file} {flag} \n")  # the distributed files end lines with a space
    for name, rows in lines.items():
        atomic_write_text(out / "testTrainMulti_7030_splits" / f"{name}_test_split1.txt", "".join(rows))
    return out


# --- The miniature's action set (profile `cpu`): camera and object motions over natural photographs -------------
# Classes: eight camera motions over one photo, two object interactions (two patches cut from other photos, over a
# drifting photo). Nothing in it is a flat shape: every pixel comes from a photograph. Train and test videos are
# cut from disjoint photographs (ACTION_PHOTOS), so a test video never shows a photo seen in training.
CAMERA_ACTIONS = ("PanLeft", "PanRight", "PanUp", "PanDown", "ZoomIn", "ZoomOut", "RotateLeft", "RotateRight")
OBJECT_ACTIONS = ("ObjectsMeet", "ObjectsPart")
MOTION_ACTIONS = CAMERA_ACTIONS + OBJECT_ACTIONS
# scikit-image's bundled photographs (offline), split by photo; grey ones are used as grey RGB
ACTION_PHOTOS = {"train": ("astronaut", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "camera",
                           "brick", "grass"),
                 "test": ("chelsea", "retina", "stereo_motorcycle", "gravel")}


def _photo(name: str) -> "torch.Tensor":
    import torch
    from skimage import data
    img = getattr(data, name)()
    img = img[0] if isinstance(img, tuple) else img          # stereo_motorcycle: (left, right, disparity)
    img = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()[None]   # [1,3,H,W], 0..255


def _sample(photo, centre, scale, angle, height: int, width: int):
    """Frames [T,3,height,width] of a camera over `photo`: output pixel (u, v) (from the frame centre) shows photo
    point centre_t + scale_t * R(angle_t) (u, v); per-frame tensors [T,2], [T], [T]."""
    import torch
    import torch.nn.functional as F
    ph, pw = photo.shape[-2:]
    v, u = torch.meshgrid(torch.arange(height) - (height - 1) / 2, torch.arange(width) - (width - 1) / 2,
                          indexing="ij")
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    s = scale[:, None, None]
    x = centre[:, 0, None, None] + s * (cos * u - sin * v)
    y = centre[:, 1, None, None] + s * (sin * u + cos * v)
    grid = torch.stack([(2 * x + 1) / pw - 1, (2 * y + 1) / ph - 1], -1)     # align_corners=False coordinates
    return F.grid_sample(photo.expand(len(angle), -1, -1, -1), grid.float(), mode="bilinear",
                         padding_mode="reflection", align_corners=False)


def render_motion(action: str, rng: np.random.Generator, photos: list, *, frames: int, height: int,
                  width: int) -> np.ndarray:
    """uint8 [frames, height, width, 3] of one action of MOTION_ACTIONS over photos of one split."""
    import torch
    t = torch.arange(frames, dtype=torch.float64)
    pick = rng.permutation(len(photos))
    photo = photos[pick[0]]
    ph, pw = photo.shape[-2:]
    scale0 = rng.uniform(1.5, 3.0) * min(ph, pw) / 512            # photo pixels per output pixel
    centre0 = torch.tensor([rng.uniform(0.3, 0.7) * pw, rng.uniform(0.3, 0.7) * ph], dtype=torch.float64)
    angle0 = rng.uniform(-np.pi, np.pi) if rng.random() < 0.5 else 0.0
    speed = rng.uniform(0.6, 1.6)                                   # output pixels per frame
    direction = {"PanLeft": (-1, 0), "PanRight": (1, 0), "PanUp": (0, -1), "PanDown": (0, 1)}
    centre = centre0[None].repeat(frames, 1)
    scale = torch.full((frames,), scale0, dtype=torch.float64)
    angle = torch.full((frames,), angle0, dtype=torch.float64)
    if action in direction:       # the camera moves; the content moves the other way (a pan, as UCF101's)
        dx, dy = direction[action]
        c, s = np.cos(angle0), np.sin(angle0)      # a step along the frame's own axes
        step = torch.tensor([c * dx - s * dy, s * dx + c * dy], dtype=torch.float64) * speed * scale0
        centre = centre0 + t[:, None] * step
    elif action in ("ZoomIn", "ZoomOut"):
        rate = rng.uniform(0.012, 0.025) * (-1 if action == "ZoomIn" else 1)
        scale = scale0 * torch.exp(rate * (t - frames / 2))
    elif action in ("RotateLeft", "RotateRight"):
        omega = np.deg2rad(rng.uniform(0.8, 2.0)) * (-1 if action == "RotateLeft" else 1)
        angle = angle0 + omega * t
    elif action not in OBJECT_ACTIONS:
        raise BadInput(f"unknown toy action {action!r}; choose from {MOTION_ACTIONS}")
    video = _sample(photo, centre, scale, angle, height, width)
    if action in OBJECT_ACTIONS:
        video = _objects(action, rng, [photos[pick[1 % len(pick)]], photos[pick[2 % len(pick)]]], video, t,
                         speed=speed)
    return video.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()


def _objects(action: str, rng: np.random.Generator, sources: list, background, t, *, speed: float):
    """Two rectangular patches cut from `sources` move towards each other (ObjectsMeet) or apart (ObjectsPart)
    along a random axis through a random point of `background` [T,3,H,W]."""
    import torch
    frames, _, height, width = background.shape
    video = background.clone()
    axis = rng.uniform(0, np.pi)
    ux, uy = np.cos(axis), np.sin(axis)
    mid = np.array([rng.uniform(0.4, 0.6) * width, rng.uniform(0.4, 0.6) * height])
    gap = np.abs(t.numpy() - (frames - 1) * (1.0 if action == "ObjectsMeet" else 0.0)) * speed + 2
    for k, source in enumerate(sources):
        side = -1 if k == 0 else 1
        ph = int(rng.integers(height // 5, height // 3 + 1))
        pw = int(rng.integers(width // 5, width // 3 + 1))
        sh, sw = source.shape[-2:]
        scale = rng.uniform(1.0, 3.0)
        y0 = int(rng.integers(0, max(sh - int(ph * scale), 1)))
        x0 = int(rng.integers(0, max(sw - int(pw * scale), 1)))
        patch = torch.nn.functional.interpolate(source[..., y0:y0 + int(ph * scale), x0:x0 + int(pw * scale)],
                                                size=(ph, pw), mode="bilinear", align_corners=False)[0]
        for f in range(frames):
            cx, cy = mid + side * (gap[f] + max(ph, pw) / 2) * np.array([ux, uy])
            top, left = int(round(cy - ph / 2)), int(round(cx - pw / 2))
            y_from, x_from = max(top, 0), max(left, 0)
            y_to, x_to = min(top + ph, height), min(left + pw, width)
            if y_to > y_from and x_to > x_from:
                video[f, :, y_from:y_to, x_from:x_to] = patch[:, y_from - top:y_to - top, x_from - left:x_to - left]
    return video


def make_toy_actions(out: str | Path, *, train_per_class: int = 40, test_per_class: int = 24, frames: int = 40,
                     height: int = 64, width: int = 80, seed: int = 0, fps: int = 25) -> Path:
    """The miniature's action set (MOTION_ACTIONS) in the UCF101 layout: test videos are groups g01-g07 (as
    UCF101 split 1) cut from ACTION_PHOTOS["test"], training videos g08- from ACTION_PHOTOS["train"]."""
    out = Path(out)
    pools = {subset: [_photo(name) for name in names] for subset, names in ACTION_PHOTOS.items()}
    lines = {"train": [], "test": []}
    for c, action in enumerate(MOTION_ACTIONS):
        for subset, count, first_group in (("test", test_per_class, 1), ("train", train_per_class, 8)):
            for i in range(count):
                rng = np.random.default_rng([seed, c, i, subset == "test"])
                video = render_motion(action, rng, pools[subset], frames=frames, height=height, width=width)
                rel = f"{action}/v_{action}_g{first_group + i // 4:02d}_c{i % 4 + 1:02d}.avi"
                write_video(out / "UCF-101" / rel, video, fps=fps, codec="mpeg4", crf=None, qscale=2)
                lines[subset].append(rel if subset == "test" else f"{rel} {c + 1}")
    lists = out / "ucfTrainTestlist"
    atomic_write_text(lists / "classInd.txt", "".join(f"{k + 1} {n}\n" for k, n in enumerate(MOTION_ACTIONS)))
    atomic_write_text(lists / "trainlist01.txt", "".join(f"{line}\n" for line in lines["train"]))
    atomic_write_text(lists / "testlist01.txt", "".join(f"{line}\r\n" for line in lines["test"]))
    return out


MAKERS = {"toy_ucf101": make_toy_ucf101, "toy_hmdb51": make_toy_hmdb51, "toy_actions": make_toy_actions}


def make(name: str, out: str | Path, **kw) -> Path:
    if name not in MAKERS:
        raise BadInput(f"unknown toy set {name!r}; choose from {', '.join(MAKERS)}")
    return MAKERS[name](out, **kw)


def write(name: str, out, *, seed: int, profile: str, **recipe) -> None:
    """data_gen/4_0_make_toy.py: `make` into `out` once (a finished set, DONE, is skipped); the whole recipe (the
    maker's defaults with `recipe` over them) goes to config.json first, DONE last."""
    maker = MAKERS.get(name)
    if maker is None:
        raise BadInput(f"unknown toy set {name!r}; choose from {', '.join(MAKERS)}")
    defaults = {k: v.default for k, v in inspect.signature(maker).parameters.items()
                if v.kind is v.KEYWORD_ONLY and k != "seed"}
    unknown = set(recipe) - set(defaults)
    if unknown:
        raise BadInput(f"{name} takes no {', '.join(sorted(unknown))}; its recipe: {', '.join(defaults)}")
    recipe = {**defaults, **recipe}
    config = dict(dataset=name, seed=seed, profile=profile, recipe=recipe,
                  **({"photos": ACTION_PHOTOS} if name == "toy_actions" else {}))
    with RunDir(out, config) as run:
        if run.done is not None:
            print(f"{out} is done; skipping")
            return
        maker(out, seed=seed, **recipe)
        run.finish({"dataset": name, **recipe})
    print(f"wrote {name} to {out}")
