"""Supervised fine-tuning and the final multi-view test (Section 4.1, Table 6, PROTOCOLS.md §2.3-2.4;
VM `run_class_finetuning.py`, `engine_for_finetuning.py`), one DDP code path under torchrun: the classifier and the
run's inputs and test are downstream.py's, the training clip_training.py's (over loop.TrainLoop), the folder
synvid.runs.RunDir.

Run directory: config.json (first), log.jsonl, last.pth (atomic, every `save_every` steps and at the end),
results.json (top-1/top-5 + per-video scores) and DONE (last). Rerunning resumes from last.pth.
"""
from __future__ import annotations

from pathlib import Path

from synvid import dist
from synvid.config import FinetuneConfig, to_dict
from synvid.engine.clip_training import AugmentedClipTraining
from synvid.engine.downstream import DownstreamRun, build_classifier
from synvid.runs import RunDir

RESUME_FREE = {"num_workers", "save_every", "compile", "strict", "allow_missing", "cache_decoded"}


def run(cfg: FinetuneConfig, out: str | Path, *, dataset: str, data_root: str | Path, init: str = "scratch",
        stop_after: int | None = None, progress: bool = True, extra: dict | None = None,
        allow_unfinished: bool = False) -> dict:
    """Fine-tune on `dataset` (a `synvid.data.registry` name) and run the multi-view test; returns DONE's dict."""
    device = dist.init_distributed()[3]   # the process group of a torchrun launch (once: a no-op if joined)
    inputs = DownstreamRun(cfg, dataset=dataset, data_root=data_root, init=init, allow_unfinished=allow_unfinished,
                           device=device)
    classes = inputs.train.classes
    config = to_dict(cfg, **{**inputs.settings, **(extra or {})})
    with RunDir(out, config, free=RESUME_FREE, launch={"world_size": dist.world_size()}) as run_dir:
        if run_dir.done is not None:
            return run_dir.done
        model = build_classifier(cfg, len(classes), inputs.source.weights, device)
        trainer = AugmentedClipTraining(cfg, run_dir.path, inputs.train.items, model, len(classes), config, device)
        results = {"steps": trainer.fit(stop_after, progress), "total_steps": trainer.total_steps,
                   "dataset": dataset, "classes": classes}
        return inputs.end(run_dir, trainer.model, cfg, results, trainer.failures,
                          batch_size=max(trainer.per_rank // 2, 1))
