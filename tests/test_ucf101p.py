"""UCF101-P (PROTOCOLS §4.4-4.5): profiles and settings, the codec records, the benchmark's translate and
mp4v pass, the tree writer on a toy UCF101 (layout, each file = the corruption + mp4v, resume, refusals), the
evaluation in both modes with per-severity bookkeeping and re-evaluation on mismatch, wins over 13 and 14, and the
per-view hook (noise sigma kept, every crop corrupted about its own centre, deterministic by (seed, video, view))."""
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from synvid import codecs, corruptions, figures, robustness
from synvid import ucf101p_files as files
from synvid.config import FinetuneConfig, RobustnessConfig, load_config, resolve, settings, to_dict
from synvid.data import toy
from synvid.data.splits import ucf101
from synvid.data import video_dataset
from synvid.video_io import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]


def _script(rel):
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make(*argv):
    make = _script("data_gen/4_2_make_ucf101p.py")
    return make.main(make.get_args_parser().parse_args(list(argv)))


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_toy_ucf101(tmp_path_factory.mktemp("toy") / "toy_ucf101", num_classes=2, groups=2,
                               clips_per_group=1, frames=8)


def test_profiles_and_settings(tmp_path):
    """PROTOCOLS §4.4-4.5: paper = the benchmark files, all five severities, headline the mean; authors = the per-view
    hook with headline severity 1 (YU's --severity default); tuples from the command line; clear errors."""
    paper, authors = resolve(RobustnessConfig, "paper"), resolve(RobustnessConfig, "authors")
    assert (paper.severities, paper.headline, paper.mode) == ((1, 2, 3, 4, 5), "mean", "benchmark")
    assert (authors.severities, authors.headline, authors.mode) == ((1, 2, 3, 4, 5), "1", "hook")
    assert (paper.translate_resize, paper.translate_crop) == (256, 224)
    make = _script("data_gen/4_2_make_ucf101p.py")
    args = make.get_args_parser().parse_args(["--data-root", "x", "--out", "y", "--severities", "2", "4"])
    assert settings(RobustnessConfig, args.profile, flags=args)[0].severities == (2, 4)
    (tmp_path / "config.json").write_text(json.dumps(to_dict(paper)))    # JSON lists come back as tuples
    assert load_config(RobustnessConfig, tmp_path / "config.json") == paper
    for bad, match in (({"mode": "files"}, "--mode"), ({"severities": (0, 1)}, "--severities"),
                       ({"severities": (2, 3), "headline": "1"}, "--headline")):
        with pytest.raises(ValueError, match=match):
            files.check_settings(resolve(RobustnessConfig, "paper", **bad))


def test_codec_sets_record_the_benchmark_command():
    """SCH-VL: codec1 -q:v 20 s (mpeg2video), codec2 -q:v 15 s (mpeg4), unclipped; a set records the command it was
    written with and the FFmpeg binary's version (tests/test_codecs.py checks the command against the reference)."""
    entry = files.set_record("codec1", 4, "benchmark")
    assert entry["param"] == 80 and "effective_q" not in entry
    assert entry["command"] == "ffmpeg -i SOURCE -c:v mpeg2video -q:v 80 -c:a mp2 -f vob -threads 16 -y OUTPUT"
    assert entry["ffmpeg"] == codecs.ffmpeg_version()
    assert "-q:v 75 " in files.set_record("codec2", 5, "hook")["command"]
    assert files.BENCHMARK_PARAMS["rotate"] == tuple(6 * s for s in range(1, 6))   # randint(-6 s, 6 s + 1)


def test_translate_shake_is_the_benchmark_crop():
    """SCH-VL translate: short side to `resize`, then per frame img[x:x + crop, y:y + crop] with x, y ~ randint(0,
    8 s); a crop running past the frame is dropped (OpenCV's writer refuses a frame of another size)."""
    video = torch.randint(0, 256, (40, 48, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    resized = torch.nn.functional.interpolate(video.permute(0, 3, 1, 2).float(), size=(64, 85), mode="bilinear",
                                              align_corners=False).round().clamp(0, 255).to(torch.uint8)
    for severity in (3, 5):
        offsets = torch.randint(0, 8 * severity, (40, 2), generator=torch.Generator().manual_seed(11)).tolist()
        want = [resized[f, :, r:r + 32, c:c + 32].permute(1, 2, 0) for f, (r, c) in enumerate(offsets)
                if r <= 64 - 32 and c <= 85 - 32]
        out = files.translate_shake(video, severity, 11, resize=64, crop=32)
        assert out.shape[1:] == (32, 32, 3) and torch.equal(out, torch.stack(want))
        assert (len(out) == 40) == (severity == 3)         # s = 5: offsets up to 39 > 32 drop frames


def test_mp4v_pass_has_opencvs_settings(tmp_path, monkeypatch):
    """The re-encode pass: mpeg4 with the mp4v tag, a key frame every 12, bit rate 2 fps w h with that tolerance,
    qmin 3, one thread, BGR frames into swscale (OpenCV cap_ffmpeg_impl.hpp; tests/test_codecs.py compares with
    OpenCV itself)."""
    import av

    import synvid.video_io
    base = torch.randint(30, 220, (3, 12, 16), generator=torch.Generator().manual_seed(1)).float()
    base = torch.nn.functional.interpolate(base[None], size=(96, 128), mode="bilinear")[0]
    video = torch.stack([base.roll(i, -1) for i in range(30)]).round().to(torch.uint8).permute(0, 2, 3, 1)
    seen, write = {}, synvid.video_io.write_video
    monkeypatch.setattr(synvid.video_io, "write_video", lambda *a, **k: seen.update(k) or write(*a, **k))
    path = codecs.write_mp4v(tmp_path / "v.avi", video.contiguous(), 25)
    rate = 2 * 25 * 96 * 128
    assert seen["context"] == {"bit_rate": rate, "bit_rate_tolerance": rate, "qmin": 3, "gop_size": 12,
                               "codec_tag": "mp4v", "thread_count": 1} and seen["pixels"] == "bgr24"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "mpeg4" and stream.codec_context.codec_tag == "mp4v"
        keyframes = [i for i, frame in enumerate(container.decode(stream)) if frame.key_frame]
    assert keyframes == [0, 12, 24]
    error = (read_video(path).float() - video.float()).abs().mean()
    assert 0 < error < 8                                          # lossy, close


SETS = ["translate", "gaussian_noise", "jpeg", "codec2"]


@pytest.fixture(scope="module")
def p_root(toy_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("p") / "ucf101p"
    _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(out), "--names", *SETS, "--no-progress")
    return out


def test_make_writes_the_benchmark_files_and_resumes(toy_root, p_root):
    """One UCF101 root per (corruption, severity); each file is the full-resolution corruption re-encoded with mp4v
    (codecs: the codec's own file); resume writes a lost file again identically; other settings are refused."""
    clean, classes = ucf101(toy_root, subset="test")
    manifest = json.loads((p_root / "manifest.json").read_text())
    assert manifest["mode"] == "benchmark" and manifest["protocol"] == files.PROTOCOL
    assert sorted(manifest["sets"]) == sorted(f"{n}_{s}" for n in SETS for s in (1, 3))
    cfg = resolve(RobustnessConfig, "smoke")
    for name in SETS:
        items, got_classes = ucf101(p_root / f"{name}_3", subset="test")
        assert got_classes == classes and len(items) == len(clean) and (p_root / f"{name}_3" / "DONE").is_file()
        path, src = items[0][0], clean[0][0]
        original = read_video(src)
        if name == "codec2":                         # the benchmark's command on the clean file, no mp4v pass
            probe = corruptions.write_whole_video(name, src, 3, Path(path).parent.parent.parent.parent / "p.avi")
            assert torch.equal(read_video(path), read_video(probe))
            done = json.loads((p_root / "codec2_3" / "DONE").read_text())
            assert done["command"] == codecs.record(name, 45)["command"] and done["ffmpeg"]
            probe.unlink()
        elif name == "translate":
            assert read_video(path).shape[1:3] == (32, 32)               # the smoke crop, at full resolution
        else:
            assert read_video(path).shape == original.shape              # full resolution, every frame
            key = files.video_seed(0, f"{name}_3", Path(path).name)
            frames = original.flip(-1) if name == "jpeg" else original
            want = corruptions.apply(name, frames, 3, key)
            want = want.flip(-1) if name == "jpeg" else want
            expected = codecs.write_mp4v(Path(path).parent.parent.parent.parent / "probe.avi", want, 25)
            assert torch.equal(read_video(path), read_video(expected))   # the mp4v pass of that corruption
            expected.unlink()
    victim = Path(ucf101(p_root / "gaussian_noise_1", subset="test")[0][0][0])
    before = read_video(victim)
    victim.unlink()
    (p_root / "gaussian_noise_1" / "DONE").unlink()
    _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(p_root), "--names", "gaussian_noise",
          "--no-progress")
    assert torch.equal(read_video(victim), before)
    with pytest.raises(SystemExit, match="other settings"):
        _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(p_root), "--names", "jpeg",
              "--seed", "2", "--no-progress")


def test_make_refuses_sets_outside_the_mode_and_old_trees(toy_root, tmp_path):
    with pytest.raises(SystemExit, match="not UCF101-P files"):
        _make("--data-root", str(toy_root), "--out", str(tmp_path / "a"), "--names", "glass_blur")
    with pytest.raises(SystemExit, match="each test view"):
        _make("--profile", "authors", "--data-root", str(toy_root), "--out", str(tmp_path / "a"), "--names", "jpeg")
    assert not (tmp_path / "a").exists()                                # refused before writing anything
    # v2: one severity per view; v3: the clamped codecs, OpenCV's mp4v at 1.5x and the old blurs (not reused)
    for protocol, settings in (("v2-per-view", {"severity": 3}), ("v3", {"mode": "benchmark", "severities": [1, 3]})):
        old = tmp_path / protocol
        old.mkdir()
        (old / "manifest.json").write_text(json.dumps({"split": 1, "seed": 0, "protocol": protocol, **settings}))
        with pytest.raises(SystemExit, match=f"protocol {protocol}"):
            _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(old), "--no-progress")
        with pytest.raises(ValueError, match=f"protocol {protocol}"):       # nor evaluated
            files.read_tree(old, resolve(RobustnessConfig, "smoke"), 1)
        assert not (old / "config.json").exists()
    for extra in (["--names", "fog"], ["--severities", "6"]):
        with pytest.raises(SystemExit, match="error"):
            _make("--data-root", str(toy_root), "--out", str(tmp_path / "x"), *extra)


@pytest.fixture(scope="module")
def ft_run(toy_root, tmp_path_factory):
    from synvid.engine import finetune as ft
    out = tmp_path_factory.mktemp("ft") / "run"
    cfg = resolve(FinetuneConfig, "smoke", epochs=1, warmup_epochs=0, batch_size=2)
    ft.run(cfg, out, dataset="toy_ucf101", data_root=toy_root, progress=False)
    return out


def _eval(*argv, num_segments: int = 2):
    ev = _script("finetune/4_2_eval_ucf101p.py")
    return ev.main(ev.get_args_parser().parse_args([*argv, "--num-segments", str(num_segments), "--device", "cpu"]))


def _newly_evaluated(out: Path) -> int:
    """How many (corruption, severity) results were evaluated since the last call: an evaluation rewrites its
    results.json, dropping the mark this function adds to each; a reused result keeps it."""
    fresh = 0
    for path in sorted(out.glob("*/*/results.json")):
        record = json.loads(path.read_text())
        if not record.get("seen_by_test"):
            fresh += 1
            path.write_text(json.dumps({**record, "seen_by_test": True}))
    return fresh


def test_eval_benchmark_mode_per_severity(ft_run, p_root, tmp_path):
    """Paper profile: the files are read, every severity recorded with its mean, headline = mean; each result
    records severity, seed, mode and tree; glass_blur acts per view; DONE carries what the tables read."""
    out = tmp_path / "bench"
    names = SETS + ["glass_blur"]
    _eval("--profile", "smoke", "--run", str(ft_run), "--p-root", str(p_root), "--out", str(out), "--names", *names)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "benchmark" and summary["headline"] == "mean"
    for name in names:
        per = summary["severities"][name]
        assert sorted(per) == ["1", "3", "mean"] and per["mean"] == pytest.approx((per["1"] + per["3"]) / 2)
        assert summary["top1"][name] == per["mean"]
        saved = json.loads((out / name / "3" / "results.json").read_text())
        assert (saved["severity"], saved["seed"], saved["mode"]) == (3, 0, "benchmark")
        if name == "glass_blur":
            assert saved["applied"] == "per_view" and saved["tree"] is None
        else:
            assert saved["applied"] == "file" and saved["tree"] == str(p_root / f"{name}_3")
            assert Path(saved["videos"][0]["path"]).is_relative_to(p_root / f"{name}_3")
    assert summary["codecs"]["codec2"]["3"] == {"command": codecs.record("codec2", 45)["command"],
                                                "ffmpeg": codecs.ffmpeg_version()}
    assert json.loads((out / "codec2" / "1" / "results.json").read_text())["command"].startswith("ffmpeg -i SOURCE")
    done = json.loads((out / "DONE").read_text())
    assert done["corruptions"] == summary["top1"] and done["mode"] == "benchmark" and done["headline"] == "mean"
    assert done["severities"] == summary["severities"] and done["tree"] == str(p_root) and done["seed"] == 0
    with pytest.raises(SystemExit, match="--p-root"):
        _eval("--run", str(ft_run), "--data-root", str(p_root), "--out", str(tmp_path / "x"), "--names", "jpeg")


def test_eval_reuses_finished_results_and_refuses_other_settings(ft_run, toy_root, tmp_path):
    """Authors profile (hook, headline severity 1). A finished evaluation is skipped; an interrupted one reuses its
    finished (corruption, severity) results; a result of another evaluation is refused, never relabelled, and so is
    another seed or number of test clips (RobustnessConfig.num_segments) in the same --out."""
    out = tmp_path / "hook"
    argv = ["--profile", "authors", "--severities", "1", "3", "--run", str(ft_run), "--data-root", str(toy_root),
            "--out", str(out), "--names", "gaussian_noise", "codec1"]
    _eval(*argv)
    summary = json.loads((out / "summary.json").read_text())
    assert _newly_evaluated(out) == 4 and summary["mode"] == "hook" and summary["headline"] == "1"
    assert summary["top1"]["gaussian_noise"] == summary["severities"]["gaussian_noise"]["1"]
    assert summary["applied"] == {"gaussian_noise": "per_view", "codec1": "whole_video"}
    assert summary["codecs"]["codec1"]["3"]["command"] == codecs.record("codec1", 60, source="frames")["command"]
    _eval(*argv)
    assert _newly_evaluated(out) == 0                                    # finished: skipped
    (out / "DONE").unlink()                                              # interrupted before one result
    (out / "codec1" / "3" / "DONE").unlink()
    _eval(*argv)
    assert _newly_evaluated(out) == 1                                    # that one only
    cell = out / "codec1" / "3" / "config.json"
    cell.write_text(json.dumps({**json.loads(cell.read_text()), "severity": 1}))
    (out / "DONE").unlink()
    with pytest.raises(SystemExit, match=r"codec1/3 holds a run with different settings \(severity\)"):
        _eval(*argv)
    with pytest.raises(SystemExit, match=r"different settings \(RobustnessConfig.seed\)"):
        _eval(*argv, "--seed", "1")
    with pytest.raises(SystemExit, match=r"different settings \(RobustnessConfig.num_segments\)"):
        _eval(*argv, num_segments=1)
    assert _newly_evaluated(out) == 0


def test_wins_over_13_and_14_and_chart(tmp_path):
    a = {n: 50.0 + i for i, n in enumerate(corruptions.NAMES)}
    b = {n: 55.0 for n in corruptions.NAMES}
    assert robustness.wins(a, b) == {"all": 8, "all_of": 14, "benchmark": 7, "benchmark_of": 13}  # glass_blur: 56
    assert figures.ucf101p_chart({"A": a, "B": b}, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="share no"):
        robustness.wins({"x": 1.0}, b)


# ---------------------------------------------------------------------------------------------- per-view protocol
@pytest.fixture(scope="module")
def grey_video(tmp_path_factory):
    """A flat mid-grey 320x240 video (UCF101 size): any change in a view is the corruption."""
    path = tmp_path_factory.mktemp("grey") / "v_Grey_g01_c01.avi"
    return str(write_video(path, torch.full((6, 240, 320, 3), 128, dtype=torch.uint8), codec="mpeg4", crf=None,
                           qscale=2))


def _views(path, name=None, seed=0, severity=3):
    """uint8-valued [V, T, 224, 224, 3] views (1 segment x 3 crops) in [0, 1], corrupted per view or clean."""
    hook = robustness.ViewCorruption(name, severity, seed) if name else None
    views = video_dataset.TestViews([(path, 0)], num_frames=4, sampling_rate=1, num_segments=1, num_crops=3,
                                    corrupt=hook)
    x = views[0][0]                                                        # uint8 [V, T, S, S, 3]
    return x.float() / 255


def test_noise_sigma_is_kept_at_the_view(grey_video):
    """PROTOCOLS §4.3: noise is added after the 240->224 resize, so no bilinear averaging shrinks it."""
    clean = _views(grey_video)
    for severity, sigma in enumerate(corruptions.REGISTRY["gaussian_noise"].params[:3], start=1):
        noise = _views(grey_video, "gaussian_noise", severity=severity) - clean
        assert abs(noise.std().item() - sigma) < 0.006, (severity, noise.std().item())
        assert abs(noise.mean().item()) < 0.003


@pytest.mark.parametrize("name", ["translate", "rotate", "static_rotate"])
def test_camera_corruptions_act_on_every_view(grey_video, name):
    clean, bad = _views(grey_video), _views(grey_video, name)
    for v in range(3):
        black = (bad[v] < 0.05).all(-1).float().mean().item()            # zero fill of the moved/rotated frame
        assert not torch.allclose(bad[v], clean[v]) and black > 0.01, (name, v, black)
    if name == "static_rotate":                                           # pivot at each view's own centre
        view = (clean[1] * 255).round().to(torch.uint8)
        assert torch.equal((bad[1] * 255).round().to(torch.uint8), corruptions.apply(name, view, 3))


def test_views_deterministic_by_seed_video_and_view(grey_video):
    a, b, c = _views(grey_video, "gaussian_noise", 0), _views(grey_video, "gaussian_noise", 0), \
        _views(grey_video, "gaussian_noise", 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])                                    # the 3 (identical) crops get own draws
    # DataLoader workers (each with its own copy of the hook) give the same views as the main process
    keyed = video_dataset.TestViews([(grey_video, 0)] * 3, num_frames=4, sampling_rate=1, num_segments=1,
                                    corrupt=robustness.ViewCorruption("gaussian_noise", 3, 0))
    loader = torch.utils.data.DataLoader(keyed, batch_size=1, num_workers=2, collate_fn=video_dataset.collate)
    for i, (fields, _) in enumerate(loader):
        assert torch.equal(fields[0][0], keyed[i][0])
    # view k of video v is the clean view corrupted with the seed of (seed, "<name>_<s>", "v/k") (PROTOCOLS §4.3)
    clean = video_dataset.TestViews([(grey_video, 0)], num_frames=4, sampling_rate=1, num_segments=1)[0][0]
    keys = [files.video_seed(0, "gaussian_noise_3", f"{Path(grey_video).name}/{k}") for k in range(len(clean))]
    want = torch.stack([corruptions.apply("gaussian_noise", v, 3, key) for v, key in zip(clean, keys)])
    assert torch.equal(keyed[0][0], want)
    view = torch.full((1, 8, 8, 3), 128, dtype=torch.uint8)            # the key alone decides the draw
    hook = robustness.ViewCorruption("gaussian_noise", 3, 0)
    assert torch.equal(hook(view, ("v.avi", 1)), hook(view, ("v.avi", 1)))
    assert not torch.equal(hook(view, ("v.avi", 1)), hook(view, ("v.avi", 2)))
    with pytest.raises(ValueError, match="not a per-view"):
        robustness.ViewCorruption("codec1", 3, 0)
