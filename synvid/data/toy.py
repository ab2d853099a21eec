"""The "toy" labelled video sets: a few procedurally generated actions over natural photographs, written in
the exact UCF101 and HMDB51 on-disk layouts (PROTOCOLS.md §1.1-1.2) so that smoke runs and tests go through
the same split parsers and decord reader as the real data. Toy numbers are never paper results.

Action classes (a bright disc over a scikit-image photo): the disc moves left, moves right, orbits the
centre, or grows. Each video gets its own photo crop, disc colour, speed and start, drawn from (seed, index).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from synvid.config import save_config
from synvid.errors import BadInput
from synvid.runs import atomic_write_text, is_done, mark_done
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


MAKERS = {"toy_ucf101": make_toy_ucf101, "toy_hmdb51": make_toy_hmdb51}


def make(name: str, out: str | Path, **kw) -> Path:
    if name not in MAKERS:
        raise BadInput(f"unknown toy set {name!r}; choose from {', '.join(MAKERS)}")
    return MAKERS[name](out, **kw)


def write(name: str, out, *, num_classes: int, frames: int, seed: int, profile: str) -> None:
    """data_gen/4_0_make_toy.py: `make` into `out` once (a finished set, DONE, is skipped); DONE last."""
    if is_done(out):
        print(f"{out} is done; skipping")
        return
    save_config(out, dataset=name, seed=seed, num_classes=num_classes, frames=frames, profile=profile)
    make(name, out, num_classes=num_classes, frames=frames, seed=seed)
    mark_done(out, {"dataset": name, "num_classes": num_classes})
    print(f"wrote {name} to {out}")
