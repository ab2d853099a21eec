"""One rank of the multi-process tests in test_multigpu.py (launched there with RANK/WORLD_SIZE/MASTER_* set,
gloo on CPU). `python tests/dist_worker.py SCENARIO ROOT OUT` writes OUT/rank<r>.json with what it saw."""
import json
import sys
import time
from pathlib import Path

import torch

from synvid import dist
from synvid.config import FinetuneConfig, LinprobeConfig, resolve

torch.set_num_threads(1)
SMALL = {"epochs": 1, "warmup_epochs": 0, "batch_size": 4, "allow_missing": True}


def finetune(root: Path, out: Path) -> dict:
    """A mostly unreadable toy tree: every step with a rank short of videos is skipped by all ranks together."""
    from synvid.engine import finetune as engine
    res = engine.run(resolve(FinetuneConfig, "smoke", **SMALL), out / "ft", dataset="toy_ucf101", data_root=root,
                 progress=False)
    return {k: res[k] for k in ("steps", "total_steps", "test_listed", "test_evaluated", "test_missing",
                                "train_skipped_videos")}


def weighted_step(root: Path, out: Path) -> dict:
    """Ranks holding 2 and 1 videos: one step equals the 1-process step on the same 3 videos."""
    from synvid.engine.downstream import build_classifier
    cfg = resolve(FinetuneConfig, "smoke", mixup=0.0, cutmix=0.0, drop_path=0.0, batch_size=4)
    torch.manual_seed(0)
    clips, labels = torch.randn(3, 1, 3, 4, 32, 32), torch.tensor([0, 1, 1])
    mine = slice(0, 2) if dist.rank() == 0 else slice(2, 3)
    if dist.world_size() == 1:
        mine = slice(0, 3)
    model = build_classifier(cfg, 2, "scratch", torch.device("cpu"))
    return {"params": _one_step(cfg, model, clips[mine], labels[mine])}


def _one_step(cfg, model, clips, labels) -> list:
    """clip_training.agree + the loop's train_step of AugmentedClipTraining on a stand-in holding only what they use
    (SGD, lr 1)."""
    from synvid.engine import clip_training
    from synvid.engine.losses import build_mixing
    net = torch.nn.parallel.DistributedDataParallel(model) if dist.world_size() > 1 else model
    stub = clip_training.AugmentedClipTraining.__new__(clip_training.AugmentedClipTraining)
    stub.cfg, stub.device, stub.net, stub.model, stub.world = cfg, torch.device("cpu"), net, model, dist.world_size()
    stub.optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    stub.schedule, stub.mix = {"lr": [1.0]}, build_mixing(cfg, 2)
    weight = clip_training.agree(len(clips), [])
    stub.train_step({"clips": clips, "labels": labels, "weight": weight}, 0)
    with torch.no_grad():   # every parameter's sum and sum of squares, and the head's weights
        flat = [v for p in model.parameters() for v in (p.double().sum(), p.double().square().sum())]
        return [float(v) for v in flat + model.head.weight.flatten().tolist()]


def probe(root: Path, out: Path) -> dict:
    from synvid.engine import linprobe
    init = out / "init.pth"
    if dist.is_main():
        from synvid.engine.downstream import build_classifier
        cfg = resolve(FinetuneConfig, "smoke")
        torch.save({"model": build_classifier(cfg, 2, "scratch", torch.device("cpu")).state_dict()}, init)
    if dist.is_dist():       # the other ranks read init.pth once rank 0 has written it
        torch.distributed.barrier()
    probe, tune = resolve(LinprobeConfig, "smoke", cache_features=False), resolve(FinetuneConfig, "smoke", **SMALL)
    res = linprobe.run(probe, tune, out / "probe", dataset="toy_ucf101", data_root=root, init=str(init),
                       progress=False)
    return {k: res[k] for k in ("steps", "total_steps", "test_listed", "test_evaluated", "test_missing")}


def ucf101p_strict(root: Path, out: Path) -> dict:
    """Strict UCF101-P evaluation over a test split with unreadable videos: every rank stops naming them."""
    from synvid.config import RobustnessConfig
    from synvid.engine.downstream import build_classifier
    from synvid.robustness import evaluate_ucf101p
    cfg = resolve(FinetuneConfig, "smoke")
    model = build_classifier(cfg, 2, "scratch", torch.device("cpu"))
    kw = dict(names=["gaussian_noise"], data_root=root)
    rcfg = resolve(RobustnessConfig, "smoke", mode="hook", severities=(3,), headline="3", num_segments=2)
    try:
        evaluate_ucf101p(model, cfg, rcfg, out / "p", **kw)      # one folder: rank 0 writes its records
    except Exception as e:  # noqa: BLE001 - what the test checks
        strict = f"{type(e).__name__}: {e}"
    allowed = resolve(RobustnessConfig, "smoke", mode="hook", severities=(3,), headline="3", allow_missing=True,
                      num_segments=2)
    res = evaluate_ucf101p(model, cfg, allowed, out / "q", **kw)
    done = json.loads((out / "q" / "gaussian_noise" / "3" / "DONE").read_text())
    return {"strict": strict, "top1": res["top1"], "test_missing": done["test_missing"]}


def failed_save(root: Path, out: Path) -> dict:
    """A checkpoint save that fails on rank 0 stops rank 1 too (no barrier left waiting)."""
    from synvid.engine import common
    model = torch.nn.Linear(2, 2)
    target = out / "blocked"
    target.write_text("a file where the run directory should be")
    try:
        common.save(target, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=1), step=1, epoch=0,
                    config={})
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"}
    return {"error": None}


if __name__ == "__main__":
    scenario, root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    dist.init_distributed("cpu")
    seen = {}
    for name in scenario.split(","):
        start = time.perf_counter()
        seen[name] = globals()[name](root, out)
        seen[f"{name}_s"] = round(time.perf_counter() - start, 2)
    (out / f"rank{dist.rank()}.json").write_text(json.dumps(seen))
    dist.cleanup()
