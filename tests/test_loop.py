"""The one training loop (synvid.engine.loop.TrainLoop) on a toy subclass, and the engine's imports (module
level only). The run directory around it: tests/test_run_dir.py."""
import ast
import json
import math
from pathlib import Path

import pytest
import torch

from synvid.config import FinetuneConfig, resolve
from synvid.engine import common, loop
from synvid.errors import ShortDataError


class Toy(loop.TrainLoop):
    """A linear model on 8 keyed samples per epoch; the steps in `skip` are skipped by every rank; the batches
    end after `last` steps (default: none missing)."""

    def __init__(self, cfg, run_dir, skip=(), last=None):
        super().__init__(cfg, run_dir, {"toy": 1}, torch.device("cpu"), 8)
        self.skip, self.last = skip, last
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        self.lr = loop.cosine_lr(cfg, self.steps_per_epoch)
        self.prepare(model, [{"params": list(model.parameters())}], {"lr": self.lr}, betas=(cfg.beta1, cfg.beta2))

    def batches(self, stop):
        for step in range(self.start, stop if self.last is None else min(stop, self.last)):
            x = torch.randn(self.per_rank, 2, generator=torch.Generator().manual_seed(step))
            yield None if step in self.skip else {"x": x}

    def loss(self, x, step):
        return (self.net(x) - 1).pow(2).mean()


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
    # steps 1-2: warm-up 0 -> peak; steps 3-6: cosine from the peak to min_lr (both x batch / 256, VM)
    peak, low = 1.0 * 4 / 256, _cfg().min_lr * 4 / 256
    cosine = [low + (peak - low) * (1 + math.cos(math.pi * i / 4)) / 2 for i in range(4)]    # steps 3..6
    assert [r["lr"] for r in log] == pytest.approx([0.0, peak, cosine[1], cosine[2]], rel=1e-6)
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
    real = Toy.loss
    monkeypatch.setattr(Toy, "loss", lambda self, x, step: real(self, x, step) * (float("nan") if step == 4 else 1))
    with pytest.raises(common.NonFiniteLossError, match="step 5"):
        Toy(_cfg(), tmp_path).fit(progress=False)
    assert torch.load(tmp_path / "last.pth", weights_only=True)["step"] == 4


def test_batches_that_end_short_of_the_steps_fail_loudly(tmp_path):
    """A run whose data gives out at step 3 of 6 stops there with an error naming the step, its last.pth at the
    last save (step 2), its log closed; it never reports itself finished."""
    toy = Toy(_cfg(save_every=2), tmp_path, last=3)
    with pytest.raises(ShortDataError, match="ended at step 3 of 6"):
        toy.fit(progress=False)
    assert [r["step"] for r in _log(tmp_path)] == [1, 2, 3]
    assert torch.load(tmp_path / "last.pth", weights_only=True)["step"] == 2
    assert Toy(_cfg(), tmp_path / "enough", last=6).fit(progress=False) == 6


def test_one_step_body_schedules_clips_steps_and_runs_the_after_step_hook(tmp_path):
    """train_step: the schedule's values (lr and weight decay) are in the optimiser before its step, the gradient
    is clipped between backward and the step, the after-step hook sees the updated weights; the scheduled values
    come back for the log."""
    seen = []

    class Hooked(Toy):
        def __init__(self, cfg, run_dir):
            loop.TrainLoop.__init__(self, cfg, run_dir, {}, torch.device("cpu"), 8)
            torch.manual_seed(0)
            model = torch.nn.Linear(2, 1)
            schedule = {"lr": [0.5] * 6, "weight_decay": [0.25] * 6, "momentum": [0.9] * 6}
            self.prepare(model, [{"params": list(model.parameters()), "weight_decay": 0.1}], schedule,
                         betas=(0.9, 0.95))
            self.skip, self.last = (), None

        def clip_gradients(self, step):
            seen.append(("clip", self.model.weight.grad.norm().item(), self.model.weight.detach().clone()))
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1e-2)

        def after_step(self, step):
            group = self.optimizer.param_groups[0]
            seen.append(("after", group["lr"], group["weight_decay"], self.model.weight.detach().clone()))

    hooked = Hooked(_cfg(), tmp_path)
    loss, scheduled = hooked.train_step({"x": torch.ones(4, 2)}, 0)
    (_, norm, before), (_, lr, wd, after) = seen
    assert scheduled == {"lr": 0.5, "weight_decay": 0.25, "momentum": 0.9} and (lr, wd) == (0.5, 0.25)
    grads = torch.cat([p.grad.flatten() for p in hooked.model.parameters()])
    assert norm > 1e-2 and grads.norm().item() == pytest.approx(1e-2) and isinstance(loss, float)
    # AdamW's first step moves each weight by lr (normalised update) plus the decoupled decay lr * wd * w
    assert torch.allclose(after, before * (1 - 0.5 * 0.25) - 0.5 * torch.sign(hooked.model.weight.grad), atol=1e-5)
    with pytest.raises(ValueError, match="do not cover the run's 6 steps"):
        Toy.prepare(hooked, hooked.model, [{"params": list(hooked.model.parameters())}], {"lr": [0.1] * 5},
                    betas=(0.9, 0.95))

def test_the_engine_imports_synvid_only_at_module_level():
    for path in (Path(__file__).resolve().parents[1] / "synvid" / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    names = [a.name for a in inner.names] if isinstance(inner, ast.Import) else \
                        ["synvid" if inner.level else inner.module or ""] if isinstance(inner, ast.ImportFrom) else []
                    assert not any(n.startswith("synvid") for n in names), f"{path.name}: {node.name} imports {names}"
