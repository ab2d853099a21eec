"""Materialise a synthetic set as H.264 .mp4 + official list file + manifest.json, and draw the Figure 1
grid. Resumable: a rerun keeps the videos already written if, and only if, they were written with the same settings
(settings.json), and first removes the temporary files a killed run left behind."""
import dataclasses
import hashlib
import json
from multiprocessing import get_context
from pathlib import Path

import torch
from PIL import Image

from synvid import progression
from synvid.config import RenderConfig, TextureConfig, resolve, to_dict
from synvid.data.lists import write_list
from synvid.errors import BadInput, MissingInput, UnknownName
from synvid.render import RENDER_VERSION
from synvid.render.video import render
from synvid.runs import RunDir, atomic_write, atomic_write_json, remove_partials
from synvid.video_io import write_video

STAMP = "render_version.json"
FIGURE1_FRAMES = (0, 10, 20, 30)   # Figure 1: frames t = 0, 10, 20, 30 of one video per dataset


def check_render_version(root) -> None:
    """A clear error when `root` holds a synthetic set rendered by another RENDER_VERSION (no record = 1). A folder
    that holds no synthetic set (natural videos: no stamp and no synthetic manifest.json) passes."""
    root = Path(root)
    stamp, manifest = root / STAMP, root / "manifest.json"
    if stamp.is_file():
        recorded = json.loads(stamp.read_text()).get("render_version", 1)
    elif manifest.is_file() and {"name", "files"} <= json.loads(manifest.read_text()).keys():
        recorded = json.loads(manifest.read_text()).get("render_version", 1)
    elif any(root.glob("videos/*.mp4")) and (root / "config.json").is_file():
        recorded = 1                                      # an unfinished set of 3_1_generate.py from before stamps
    else:
        return
    if recorded != RENDER_VERSION:
        raise BadInput(f"{root} was rendered by render version {recorded}; this code renders version "
                       f"{RENDER_VERSION} (see synvid.render.RENDER_VERSION): delete {root} and run "
                       "data_gen/3_1_generate.py again")


def check_listed_videos(paths) -> None:
    """check_render_version for every set a list's videos come from (a set keeps them in <root>/videos/)."""
    for root in sorted({Path(p).parent.parent for p in paths}):
        check_render_version(root)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _one(job):
    name, index, seed, cfg, out, textures = job
    path = Path(out) / "videos" / f"{name}_{index:05d}.mp4"
    if not path.exists():                  # write_video is atomic: an existing file is complete
        video = render(name, index, seed=seed, size=cfg.size, cfg=cfg, **textures)
        write_video(path, video.numpy(), fps=cfg.fps)
    return str(path.relative_to(out)), _sha1(path)


def materialise(name: str, num_videos: int, out, *, seed: int, cfg, workers: int = 1, imagenet: str = "",
                tex_cfg=None, bank: str = "", texture_device=None):
    """Write videos 0..num_videos-1 of `name` under out/videos; skip those already written.
    `imagenet`, `tex_cfg`, `bank`: the texture source (synvid.textures.datasets.texture_source); `texture_device`:
    where textures are generated (e.g. "cuda"; the frames are still drawn by the CPU rasteriser)."""
    out = Path(out)
    check_render_version(out)                          # never resume a set of another render version
    (out / "videos").mkdir(parents=True, exist_ok=True)
    if not (out / STAMP).is_file():
        atomic_write_json(out / STAMP, {"render_version": RENDER_VERSION})
    check_settings(out, name=name, seed=seed, bank=str(bank or ""), imagenet=str(imagenet or ""),
                   RenderConfig=dataclasses.asdict(cfg), TextureConfig=tex_cfg and dataclasses.asdict(tex_cfg))
    remove_partials(out / "videos")
    textures = dict(imagenet=imagenet, tex_cfg=tex_cfg, bank=bank, texture_device=texture_device)
    jobs = [(name, i, seed, cfg, str(out), textures) for i in range(num_videos)]
    if workers > 1:
        # CUDA cannot be used in forked children: spawn them when the textures live on a GPU
        context = get_context("spawn" if str(texture_device or "cpu").startswith("cuda") else None)
        with context.Pool(workers) as pool:
            rows = pool.map(_one, jobs, chunksize=1)
    else:
        rows = [_one(j) for j in jobs]
    write_list(out / "train.csv", [(str(out / rel), 0) for rel, _ in rows])   # official `path 0` lines
    manifest = dict(name=name, seed=seed, num_videos=num_videos, render_version=RENDER_VERSION,
                    files={rel: h for rel, h in rows})
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


SETTINGS = "settings.json"


def check_settings(out: Path, **settings) -> None:
    """Videos already under `out` are reused only when written with the same settings (video i depends on the
    name, seed, render and texture settings only, so their count may grow); otherwise refuse, naming the keys."""
    settings = json.loads(json.dumps(settings, default=str))    # as read back (tuples become lists)
    path = out / SETTINGS
    written = any((out / "videos").glob("*.mp4"))
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff and written:
            raise BadInput(f"{out} holds videos written with other settings ({', '.join(diff)}): "
                           "use another --out or delete it")
    elif written:
        raise BadInput(f"{out} holds videos but no {SETTINGS} (their settings are unknown): "
                       "use another --out or delete it")
    atomic_write_json(path, settings)


def generate_set(name: str, out, *, profile: str, num_videos=None, seed: int = 0, workers: int = 1,
                 imagenet: str = "", bank: str = "", texture_device=None) -> Path:
    """data_gen/3_1_generate.py: check the inputs, write config.json, materialise, then DONE."""
    if imagenet and not Path(imagenet).is_dir():
        raise MissingInput(f"--imagenet directory {imagenet} does not exist")
    if bank and not (Path(bank) / "manifest.json").is_file():
        raise MissingInput(f"--bank {bank} is not a texture bank (no manifest.json)")
    cfg = resolve(RenderConfig, profile)
    tex = resolve(TextureConfig, profile, imagenet=imagenet)
    n = num_videos or cfg.num_videos
    if n < 1:
        raise BadInput(f"--num-videos must be >= 1, got {n}")
    check_render_version(out)      # before config.json is rewritten: an old set is refused, not resumed
    config = to_dict(cfg, tex, dataset=name, seed=seed, num_videos=n, bank=bank, profile=profile,
                     render_version=RENDER_VERSION)
    with RunDir(out, config) as run:
        if run.done is None:
            m = materialise(name, n, out, seed=seed, cfg=cfg, workers=workers, imagenet=imagenet, tex_cfg=tex,
                            bank=bank, texture_device=texture_device)
            run.finish({"num_videos": len(m["files"])})
    return Path(out) / "DONE"


def figure1_grid(out, names=None, *, profile: str, seed: int = 0, index: int = 0, imagenet: str = "") -> Path:
    """data_gen/3_1_sample_grid.py: FIGURE1_FRAMES of video `index` of each set, one row each, as one PNG
    (default rows: the progression; without `imagenet`, all but image crops)."""
    names = names or [n for n in progression.NAMES if imagenet or "image_crops" not in n]
    unknown = [n for n in names if n not in progression.DATASETS]
    if unknown:
        raise UnknownName(f"unknown dataset(s) {unknown}; see data_gen/3_1_generate.py --list")
    cfg, tex = resolve(RenderConfig, profile), resolve(TextureConfig, profile)
    config = to_dict(cfg, tex, seed=seed, index=index, names=names, frames=list(FIGURE1_FRAMES), profile=profile)
    with RunDir(out, config) as run:
        if run.done is None:
            _draw_grid(Path(out) / "figure1_grid.png", names, cfg, tex, seed=seed, index=index, imagenet=imagenet)
            run.finish({"png": "figure1_grid.png", "rows": names})
    return Path(out) / "DONE"


def _draw_grid(path: Path, names, cfg, tex, *, seed: int, index: int, imagenet: str) -> None:
    """FIGURE1_FRAMES of video `index` of each set in `names`, one row each, as one PNG."""
    rows = []
    for name in names:
        n = progression.num_frames(name, index, seed, cfg)   # short (smoke) videos: clip to the last frame
        video = render(name, index, seed=seed, frames=[min(t, n - 1) for t in FIGURE1_FRAMES], size=cfg.size,
                       cfg=cfg, tex_cfg=tex, imagenet=imagenet)
        rows.append(torch.cat(list(video), 1))
    image = Image.fromarray(torch.cat(rows, 0).numpy())
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
