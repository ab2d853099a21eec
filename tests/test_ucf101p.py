"""UCF101-P: the writer script on a toy UCF101-layout tree (layout, determinism, resume) and the evaluation script
end to end on a tiny fine-tuned model (written tree and on-the-fly), plus the Figure-3 chart and win count."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from synvid import robustness
from synvid.config import FinetuneConfig, resolve
from synvid.data import toy
from synvid.data.splits import ucf101
from synvid.video_io import read_video

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["gaussian_noise", "static_rotate", "codec2"]


def _script(rel):
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_toy_ucf101(tmp_path_factory.mktemp("toy") / "toy_ucf101", num_classes=2, groups=2,
                               clips_per_group=1, frames=8)


@pytest.fixture(scope="module")
def p_root(toy_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("p") / "ucf101p"
    make = _script("data_gen/4_2_make_ucf101p.py")
    make.main(make.get_args_parser().parse_args(["--profile", "smoke", "--data-root", str(toy_root), "--out",
                                                 str(out), "--names", *NAMES, "--no-progress"]))
    return out


def test_make_writes_ucf101_layout_and_resumes(toy_root, p_root):
    clean, classes = ucf101(toy_root, subset="test")
    manifest = json.loads((p_root / "manifest.json").read_text())
    assert manifest["severity"] == 3 and sorted(manifest["corruptions"]) == sorted(NAMES)
    for name in NAMES:
        items, got_classes = ucf101(p_root / name, subset="test")
        assert got_classes == classes and len(items) == len(clean) and (p_root / name / "DONE").is_file()
        for (path, _), (src, _) in zip(items, clean):
            video, original = read_video(path), read_video(src)
            assert video.shape == original.shape and not torch.equal(video, original)
    # resume: a finished corruption is skipped, a lost video of an unfinished one is written again identically
    victim = Path(ucf101(p_root / "gaussian_noise", subset="test")[0][0][0])
    before = read_video(victim)
    victim.unlink()
    (p_root / "gaussian_noise" / "DONE").unlink()
    make = _script("data_gen/4_2_make_ucf101p.py")
    make.main(make.get_args_parser().parse_args(["--profile", "smoke", "--data-root", str(toy_root), "--out",
                                                 str(p_root), "--names", "gaussian_noise", "--no-progress"]))
    assert torch.equal(read_video(victim), before)
    assert sorted(json.loads((p_root / "manifest.json").read_text())["corruptions"]) == sorted(NAMES)
    with pytest.raises(SystemExit, match="other settings"):
        make.main(make.get_args_parser().parse_args(["--data-root", str(toy_root), "--out", str(p_root),
                                                     "--names", "jpeg", "--severity", "2", "--no-progress"]))


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
    fly = tmp_path / "fly"
    ev.main(ev.get_args_parser().parse_args(["--run", str(ft_run), "--data-root", str(toy_root), "--out", str(fly),
                                             "--names", "gaussian_noise", "--num-segments", "2", "--device", "cpu",
                                             "--compare", f"written={out / 'summary.json'}"]))
    assert (fly / "figure3.png").stat().st_size > 1000 and "model > written" in json.loads((fly / "wins.json").read_text())


def test_wins_and_chart(tmp_path):
    a = {n: 50.0 + i for i, n in enumerate(robustness.corruptions.NAMES)}
    b = {n: 55.0 for n in robustness.corruptions.NAMES}
    assert robustness.wins(a, b) == 8  # 56..63 beat 55
    assert robustness.bar_chart({"A": a, "B": b}, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="share no"):
        robustness.wins({"x": 1.0}, b)
