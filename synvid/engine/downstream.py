"""What fine-tuning and both linear probes share around their training (Sections 4.1, 4.3): the classifier they
start from (`build_classifier`) and their inputs and ending (`DownstreamRun`: the init, the splits, and the multi-view
test that ends every finished run before DONE; the folder itself is synvid.runs.RunDir)."""
from __future__ import annotations

from pathlib import Path

import torch

from synvid import dist, inits, models
from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_pretrained
from synvid.config import FinetuneConfig
from synvid.data import registry
from synvid.data.video_dataset import FailureLog
from synvid.engine.evaluate import evaluate, test_dataset
from synvid.errors import BadInput
from synvid.runs import RunDir, atomic_write_json


def build_classifier(cfg, num_classes: int, weights: str | Path | None, device, print_fn=print) -> torch.nn.Module:
    """Classifier for `num_classes`; `weights` = None or "scratch" for a fresh one, else a weights file (ours,
    official VideoMAE or V-JEPA, HF: `inits.resolve(--init).weights`)."""
    torch.manual_seed(cfg.seed)
    model = models.build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size,
                         drop_path=cfg.drop_path, dropout=cfg.dropout)
    if weights not in (None, "scratch"):
        info = load_pretrained(model, weights, **PRETRAIN_TO_CLASSIFIER)
        print_fn(f"loaded {weights} ({info['layout']} layout); fresh: {info['missing']}")
    return model.to(device)


class DownstreamRun:
    """The inputs of a fine-tune or probe, checked before its run directory (synvid.runs.RunDir) is opened: `init`
    resolves (`source`, synvid.inits: it exists, its weights are readable, its run is finished); the train and test
    splits load (the test split strict unless cfg.allow_missing) and list the same classes; `settings`: what the run
    records beside its config sections (the upstream's objective among them)."""

    def __init__(self, cfg: FinetuneConfig, *, dataset: str, data_root, init: str, allow_unfinished: bool, device):
        self.device = device
        self.source = inits.resolve(init, allow_unfinished=allow_unfinished)
        self.segments = cfg.test_clips or registry.get(dataset).test_clips
        self.train = registry.load_split(dataset, data_root, "train", cfg.split)
        self.test = registry.load_split(dataset, data_root, "test", cfg.split, allow_missing=cfg.allow_missing)
        if self.test.classes != self.train.classes:
            raise BadInput(f"{dataset}: train and test splits list different classes")
        self.settings = dict(dataset=dataset, data_root=str(data_root), init=str(init), num_classes=len(
            self.train.classes), objective=self.source.objective)   # carried from the pre-training

    def end(self, run_dir: RunDir, model, cfg: FinetuneConfig, results: dict, failures: FailureLog, *,
            batch_size: int, **record) -> dict:
        """Record the training-split skips (unreadable videos of every rank, listed ones not on disk); a finished
        training then gets the multi-view test of `model`, results.json, and DONE last (the results without the
        per-video scores). Returns the results."""
        failures.summary()   # prints this rank's skips
        names = sorted({n for part in dist.all_gather_objects(failures.names) for n in part})
        results.update(train_skipped_videos=len(names), train_skipped_names=names, train_listed=self.train.listed,
                       train_missing=[Path(m).name for m in self.train.missing])
        if results["steps"] < results["total_steps"]:
            return results
        test = test_dataset(self.test.items, cfg, num_segments=self.segments, missing=self.test.missing)
        results.update(evaluate(model, test, batch_size=batch_size, device=self.device,
                                num_workers=cfg.num_workers, bf16=cfg.bf16))
        results.update(views=f"{self.segments}x{cfg.test_crops}", config_hash=run_dir.config_hash,
                       upstream=self.source.record(run_dir.path), seed=cfg.seed, **record)
        dist.on_main(atomic_write_json, run_dir.path / "results.json", results)
        run_dir.finish({k: v for k, v in results.items() if k != "videos"})
        return results
