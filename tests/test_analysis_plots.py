"""Figure 4 correlations and the 5_3 / 5_4 entry points (CPU, seconds)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synvid import tables
from synvid.runs import atomic_write_json
from synvid.stats import correlation

ROOT = Path(__file__).resolve().parents[1]


def _stats_dir(tmp_path, values):
    d = tmp_path / "results"
    for name, (fid, alpha) in values.items():
        atomic_write_json(d / f"{name}.json", {"fid": {"fid": fid}, "spectrum": {"alpha_mean": alpha}})
    return d


def test_pearson_known_input():
    # y = 2x + 1 exactly -> r = 1; y = -x -> r = -1; hand-computed case r = 0.5
    assert tables.pearson([1, 2, 3], [3, 5, 7]) == pytest.approx(1.0)
    assert tables.pearson([1, 2, 3], [-1, -2, -3]) == pytest.approx(-1.0)
    x, y = [1, 2, 3, 4], [1, 3, 2, 4]
    assert tables.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1]) == pytest.approx(0.8)
    assert tables.pearson([1], [2]) is None and tables.pearson([1, 1], [2, 3]) is None


def test_singular_diversity_left_out_of_the_panel():
    stats = {"a": {"diversity": {"log_det_diversity": float("-inf")}}, "b": {"diversity": {"log_det_diversity": 1.0}},
             "c": {"diversity": {"log_det_diversity": 2.0}}}
    metric = next(m for m, (section, _) in correlation.METRICS.items() if section == "diversity")
    assert correlation.points(stats, {"a": 5.0, "b": 6.0, "c": 7.0}, metric) == [("b", 1.0, 6.0), ("c", 2.0, 7.0)]


def test_plot_subset_and_png(tmp_path):
    stats = correlation.load_statistics(_stats_dir(tmp_path, {"a": (10, 1.0), "b": (20, 1.5), "c": (30, 2.0),
                                                              "no_acc": (5, 0.1)}))
    acc = {"a": 80.0, "b": 70.0, "c": 60.0, "not_in_stats": 50.0}
    png = tmp_path / "fig4.png"
    out = correlation.plot_correlations(stats, acc, png)
    assert set(out) == {"FID", "spectrum alpha"}           # statistics absent from the JSONs are skipped
    assert out["FID"]["datasets"] == ["a", "b", "c"] and out["FID"]["r"] == pytest.approx(-1.0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    one = correlation.plot_correlations(stats, {"a": 80.0}, tmp_path / "one.png")
    assert one["FID"]["r"] is None and one["FID"]["n"] == 1   # fewer than 2 points: no r, still a plot
    with pytest.raises(ValueError, match="no dataset has both"):
        correlation.plot_correlations(stats, {"zzz": 1.0}, tmp_path / "none.png")


def test_accuracy_csv_formats(tmp_path):
    simple = tmp_path / "acc.csv"
    simple.write_text("dataset,accuracy\na,80\nb,70.5\n")
    assert correlation.accuracies_from_csv(simple) == {"a": 80.0, "b": 70.5}
    reported = correlation.accuracies_from_csv(ROOT / "paper_tables/reported.csv")
    assert reported["moving_shapes"] == 86.9 and reported["scratch"] == 51.4
    bad = tmp_path / "bad.csv"
    bad.write_text("name,top1\na,1\n")
    with pytest.raises(ValueError, match="dataset,accuracy"):
        correlation.accuracies_from_csv(bad)


def test_accuracies_from_runs(tmp_path):
    pre = tmp_path / "pretrain" / "moving_shapes"
    atomic_write_json(pre / "config.json", {"PretrainConfig": {}, "dataset": "moving_shapes"})
    ft = tmp_path / "finetune" / "ucf"
    for name, model, top1 in (("ucf", "vit_base_patch16_224", 77.0), ("ucf_small", "vit_small_patch16_224", 50.0)):
        atomic_write_json(ft.parent / name / "config.json", {"FinetuneConfig": {"model": model}, "dataset": "ucf101",
                                                             "init": str(pre / "checkpoint.pth")})
        atomic_write_json(ft.parent / name / "DONE", {"top1": top1})
    # the tables' provenance: the paper profile's ViT-B run only (the ViT-S run is refused)
    assert correlation.accuracies_from_runs(tmp_path) == {"moving_shapes": 77.0}


def _run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "analysis" / script), *args], capture_output=True, text=True)


@pytest.mark.slow
def test_correlation_script(tmp_path):
    d = _stats_dir(tmp_path, {"static_circles": (10, 1.0), "moving_shapes": (20, 1.2)})
    r = _run("5_4_correlations.py", "--stats-dir", str(d), "--accuracy-csv",
             str(ROOT / "paper_tables/reported.csv"), "--out", str(tmp_path / "fig4"))
    assert r.returncode == 0, r.stderr
    done = json.loads((tmp_path / "fig4" / "DONE").read_text())
    assert done["FID"]["n"] == 2 and (tmp_path / "fig4" / "fig4_correlations.png").exists()
    r = _run("5_4_correlations.py", "--stats-dir", str(tmp_path / "empty"), "--runs", str(tmp_path),
             "--out", str(tmp_path / "x"))
    assert r.returncode != 0 and "no <dataset>.json" in r.stderr


@pytest.mark.slow
def test_similarity_entry_needs_weights(tmp_path):
    r = _run("5_3_similarity.py", "--profile", "smoke", "--out", str(tmp_path / "o"), "--datasets",
             "static_circles", "--reference", "x.txt")
    assert r.returncode != 0 and "error:" in r.stderr and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------------
# Figure 5: PCA of last-layer keys
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_and_ckpt(tmp_path_factory):
    import torch

    from synvid import models
    from synvid.checkpoint import save_checkpoint
    from synvid.data.toy import make_toy_ucf101

    root = tmp_path_factory.mktemp("pca")
    toy = make_toy_ucf101(root / "toy", num_classes=2, groups=2, clips_per_group=1, frames=10)
    torch.manual_seed(0)
    model = models.build("pretrain_videomae_tiny_patch16_224", num_frames=4, img_size=32)
    ck = root / "ckpt.pth"
    save_checkpoint(ck, model=model, step=0, epoch=0, config={})
    return toy, ck


def _classifier(ck):
    from synvid import models
    from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_pretrained
    model = models.build("vit_tiny_patch16_224", num_frames=4, img_size=32)
    load_pretrained(model, ck, **PRETRAIN_TO_CLASSIFIER)
    return model


def test_key_pca_shape_and_determinism(toy_and_ckpt):
    from synvid.stats import pca_keys
    toy, ck = toy_and_ckpt
    ucf = toy / "UCF-101"
    cls = sorted(p.name for p in ucf.iterdir())[0]
    clips = pca_keys.load_clips(pca_keys.class_videos(ucf, cls, 2), 8, 32)
    assert clips.shape[1:] == (8, 32, 32, 3) and clips.dtype == np.uint8
    keys = pca_keys.last_layer_keys(_classifier(ck), clips, 4)
    assert keys.shape == (len(clips), 4, 2, 2, 64)                 # tubelet 2, 16-px patches, tiny width 64
    a = pca_keys.key_pca_frames(_classifier(ck), clips, 4)
    b = pca_keys.key_pca_frames(_classifier(ck), clips, 4)
    assert a.shape == clips.shape and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and a.max() == pytest.approx(1.0)
    with pytest.raises(FileNotFoundError, match="no videos"):
        pca_keys.class_videos(ucf, "NoSuchClass", 2)


@pytest.mark.slow
def test_visualize_script_png(tmp_path, toy_and_ckpt):
    toy, ck = toy_and_ckpt
    cls = sorted(p.name for p in (toy / "UCF-101").iterdir())[0]
    r = _run("5_5_visualize_features.py", "--profile", "smoke", "--out", str(tmp_path / "fig5"),
             "--checkpoints", f"{ck},{ck}", "--labels", "a,b", "--data-root", str(toy / "UCF-101"),
             "--class-name", cls, "--pca-model", "vit_tiny_patch16_224", "--pca-num-frames", "4",
             "--pca-input-size", "32", "--pca-frames", "8", "--show-videos", "2", "--show-frames", "2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig5" / "fig5_key_pca.png").read_bytes()[:4] == b"\x89PNG"
    r = _run("5_5_visualize_features.py", "--out", str(tmp_path / "y"), "--checkpoints", str(ck), "--labels",
             "a,b", "--data-root", str(toy), "--class-name", cls)
    assert r.returncode != 0 and "2 labels for 1 checkpoints" in r.stderr
