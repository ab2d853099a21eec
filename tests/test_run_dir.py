"""The run-directory contract (synvid.runs.RunDir): skip when DONE, config.json with its hash, a different config
refused naming the keys, DONE written last and never after an exception; then, for each kind of writer, that a
changed config is refused before any work."""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from synvid import robustness, runs
from synvid import ucf101p_files as files
from synvid.config import (FinetuneConfig, LinprobeConfig, PretrainConfig, RenderConfig, RobustnessConfig,
                           StatsConfig, TextureConfig, resolve, to_dict)
from synvid.data import toy
from synvid.engine import finetune, linprobe, pretrain
from synvid.errors import BadInput
from synvid.render import writer
from synvid.runs import RunDir, config_hash, mark_done
from synvid.stats import cli, correlation, pca_keys
from synvid.textures import banks

CONFIG = {"FinetuneConfig": {"num_workers": 2, "epochs": 3}, "dataset": "toy", "sizes": (1, 2)}


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


class Stop(Exception):
    """Raised where the work would start: the run directory was opened."""


def _stop(*args, **kwargs):
    raise Stop


# --- the contract -----------------------------------------------------------------------------------------------------

def test_a_run_writes_config_first_and_done_last(tmp_path):
    with RunDir(tmp_path / "r", CONFIG, free={"num_workers"}, launch={"world_size": 1}) as run:
        assert run.done is None and not (tmp_path / "r" / "DONE").exists()
        saved = _json(tmp_path / "r" / "config.json")
        run.finish({"top1": 50.0})
        assert not (tmp_path / "r" / "DONE").exists()           # not before the block ends
    assert saved == {**json.loads(json.dumps(CONFIG)), "config_hash": run.config_hash, "world_size": 1}
    assert run.config_hash == config_hash({**CONFIG, "FinetuneConfig": {"num_workers": 8, "epochs": 3}},
                                          {"num_workers"}) != config_hash(CONFIG)
    assert _json(tmp_path / "r" / "DONE") == {"top1": 50.0}
    assert (tmp_path / "r" / "DONE").stat().st_mtime_ns >= (tmp_path / "r" / "config.json").stat().st_mtime_ns


def test_a_finished_run_is_skipped_with_free_settings_changed(tmp_path):
    with RunDir(tmp_path, CONFIG, free={"num_workers"}) as run:
        run.finish({"steps": 3})
    before = (tmp_path / "config.json").read_text()
    other_workers = {**CONFIG, "FinetuneConfig": {"num_workers": 8, "epochs": 3}, "sizes": [1, 2]}
    with RunDir(tmp_path, other_workers, free={"num_workers"}) as run:
        assert run.done == {"steps": 3}
    assert (tmp_path / "config.json").read_text() == before       # a skipped run rewrites nothing


def test_a_different_config_is_refused_naming_the_keys(tmp_path):
    with RunDir(tmp_path, CONFIG):
        pass                                                      # interrupted: config.json, no DONE
    before = (tmp_path / "config.json").read_text()
    other = {**CONFIG, "FinetuneConfig": {"num_workers": 2, "epochs": 4}, "dataset": "ucf101"}
    with pytest.raises(BadInput, match=r"different settings \(FinetuneConfig.epochs, dataset\)"):
        with RunDir(tmp_path, other):
            pytest.fail("entered a run of other settings")
    mark_done(tmp_path, {"steps": 3})
    with pytest.raises(BadInput, match=r"\(sizes\)"):             # finished or not
        RunDir(tmp_path, {**CONFIG, "sizes": (1, 3)}).__enter__()
    assert (tmp_path / "config.json").read_text() == before


def test_an_older_config_reads_as_its_defaults_and_profile(tmp_path):
    """A run saved before RenderConfig was recorded used its profile's: that matches, another RenderConfig does
    not; a field an older run did not record reads as its default."""
    smoke = dict(profile="smoke", dataset="moving_circles", bank="")
    old = to_dict(resolve(PretrainConfig, "smoke"), **smoke)
    del old["PretrainConfig"]["mask_ratio"]
    runs.atomic_write_json(tmp_path / "config.json", {**old, "world_size": 4})
    same = to_dict(resolve(PretrainConfig, "smoke", num_workers=1), resolve(RenderConfig, "smoke"), **smoke)
    RunDir(tmp_path, same, free={"num_workers"}).check()
    with pytest.raises(BadInput, match=r"different settings \(RenderConfig.num_shapes\)"):
        RunDir(tmp_path, {**same, "RenderConfig": {**same["RenderConfig"], "num_shapes": 3}},
               free={"num_workers"}).check()
    with pytest.raises(BadInput, match=r"different settings \(PretrainConfig.mask_ratio\)"):
        RunDir(tmp_path, to_dict(resolve(PretrainConfig, "smoke", mask_ratio=0.9), **smoke)).check()



def test_an_older_probe_matches_without_the_fine_tuning_copies(tmp_path):
    """Before LinprobeConfig held only what differs from fine-tuning it also recorded copies of FinetuneConfig fields
    (model, epochs, ...); a field no section declares any more is read by nothing and takes no part in the check,
    while a changed declared one is still refused."""
    probe, tune = resolve(LinprobeConfig, "smoke"), resolve(FinetuneConfig, "smoke")
    new = to_dict(probe, tune, profile="smoke", dataset="toy_hmdb51")
    old = {**new, "LinprobeConfig": {**new["LinprobeConfig"], "model": tune.model, "epochs": tune.epochs}}
    runs.atomic_write_json(tmp_path / "config.json", old)
    RunDir(tmp_path, new).check()
    other = to_dict(resolve(LinprobeConfig, "smoke", base_lr=0.5), tune, profile="smoke", dataset="toy_hmdb51")
    with pytest.raises(BadInput, match=r"different settings \(LinprobeConfig.base_lr\)"):
        RunDir(tmp_path, other).check()

def test_no_done_after_an_exception_or_without_finish(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with RunDir(tmp_path / "a", CONFIG) as run:
            run.finish({"steps": 3})
            raise RuntimeError("boom")
    with RunDir(tmp_path / "b", CONFIG):
        pass                                                      # stopped early (stop_after): no finish
    assert not (tmp_path / "a" / "DONE").exists() and not (tmp_path / "b" / "DONE").exists()
    with RunDir(tmp_path / "a", CONFIG) as run:                   # the rerun is not skipped
        assert run.done is None


def test_redo_writes_a_finished_folder_again_and_done_last(tmp_path):
    with RunDir(tmp_path, {**CONFIG, "datasets": "a"}, free={"datasets"}, redo=True) as run:
        run.finish({"a": 1})
    with RunDir(tmp_path, {**CONFIG, "datasets": "a,b"}, free={"datasets"}, redo=True) as run:
        assert run.done is None and not (tmp_path / "DONE").exists()
        assert _json(tmp_path / "config.json")["datasets"] == "a,b"
        run.finish({"a": 1, "b": 2})
    assert _json(tmp_path / "DONE") == {"a": 1, "b": 2}
    with pytest.raises(BadInput, match=r"\(dataset\)"):            # a redo still refuses other settings
        RunDir(tmp_path, {**CONFIG, "dataset": "x"}, free={"datasets"}, redo=True).__enter__()


def test_a_done_without_config_is_refused(tmp_path):
    mark_done(tmp_path, {})
    with pytest.raises(BadInput, match="no config.json"):
        RunDir(tmp_path, CONFIG).__enter__()


# --- every kind of writer refuses a changed config -------------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_toy_ucf101(tmp_path_factory.mktemp("toy") / "toy_ucf101", num_classes=2, groups=2,
                               clips_per_group=1, frames=4)


def test_pretraining_refuses_a_changed_config(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain, "Trainer", _stop)
    render = RenderConfig(size=32, num_videos=8)
    kw = dict(dataset="moving_circles", render_size=32, synthetic={"cfg": render}, progress=False)
    with pytest.raises(Stop):
        pretrain.run(resolve(PretrainConfig, "smoke"), tmp_path, **kw)
    assert _json(tmp_path / "config.json")["world_size"] == 1
    with pytest.raises(BadInput, match=r"\(PretrainConfig.mask_ratio\)"):
        pretrain.run(resolve(PretrainConfig, "smoke", mask_ratio=0.5), tmp_path, **kw)


def test_finetuning_and_probing_refuse_a_changed_config(toy_root, tmp_path, monkeypatch):
    monkeypatch.setattr(finetune, "build_classifier", _stop)
    monkeypatch.setattr(linprobe, "probe_model", _stop)
    kw = dict(dataset="toy_ucf101", data_root=toy_root, progress=False)
    with pytest.raises(Stop):
        finetune.run(resolve(FinetuneConfig, "smoke"), tmp_path / "ft", **kw)
    with pytest.raises(BadInput, match=r"\(FinetuneConfig.base_lr\)"):
        finetune.run(resolve(FinetuneConfig, "smoke", base_lr=1.0), tmp_path / "ft", **kw)
    tune = resolve(FinetuneConfig, "smoke")
    with pytest.raises(Stop):
        linprobe.run(resolve(LinprobeConfig, "smoke"), tune, tmp_path / "lp", init="scratch", **kw)
    with pytest.raises(BadInput, match=r"different settings \(.*LinprobeConfig.base_lr.*\)"):
        linprobe.run(resolve(LinprobeConfig, "smoke", base_lr=1.0), tune, tmp_path / "lp", init="scratch", **kw)

def test_statistics_refuse_a_changed_config_and_merge_stats(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "Runner", _stop)
    parser = cli.get_args_parser("stats", "spectrum,color")
    argv = ["--profile", "smoke", "--datasets", "moving_circles", "--reference", "list.txt", "--out", str(tmp_path)]
    with pytest.raises(Stop):
        cli.main(parser.parse_args(argv))
    with pytest.raises(Stop):                                     # 5_3 and 5_4 share one folder
        cli.main(parser.parse_args([*argv, "--stats", "color", "--datasets", "moving_shapes"]))
    with pytest.raises(BadInput, match=r"\(reference\)"):
        cli.main(parser.parse_args([*argv, "--reference", "other.txt"]))


def test_figures_refuse_a_changed_config(tmp_path, monkeypatch):
    for stats in ("stats", "stats2"):
        (tmp_path / stats).mkdir()
        (tmp_path / stats / "a.json").write_text(json.dumps({"spectrum": {"alpha": 1.0}}))
    (tmp_path / "acc.csv").write_text("dataset,accuracy\na,50\n")
    monkeypatch.setattr(correlation, "plot_correlations", lambda *a: {})
    correlation.figure4(tmp_path / "stats", tmp_path / "f4", accuracy_csv=tmp_path / "acc.csv")
    correlation.figure4(tmp_path / "stats", tmp_path / "f4", accuracy_csv=tmp_path / "acc.csv")   # drawn again
    with pytest.raises(BadInput, match=r"\(stats_dir\)"):
        correlation.figure4(tmp_path / "stats2", tmp_path / "f4", accuracy_csv=tmp_path / "acc.csv")
    monkeypatch.setattr(pca_keys, "class_videos", lambda *a: [])
    monkeypatch.setattr(pca_keys, "load_clips", lambda *a: [])
    monkeypatch.setattr(pca_keys, "save_grid", lambda *a: Path("grid.png"))
    cfg = resolve(StatsConfig, "smoke")
    assert pca_keys.figure5(cfg, [], [], tmp_path / "f5", data_root=".", class_name="Orbit") == Path("grid.png")
    with pytest.raises(BadInput, match=r"\(class_name\)"):
        pca_keys.figure5(cfg, [], [], tmp_path / "f5", data_root=".", class_name="Run")
    monkeypatch.setattr(writer, "_draw_grid", lambda *a, **k: None)
    writer.figure1_grid(tmp_path / "f1", ["moving_circles"], profile="smoke")
    with pytest.raises(BadInput, match=r"\(seed\)"):
        writer.figure1_grid(tmp_path / "f1", ["moving_circles"], profile="smoke", seed=1)


def test_data_writers_refuse_a_changed_config(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "materialise", lambda *a, **k: {"files": {"v.mp4": "h"}})
    writer.generate_set("moving_circles", tmp_path / "set", profile="smoke", num_videos=1)
    assert _json(tmp_path / "set" / "DONE") == {"num_videos": 1}
    with pytest.raises(BadInput, match=r"\(num_videos\)"):
        writer.generate_set("moving_circles", tmp_path / "set", profile="smoke", num_videos=2)
    monkeypatch.setattr(banks, "write_bank", lambda *a, **k: {"shards": [0]})
    texture = resolve(TextureConfig, "smoke")
    banks.build_bank(texture, tmp_path / "bank", "statistical", 2)
    with pytest.raises(BadInput, match=r"\(seed\)"):
        banks.build_bank(texture, tmp_path / "bank", "statistical", 2, seed=1)
    monkeypatch.setitem(toy.MAKERS, "toy_ucf101", lambda out, *, seed, frames=4: out)
    toy.write("toy_ucf101", tmp_path / "toy", seed=0, profile="smoke")
    with pytest.raises(BadInput, match=r"\(recipe\)"):
        toy.write("toy_ucf101", tmp_path / "toy", seed=0, profile="smoke", frames=8)


def test_ucf101p_trees_and_evaluations_refuse_a_changed_config(toy_root, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "write_benchmark_video", lambda *a: None)
    cfg = resolve(RobustnessConfig, "smoke", severities=(1,))
    files.make_ucf101p(toy_root, tmp_path / "p", cfg, names=["jpeg"], profile="smoke", progress=False)
    files.make_ucf101p(toy_root, tmp_path / "p", resolve(RobustnessConfig, "smoke", severities=(2,)),
                       names=["rotate"], profile="smoke", progress=False)   # sets are added to a tree
    assert _json(tmp_path / "p" / "DONE")["sets"] == ["jpeg_1", "rotate_2"]
    with pytest.raises(BadInput, match=r"\(profile\)"):
        files.make_ucf101p(toy_root, tmp_path / "p", cfg, names=["jpeg"], profile="paper", progress=False)
    saved = _json(tmp_path / "p" / "jpeg_1" / "config.json")
    runs.atomic_write_json(tmp_path / "p" / "jpeg_1" / "config.json", {**saved, "severity": 2})
    with pytest.raises(BadInput, match=r"jpeg_1 holds a run with different settings \(severity\)"):
        files.make_ucf101p(toy_root, tmp_path / "p", cfg, names=["jpeg"], profile="smoke", progress=False)
    # an evaluation: the chart of earlier summaries, and one (corruption, severity) result
    for label in ("a", "b"):
        runs.atomic_write_json(tmp_path / f"{label}.json", {"top1": {"jpeg": 50.0}})
    compare = [f"{label}={tmp_path / label}.json" for label in ("a", "b")]
    monkeypatch.setattr(robustness, "ucf101p_chart", lambda *a, **k: None)
    robustness.run(cfg, tmp_path / "e", chart_only=True, compare=compare)
    with pytest.raises(BadInput, match=r"\(RobustnessConfig.headline\)"):
        robustness.run(resolve(RobustnessConfig, "smoke", severities=(1,), headline="1"), tmp_path / "e",
                       chart_only=True, compare=compare)
    runs.atomic_write_json(tmp_path / "cell" / "config.json", {"corruption": "fog", "severity": 1, "seed": 1})
    with pytest.raises(BadInput, match=r"\(.*seed.*\)"):
        robustness._evaluate_one(None, SimpleNamespace(), cfg, tmp_path / "cell", "fog", 1, "per_view",
                                 p_root=None, data_root=tmp_path, device="cpu", print_fn=print)

