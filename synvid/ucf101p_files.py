"""UCF101-P as files (paper Section 4.2, Figure 3; PROTOCOLS.md §4.4-4.5): corrupted copies of the UCF101 test
split, one ordinary UCF101 root per (corruption, severity), named as SCH-VL `generate_noisy_videos.py` names them:
    <out>/<name>_<s>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi + <out>/<name>_<s>/ucfTrainTestlist/ (copied) + DONE
    <out>/manifest.json (source = the clean UCF101 root, split, seed, mode, severities, protocol, one entry per set)

Mode "benchmark" (paper profile) writes the 13 sets of UCF101-P (`corruptions.BENCHMARK`) as the benchmark's
generator does: each frame corrupted at full resolution, then written once more with OpenCV's `mp4v` writer
(`codecs.write_mp4v`: PyAV with OpenCV's writer settings, since OpenCV is not a dependency), except the two codecs,
which are the benchmark's ffmpeg command run on the clean file (`codecs.encode_file`). Mode "hook" (authors
profile) writes only the two codecs: the other corruptions act on each test view at evaluation time
(`synvid.robustness`).
"""
from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from synvid import codecs, corruptions, video_io   # the modules: tests watch video_io.write_video
from synvid.config import to_dict
from synvid.data.splits import ucf101
from synvid.errors import BadInput, MissingInput
from synvid.runs import RunDir, atomic_write_json

# Bumped when what a tree or a result means changes: trees and results of another protocol are not reused.
# v1 (unversioned): everything once at full resolution, mpeg4 q1; v2-per-view: per-view hook only, one severity;
# v3: benchmark files or hook, all severities, ImageMagick's motion blur, YU's glass blur, truncation to uint8;
# v4: the codecs are the benchmark's ffmpeg command (five levels, no quantiser clamp), the mp4v pass has OpenCV's
# settings (2x bit rate, tolerance, qmin 3, BGR input), the blurs follow the reference (zoom geometry, defocus kernel
# grid, motion blur truncated).
PROTOCOL = "v4"
MODES = ("benchmark", "hook")
# what a tree's calls may change: the sets they write, and the RobustnessConfig fields only the evaluation reads
TREE_FREE = {"names", "severities", "headline", "allow_missing", "num_segments"}
# SCH-VL variable_rotate: np.random.randint(-6 s, 6 s + 1) (YU / SCH on the fly: random.randint(-6s-1, 6s+1))
BENCHMARK_PARAMS = {"rotate": (6, 12, 18, 24, 30)}


def video_seed(seed: int, name: str, key: str) -> int:
    """Seed of one video or view: stable across runs and machines (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{seed}/{name}/{key}".encode())


def set_name(name: str, severity: int) -> str:
    return f"{name}_{severity}"


def tree_names(mode: str) -> tuple[str, ...]:
    """The corruptions a tree of `mode` holds as files."""
    return corruptions.BENCHMARK if mode == "benchmark" else corruptions.WHOLE_VIDEO


def check_settings(cfg) -> None:
    """Clear errors for a RobustnessConfig before any work."""
    if cfg.mode not in MODES:
        raise BadInput(f"--mode must be one of {', '.join(MODES)}, got {cfg.mode!r}")
    bad = [s for s in cfg.severities if s not in (1, 2, 3, 4, 5)]
    if bad or not cfg.severities or len(set(cfg.severities)) != len(cfg.severities):
        raise BadInput(f"--severities must be distinct values in 1-5, got {list(cfg.severities)}")
    allowed = ["mean"] + [str(s) for s in cfg.severities]
    if cfg.headline not in allowed:
        raise BadInput(f"--headline must be one of {', '.join(allowed)} (the severities evaluated), "
                       f"got {cfg.headline!r}")


def translate_shake(video: torch.Tensor, severity: int, seed: int, resize: int = 256, crop: int = 224):
    """SCH-VL translate: the short side resized to `resize` (cv2.resize, bilinear), then per frame a crop of
    `crop` at (row, col) offsets ~ randint(0, 8 s) each: camera shake, no black border. A frame whose crop runs past
    the resized frame is smaller than the writer's size, and OpenCV's writeFrame drops it ((height & -2) !=
    frame_height); only s = 5 on 4:3 video does this (offsets 33-39 > 256 - 224). uint8 [T, H, W, 3] ->
    uint8 [T', crop, crop, 3]."""
    t, h, w, _ = video.shape
    size = (resize, int(w * resize / h)) if w > h else (int(h * resize / w), resize)   # int() as SCH-VL
    x = video.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False).round_().clamp_(0, 255).to(torch.uint8)
    g = torch.Generator().manual_seed(seed)
    offsets = torch.randint(0, 8 * severity, (t, 2), generator=g)
    kept = [x[f, :, r:r + crop, c:c + crop] for f, (r, c) in enumerate(offsets.tolist())
            if r + crop <= size[0] and c + crop <= size[1]]
    if not kept:
        raise BadInput(f"translate s={severity}: every crop of {crop} runs past the {size} frame")
    return torch.stack(kept).permute(0, 2, 3, 1).contiguous()


def write_benchmark_video(name: str, src, severity: int, seed: int, path, cfg) -> Path:
    """One UCF101-P file at `path` from the clean video file `src`, as SCH-VL writes it: the codecs by the
    benchmark's ffmpeg command on `src`; the others decoded, corrupted at full resolution and written by mp4v."""
    if name in corruptions.WHOLE_VIDEO:                          # ffmpeg -i src -c:v mpeg2video|mpeg4 -q:v ...
        return corruptions.write_whole_video(name, src, severity, path)
    if name not in corruptions.BENCHMARK:
        raise BadInput(f"{name!r} has no UCF101-P file; the benchmark's sets are {', '.join(corruptions.BENCHMARK)}")
    video, fps = video_io.read_video(src), video_io.video_info(src)["fps"]   # cv2 CAP_PROP_FPS, as SCH-VL
    key = video_seed(seed, set_name(name, severity), Path(path).name)
    if name == "translate":
        out = translate_shake(video, severity, key, cfg.translate_resize, cfg.translate_crop)
    elif name == "jpeg":                  # SCH-VL hands OpenCV's BGR frames to PIL as RGB: JPEG sees B and R swapped
        out = corruptions.apply(name, video.flip(-1), severity, key).flip(-1)
    else:
        out = corruptions.apply(name, video, severity, key, params=BENCHMARK_PARAMS.get(name))
    return codecs.write_mp4v(path, out, fps)


def check_protocol(manifest: dict, root, problem: str, remedy: str) -> None:
    """A tree of another protocol is never reused."""
    if manifest.get("protocol") != PROTOCOL:
        raise BadInput(f"{root} {problem} (protocol {manifest.get('protocol', 'v1')}, this code writes "
                       f"{PROTOCOL}): {remedy}")


def check_resume(out_root, **settings) -> dict:
    """Resuming or adding sets to a UCF101-P root needs the same settings and protocol; returns its sets."""
    path = Path(out_root) / "manifest.json"
    if not path.is_file():
        return {}
    previous = json.loads(path.read_text())
    check_protocol(previous, out_root, "was written with other settings", "use a new --out")
    changed = [k for k, v in settings.items() if previous.get(k) != v]
    if changed:
        raise BadInput(f"{out_root} was written with other settings ({', '.join(changed)}): use a new --out")
    return previous.get("sets", {})


def tree_settings(cfg, split: int) -> dict:
    """What a tree's files depend on besides the corruption and severity (its manifest keys)."""
    return {"split": split, "seed": cfg.seed, "mode": cfg.mode, "translate_resize": cfg.translate_resize,
            "translate_crop": cfg.translate_crop}


def set_record(name: str, severity: int, mode: str) -> dict:
    record = corruptions.REGISTRY[name]
    entry = {"corruption": name, "severity": severity, "family": record.family, "inferred": record.inferred,
             "param": (BENCHMARK_PARAMS.get(name) or record.params)[severity - 1]}
    if name in corruptions.WHOLE_VIDEO:
        entry.update(codecs.record(name, entry["param"]), written="the benchmark's ffmpeg command on the clean file")
    else:
        entry["written"] = "mp4v (PyAV mpeg4 with OpenCV VideoWriter's settings, synvid.codecs.write_mp4v)"
    return entry


def make_ucf101p(src_root, out_root, cfg, *, names=None, split: int = 1, progress: bool = True, profile=None,
                 print_fn=print) -> dict:
    """data_gen/4_2_make_ucf101p.py: write the sets of `cfg.mode` for `cfg.severities` from the UCF101 test split
    `split` of `src_root`, after every check (settings, names, videos, a resumed tree's settings: refused before
    config.json is written). Resumable: finished sets (DONE) and written videos (atomic files) are skipped; the
    tree's DONE is written last."""
    check_settings(cfg)
    names = check_tree_names(names or tree_names(cfg.mode), cfg.mode)
    source, out_root = Path(src_root).resolve(), Path(out_root)
    items, _ = ucf101(source, split=split, subset="test")
    missing = [p for p, _ in items if not Path(p).is_file()]
    if missing:
        raise MissingInput(f"{len(missing)} of {len(items)} UCF101 test videos are missing, e.g. {missing[0]}")
    if any(n in corruptions.WHOLE_VIDEO for n in names):
        codecs.ffmpeg_version()                                  # no FFmpeg binary: an error before any work
    settings = tree_settings(cfg, split)
    manifest = {"source": str(source), "protocol": PROTOCOL, "num_videos": len(items), **settings,
                "sets": check_resume(out_root, **settings)}
    # redo: sets may be added to a tree (its finished sets are skipped); names and severities, and the settings that
    # only the evaluation reads, may differ between the calls that write it
    config = to_dict(cfg, data_root=src_root, names=names, split=split, profile=profile)
    with RunDir(out_root, config, free=TREE_FREE, redo=True) as tree:
        for name in names:
            for severity in cfg.severities:
                root = out_root / set_name(name, severity)
                manifest["sets"][root.name] = set_record(name, severity, cfg.mode)
                _write_set(root, name, severity, items, source, cfg, {**settings, "protocol": PROTOCOL},
                           done={**manifest["sets"][root.name], "seed": cfg.seed, "num_videos": len(items),
                                 "protocol": PROTOCOL}, progress=progress, print_fn=print_fn)
        atomic_write_json(out_root / "manifest.json", manifest)
        tree.finish({"sets": sorted(manifest["sets"]), "mode": cfg.mode})   # per-set DONEs inside
    return manifest


def _write_set(root: Path, name: str, severity: int, items, source: Path, cfg, settings: dict, *, done: dict,
               progress: bool, print_fn) -> None:
    """One (corruption, severity) set, a run directory of its own (config: what its files depend on)."""
    with RunDir(root, {"corruption": name, "severity": severity, "source": str(source), **settings}) as run:
        if run.done is not None:
            print_fn(f"{root.name}: done, skipping")
            return
        shutil.copytree(source / "ucfTrainTestlist", root / "ucfTrainTestlist", dirs_exist_ok=True)
        for path, _ in tqdm(items, desc=root.name, disable=not progress):
            dst = root / "UCF-101" / Path(path).relative_to(source / "UCF-101")
            if not dst.is_file():
                write_benchmark_video(name, path, severity, cfg.seed, dst, cfg)
        run.finish(done)


def check_names(names) -> list[str]:
    unknown = [n for n in names if n not in corruptions.NAMES]
    if unknown:
        raise BadInput(f"unknown corruption(s) {unknown}; choose from {', '.join(corruptions.NAMES)}")
    return list(names)


def check_tree_names(names, mode: str) -> list[str]:
    """The corruptions a tree of `mode` may hold."""
    other = [n for n in check_names(names) if n not in tree_names(mode)]
    if other:
        where = ("act on each test view at evaluation time (PROTOCOLS §4.3)" if mode == "hook"
                 else "are not UCF101-P files (glass_blur is only in the authors' hook table, PROTOCOLS §4.5)")
        raise BadInput(f"{other} {where}; a {mode} tree holds only {', '.join(tree_names(mode))}")
    return list(names)


def read_tree(p_root, cfg, split: int) -> dict:
    """The manifest of a tree written by `make_ucf101p`, checked against this evaluation's settings."""
    path = Path(p_root) / "manifest.json"
    if not path.is_file():
        raise MissingInput(f"{p_root} has no manifest.json: not a UCF101-P root (data_gen/4_2_make_ucf101p.py)")
    manifest = json.loads(path.read_text())
    check_protocol(manifest, p_root, "was written by another protocol",
                   "write it again with data_gen/4_2_make_ucf101p.py")
    want = {"split": split, "seed": cfg.seed, "mode": cfg.mode}
    wrong = {k: manifest.get(k) for k, v in want.items() if manifest.get(k) != v}
    if wrong:
        raise BadInput(f"{p_root} was written with {wrong}; this evaluation uses {want}")
    return manifest
