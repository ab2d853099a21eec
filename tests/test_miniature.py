"""The miniature's report (synvid.miniature) on run folders laid out as the cpu profile writes them, and its
action set (synvid.data.toy.make_toy_actions) as the readers see it."""
import json
import math

import numpy as np
import pytest

from synvid import miniature
from synvid.data import toy
from synvid.data.registry import load_split
from synvid.tables import read_reported

SETS = miniature.SHAPE_SETS


def _run(folder, top1, seed, done=True, **config):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"FinetuneConfig": {"model": "vit_tiny_patch8_64",
                                                                        "input_size": 64, "num_frames": 8,
                                                                        "sampling_rate": 4, **config}}))
    (folder / "results.json").write_text(json.dumps({"top1": top1, "seed": seed}))
    if done:
        (folder / "DONE").write_text("{}")


@pytest.fixture
def runs(tmp_path):
    """finetune: scratch 10/12/14 over seeds 0-2, set k adds 5k (M1 +0 ... M5 +20), so the order is the paper's;
    linprobe: the reverse order and only seeds 0-1; one unfinished run that must not count."""
    for job in ("finetune", "linprobe"):
        base = tmp_path / job / "toy_actions"
        for seed in (0, 1, 2):
            if job == "linprobe" and seed == 2:
                continue
            suffix = "" if seed == 0 else f"_seed{seed}"
            _run(base / f"scratch{suffix}", 10 + 2 * seed, seed)
            for k, name in enumerate(SETS):
                gain = 5 * k if job == "finetune" else 5 * (4 - k)
                _run(base / f"{name}{suffix}", 10 + 2 * seed + gain + seed, seed)
    _run(tmp_path / "finetune" / "toy_actions" / "scratch_seed7", 99.0, 7, done=False)
    return tmp_path


def test_table_effect_and_order(runs, tmp_path):
    summary = miniature.write(runs, tmp_path / "out", dataset="toy_actions", reported=read_reported(),
                              stamp="commit x", figures_too=True)
    ft, lp = summary["jobs"]["finetune"], summary["jobs"]["linprobe"]
    assert ft["per_seed"]["scratch"] == {0: 10.0, 1: 12.0, 2: 14.0}          # the unfinished seed 7 is left out
    mean, half, n = ft["cells"]["moving_shapes"]
    assert (mean, n) == (pytest.approx(23.0), 3) and half == pytest.approx(4.303 * 3 / math.sqrt(3), rel=1e-3)
    # paired by seed: M2-M5 add 5..20 (mean 12.5) plus the seed itself (0, 1, 2) -> 12.5, 13.5, 14.5
    effect, half, n = ft["moving_minus_scratch"]
    assert (effect, n) == (pytest.approx(13.5), 3) and half == pytest.approx(4.303 / math.sqrt(3), rel=1e-3)
    assert ft["moving_minus_static"][0] == pytest.approx(5.0)                 # both carry the seed term
    assert ft["spearman"] == pytest.approx(1.0)        # the paper's UCF101 fine-tuning column rises M1 -> M5
    assert lp["cells"]["scratch"][2] == 2 and not math.isnan(lp["cells"]["scratch"][1])
    assert lp["spearman"] < 0                          # our probe order falls M1 -> M5 by construction
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "never paper numbers" in report and "vit_tiny_patch8_64, 64² input, 8 frames at stride 4" in report
    assert "13.5 ±" in report and "above 0" in report
    assert "(13.50), paired over 3 seeds; the 95% interval is above 0; the bar of ≥ 10 points" in report
    for image in ("miniature_fig2.png", "miniature_pretrain_loss.png"):
        assert (tmp_path / "out" / "figures" / image).stat().st_size > 0


def test_effect_bar_uses_the_unrounded_mean():
    assert miniature.effect_line("linprobe", 4.965, 2.77, 3).endswith("is not met.")      # prints as 5.0 ± 2.8
    assert miniature.effect_line("linprobe", 5.0, 2.77, 3).endswith("is met.")
    assert miniature.effect_line("finetune", 31.9, 40.0, 3).endswith("is not met.")      # interval reaches 0
    assert "not above 0" in miniature.effect_line("finetune", 31.9, 40.0, 3)
    assert "not measured" in miniature.effect_line("finetune", 31.9, float("nan"), 1)


def test_intervals_need_two_seeds():
    assert miniature.t_interval([3.0])[2] == 1 and math.isnan(miniature.t_interval([3.0])[1])
    assert math.isnan(miniature.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


@pytest.fixture(scope="module")
def actions(tmp_path_factory):
    root = tmp_path_factory.mktemp("actions")
    toy.write("toy_actions", root, seed=0, profile="cpu", train_per_class=1, test_per_class=1, frames=8,
              height=32, width=40)
    return root


def test_action_set_is_read_as_ucf101(actions):
    train, test = load_split("toy_actions", actions, "train"), load_split("toy_actions", actions, "test")
    assert train.classes == list(toy.MOTION_ACTIONS) and len(train.items) == len(test.items) == 10
    assert {label for _, label in train.items} == set(range(10))
    recipe = json.loads((actions / "config.json").read_text())
    assert recipe["recipe"]["frames"] == 8 and recipe["photos"]["test"] == list(toy.ACTION_PHOTOS["test"])


def test_train_and_test_photos_are_disjoint():
    assert not set(toy.ACTION_PHOTOS["train"]) & set(toy.ACTION_PHOTOS["test"])


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """(dy, dx) of the content from frame a to frame b (phase correlation of the grey frames)."""
    fa, fb = np.fft.fft2(a.mean(-1)), np.fft.fft2(b.mean(-1))
    peak = np.abs(np.fft.ifft2(fb * np.conj(fa) / (np.abs(fb * np.conj(fa)) + 1e-9)))
    dy, dx = np.unravel_index(peak.argmax(), peak.shape)
    return (dy - a.shape[0] if dy > a.shape[0] // 2 else dy), (dx - a.shape[1] if dx > a.shape[1] // 2 else dx)


@pytest.mark.parametrize("action, sign", [("PanLeft", (0, 1)), ("PanRight", (0, -1)), ("PanUp", (1, 0)),
                                          ("PanDown", (-1, 0))])
def test_a_pan_moves_the_content_against_the_camera(action, sign):
    photos = [toy._photo(name) for name in toy.ACTION_PHOTOS["train"][:3]]
    for seed in range(4):   # the camera's angle is drawn too; a pan steps along the frame's own axes whatever it is
        video = toy.render_motion(action, np.random.default_rng(seed), photos, frames=12, height=48, width=64)
        dy, dx = _shift(video[0], video[3])       # 3 frames apart: 2-5 px, well inside the frame
        assert (np.sign(dy), np.sign(dx)) == sign and abs(dy) + abs(dx) >= 2, (seed, dy, dx)
