"""The one training loop (synvid.engine.loop.TrainLoop) on a toy subclass, and the engine's imports (issue 15: module
level only). The run directory around it: tests/test_run_dir.py."""
import ast
import json
from pathlib import Path

import pytest
import torch

from synvid.config import FinetuneConfig, resolve
from synvid.engine import common, loop


class Toy(loop.TrainLoop):
    """A linear model on 8 keyed samples per epoch; the steps in `skip` are skipped by every rank."""

    def __init__(self, cfg, run_dir, skip=()):
        super().__init__(cfg, run_dir, {"toy": 1}, torch.device("cpu"), 8)
        self.lr, self.skip = loop.cosine_lr(cfg, self.steps_per_epoch), skip
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        self.prepare(model, self.adamw([{"params": list(model.parameters())}]))

    def batches(self, stop):
        for step in range(self.start, stop):
            x = torch.randn(self.per_rank, 2, generator=torch.Generator().manual_seed(step))
            yield None if step in self.skip else {"x": x}

    def step(self, x, step):
        lr = common.set_lr(self.optimizer, self.lr, step)
        loss = (self.net(x) - 1).pow(2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item(), {"lr": lr}


def _cfg(**kw):
    return resolve(FinetuneConfig, "smoke", **{"epochs": 3, "batch_size": 4, "warmup_epochs": 1, "save_every": 4,
                                               "base_lr": 1.0, **kw})


def _log(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


def test_loop_logs_schedules_skips_and_saves(tmp_path):
    """8 samples / batch 4 = 2 steps per epoch, 6 in all; a skipped step is counted but neither trained nor
    logged; last.pth every `save_every` steps and at the stop; the logged lr is the cosine schedule's."""
    toy = Toy(_cfg(), tmp_path, skip={2})
    assert (toy.steps_per_epoch, toy.total_steps, toy.per_rank) == (2, 6, 4)
    assert toy.fit(stop_after=5, progress=False) == 5
    log = _log(tmp_path)
    assert [r["step"] for r in log] == [1, 2, 4, 5] and [r["epoch"] for r in log] == [0, 0, 1, 2]
    assert [r["lr"] for r in log] == [float(toy.lr[s - 1]) for s in (1, 2, 4, 5)]
    assert toy.lr[0] == 0.0 and toy.lr[2] == pytest.approx(1.0 * 4 / 256)   # warm-up 0 -> base_lr x batch / 256
    assert torch.load(tmp_path / "last.pth", weights_only=True)["step"] == 5
    assert all(r["clips_per_s"] > 0 and 0 <= r["data_wait"] <= 1 for r in log)


def test_loop_resumed_at_any_step_gives_the_uninterrupted_losses(tmp_path):
    Toy(_cfg(), tmp_path / "a").fit(progress=False)
    for stop in (1, 3, None):
        Toy(_cfg(), tmp_path / "b").fit(stop, progress=False)   # a fresh process each time
    assert [r["loss"] for r in _log(tmp_path / "b")] == [r["loss"] for r in _log(tmp_path / "a")]
    a, b = (torch.load(tmp_path / d / "last.pth", weights_only=True)["model"] for d in "ab")
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_a_nan_loss_stops_with_the_last_good_checkpoint(tmp_path, monkeypatch):
    real = Toy.step
    monkeypatch.setattr(Toy, "step", lambda self, x, step: (float("nan"), {"lr": 0.0}) if step == 4
                        else real(self, x, step))
    with pytest.raises(common.NonFiniteLossError, match="step 5"):
        Toy(_cfg(), tmp_path).fit(progress=False)
    assert torch.load(tmp_path / "last.pth", weights_only=True)["step"] == 4


def test_the_engine_imports_synvid_only_at_module_level():
    for path in (Path(__file__).resolve().parents[1] / "synvid" / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    names = [a.name for a in inner.names] if isinstance(inner, ast.Import) else \
                        ["synvid" if inner.level else inner.module or ""] if isinstance(inner, ast.ImportFrom) else []
                    assert not any(n.startswith("synvid") for n in names), f"{path.name}: {node.name} imports {names}"
