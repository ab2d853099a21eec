"""UCF101-P: the codec-tree writer on a toy UCF101-layout tree (layout, codec file = `apply`, resume, old trees
refused), the per-view corruption of the test views (PROTOCOLS §4.3: noise sigma kept, every crop corrupted about
its own centre, deterministic by (seed, video, view)), and the evaluation script end to end on a tiny fine-tuned
model (tree + per view, and all on the fly), plus the Figure-3 chart and win count."""
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from synvid import corruptions, robustness
from synvid.config import FinetuneConfig, resolve
from synvid.data import toy
from synvid.data.splits import ucf101
from synvid.data import video_dataset
from synvid.video_io import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["gaussian_noise", "static_rotate", "codec2"]


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


@pytest.fixture(scope="module")
def p_root(toy_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("p") / "ucf101p"
    _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(out), "--no-progress")  # run_all's line
    return out


def test_make_writes_codec_trees_and_resumes(toy_root, p_root):
    clean, classes = ucf101(toy_root, subset="test")
    manifest = json.loads((p_root / "manifest.json").read_text())
    assert manifest["severity"] == 3 and manifest["protocol"] == robustness.PROTOCOL
    assert sorted(manifest["corruptions"]) == ["codec1", "codec2"] and Path(manifest["source"]) == toy_root.resolve()
    assert not (p_root / "gaussian_noise").exists()            # pixel corruptions act per view, never written
    for name in ("codec1", "codec2"):
        items, got_classes = ucf101(p_root / name, subset="test")
        assert got_classes == classes and len(items) == len(clean) and (p_root / name / "DONE").is_file()
        for (path, _), (src, _) in zip(items, clean):
            original = read_video(src)
            # the stored file is the codec's own encoding: decoding it is the on-the-fly corruption, bit for bit
            assert torch.equal(read_video(path), corruptions.apply(name, original, 3))
    # resume: a finished codec is skipped, a lost video of an unfinished one is written again identically
    victim = Path(ucf101(p_root / "codec2", subset="test")[0][0][0])
    before = read_video(victim)
    victim.unlink()
    (p_root / "codec2" / "DONE").unlink()
    _make("--profile", "smoke", "--data-root", str(toy_root), "--out", str(p_root), "--names", "codec2",
          "--no-progress")
    assert torch.equal(read_video(victim), before)
    assert sorted(json.loads((p_root / "manifest.json").read_text())["corruptions"]) == ["codec1", "codec2"]
    with pytest.raises(SystemExit, match="other settings"):
        _make("--data-root", str(toy_root), "--out", str(p_root), "--names", "codec1", "--severity", "2",
              "--no-progress")


def test_make_refuses_pixel_corruptions_and_old_trees(toy_root, tmp_path):
    with pytest.raises(SystemExit, match="each test view"):
        _make("--data-root", str(toy_root), "--out", str(tmp_path / "a"), "--names", "gaussian_noise", "codec1")
    assert not (tmp_path / "a").exists()                                # refused before writing anything
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"split": 1, "severity": 3, "seed": 0, "corruptions": {}}))
    with pytest.raises(SystemExit, match="protocol v1"):
        _make("--data-root", str(toy_root), "--out", str(old), "--no-progress")
    with pytest.raises(ValueError, match="protocol v1"):                 # nor evaluated
        robustness.read_tree(old, 3, 1)
    moved = tmp_path / "moved"                                            # a tree whose clean source is gone
    moved.mkdir()
    (moved / "manifest.json").write_text(json.dumps({"split": 1, "severity": 3, "seed": 0, "corruptions": {},
                                                     "protocol": robustness.PROTOCOL, "source": str(tmp_path / "x")}))
    with pytest.raises(FileNotFoundError, match="--data-root"):
        robustness.evaluate_ucf101p(None, SimpleNamespace(split=1), tmp_path / "ev", names=["jpeg"], p_root=moved)


def test_make_rejects_bad_arguments(toy_root, tmp_path):
    make = _script("data_gen/4_2_make_ucf101p.py")
    for extra in (["--names", "fog"], ["--severity", "6"]):
        with pytest.raises(SystemExit, match="error"):
            make.main(make.get_args_parser().parse_args(["--data-root", str(toy_root), "--out",
                                                         str(tmp_path / "x"), *extra]))


@pytest.fixture(scope="module")
def ft_run(toy_root, tmp_path_factory):
    from synvid.engine import finetune as ft
    out = tmp_path_factory.mktemp("ft") / "run"
    cfg = resolve(FinetuneConfig, "smoke", epochs=1, warmup_epochs=0, batch_size=2)
    ft.run(cfg, out, dataset="toy_ucf101", data_root=toy_root, progress=False)
    return out


def test_eval_end_to_end(ft_run, p_root, toy_root, tmp_path):
    ev = _script("finetune/4_2_eval_ucf101p.py")
    out = tmp_path / "ours"
    res = ev.main(ev.get_args_parser().parse_args(["--profile", "smoke", "--run", str(ft_run), "--p-root",
                                                   str(p_root), "--out", str(out), "--names", *NAMES,
                                                   "--num-segments", "2", "--device", "cpu"]))
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary["top1"]) == sorted(NAMES) and res["models"]["model"] == summary["top1"]
    for name in NAMES:
        saved = json.loads((out / name / "results.json").read_text())
        assert saved["corruption"] == name and saved["num_videos"] == 2 and 0 <= saved["top1"] <= 100
        assert saved["applied"] == ("whole_video" if name == "codec2" else "per_view")
        # pixel corruptions read the clean videos named in the tree's manifest, codecs the tree
        assert Path(saved["videos"][0]["path"]).is_relative_to(toy_root if name != "codec2" else p_root)
    fly = tmp_path / "fly"
    ev.main(ev.get_args_parser().parse_args(["--run", str(ft_run), "--data-root", str(toy_root), "--out", str(fly),
                                             "--names", *NAMES, "--num-segments", "2", "--device", "cpu",
                                             "--compare", f"written={out / 'summary.json'}"]))
    assert (fly / "figure3.png").stat().st_size > 1000
    assert "model > written" in json.loads((fly / "wins.json").read_text())
    # the same protocol with or without the tree: identical scores
    for name in NAMES:
        scores = [[v["scores"] for v in json.loads((d / name / "results.json").read_text())["videos"]]
                  for d in (out, fly)]
        assert scores[0] == scores[1], name
    with pytest.raises(SystemExit, match="severity"):
        ev.main(ev.get_args_parser().parse_args(["--run", str(ft_run), "--p-root", str(p_root), "--severity", "2",
                                                 "--out", str(tmp_path / "s2"), "--device", "cpu"]))


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
    x = (robustness.KeyedViews(views) if hook else views)[0][0]            # uint8 [V, T, S, S, 3]
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
    keyed = robustness.KeyedViews(video_dataset.TestViews([(grey_video, 0)] * 3, num_frames=4, sampling_rate=1,
                                                          num_segments=1, corrupt=robustness.ViewCorruption(
                                                              "gaussian_noise", 3, 0)))
    loader = torch.utils.data.DataLoader(keyed, batch_size=1, num_workers=2, collate_fn=video_dataset.collate)
    for i, (fields, _) in enumerate(loader):
        assert torch.equal(fields[0][0], keyed[i][0])
    hook = robustness.ViewCorruption("gaussian_noise", 3, 0)
    with pytest.raises(RuntimeError, match="start"):
        hook(torch.zeros(1, 8, 8, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="not a per-view"):
        robustness.ViewCorruption("codec1", 3, 0)


def test_wins_and_chart(tmp_path):
    a = {n: 50.0 + i for i, n in enumerate(robustness.corruptions.NAMES)}
    b = {n: 55.0 for n in robustness.corruptions.NAMES}
    assert robustness.wins(a, b) == 8  # 56..63 beat 55
    assert robustness.bar_chart({"A": a, "B": b}, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="share no"):
        robustness.wins({"x": 1.0}, b)
