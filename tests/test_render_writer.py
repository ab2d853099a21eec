"""Materialised .mp4 decodes to the rendered frames; an interrupted generation resumes."""
import json

import pytest

from synvid.config import RenderConfig
from synvid.render.video import render
from synvid.render.writer import materialise
from synvid.video_io import read_video

CFG = RenderConfig(size=32, min_frames=6, max_frames=8, num_shapes=30)


def test_mp4_decodes_to_render_and_resumes(tmp_path):
    materialise("moving_shapes", 2, tmp_path, seed=0, cfg=CFG)
    first = (tmp_path / "videos" / "moving_shapes_00000.mp4")
    mtime = first.stat().st_mtime_ns
    (tmp_path / "videos" / "moving_shapes_00001.mp4").unlink()        # simulate an interruption
    m = materialise("moving_shapes", 2, tmp_path, seed=0, cfg=CFG)
    assert first.stat().st_mtime_ns == mtime and len(m["files"]) == 2
    assert json.loads((tmp_path / "manifest.json").read_text())["name"] == "moving_shapes"
    assert (tmp_path / "train.csv").read_text().splitlines()[0].endswith(".mp4 0")
    stale = tmp_path / "videos" / ".moving_shapes_00001.abc123.partial.mp4"   # left by a SIGKILLed writer
    stale.write_bytes(b"half a video")
    materialise("moving_shapes", 2, tmp_path, seed=0, cfg=CFG)
    assert not stale.exists()
    with pytest.raises(ValueError, match=r"other settings \(RenderConfig, seed\)"):    # never mixed with others
        materialise("moving_shapes", 2, tmp_path, seed=1, cfg=RenderConfig(size=32, min_frames=6, max_frames=9))
    ref = render("moving_shapes", 0, seed=0, size=32, cfg=CFG).float()
    dec = read_video(first).float()
    assert dec.shape == ref.shape and (dec - ref).abs().mean() < 12


def test_worker_processes_write_the_same_files(tmp_path):
    """--workers K (a process pool; textures on --texture-device) gives the files of one process, byte for byte."""
    from synvid.config import TextureConfig
    kw = dict(seed=0, cfg=CFG, tex_cfg=TextureConfig(size=16, pool_size=8))
    one = materialise("accelerating_transforming_stylegan", 3, tmp_path / "one", **kw)
    pool = materialise("accelerating_transforming_stylegan", 3, tmp_path / "pool", workers=2, texture_device="cpu",
                       **kw)
    assert one["files"] == pool["files"]


def test_sets_of_another_render_version_are_refused(tmp_path):
    """synvid.render.RENDER_VERSION: an old set (no record = 1, or another number) is neither resumed nor read."""
    import pytest
    from synvid.data.pretrain_data import VideoListClips
    from synvid.render import RENDER_VERSION
    from synvid.render.writer import STAMP
    from synvid.stats.sources import Source
    m = materialise("moving_shapes", 1, tmp_path / "new", seed=0, cfg=CFG)
    assert m["render_version"] == RENDER_VERSION
    assert json.loads((tmp_path / "new" / STAMP).read_text())["render_version"] == RENDER_VERSION
    VideoListClips(tmp_path / "new" / "train.csv", num_frames=2, sampling_rate=1)    # the current version reads
    old = tmp_path / "old"
    materialise("moving_shapes", 1, old, seed=0, cfg=CFG)
    (old / STAMP).unlink()                                                           # as written before the stamp
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["render_version"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    for read in (lambda: VideoListClips(old / "train.csv", num_frames=2, sampling_rate=1),
                 lambda: Source(str(old / "train.csv")),
                 lambda: materialise("moving_shapes", 2, old, seed=0, cfg=CFG)):
        with pytest.raises(ValueError, match=f"render version 1; this code renders version {RENDER_VERSION}"):
            read()
    (old / "manifest.json").unlink()                    # an interrupted old set: videos and config.json, no stamp
    (old / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="delete"):
        materialise("moving_shapes", 2, old, seed=0, cfg=CFG)
