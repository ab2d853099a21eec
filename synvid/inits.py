"""Where a downstream run's weights come from: the one resolver of every `--init` (fine-tuning, both linear-probe
modes), of UCF101-P's `--run` and of the tables' provenance.

What an `--init` may be:
- `scratch`: a freshly initialised model (Table 1's "random initialization");
- a synvid run directory (a config.json that synvid wrote; the weights are its last.pth) or a checkpoint file in
  one; a synvid checkpoint file outside any run directory is kind `synvid` too, with no run;
- a HuggingFace transformers VideoMAE folder (`save_pretrained`: config.json with `model_type`, and
  model.safetensors or pytorch_model.bin) or one such weights file;
- an official file: MCG-NJU VideoMAE (`{'model'|'module': state_dict}`, pre-training or fine-tuned names) or
  facebookresearch/jepa V-JEPA (`{'encoder', 'target_encoder', 'predictor'}`).
A folder is a synvid run, else an HF folder, else refused; a file inside a synvid run is that run's, any other file
is classified by its contents (synvid.checkpoint detects the layouts), so a misnamed file still gets its true kind.

The resolved `Init` says: kind, the weights file, the run directory, the pre-training objective, the step, a hash
(the run's config hash for a synvid run, else the sha256 of the weights file) and whether the run is finished;
`Init.record` is what DONE stores as `upstream`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from synvid.checkpoint import FORMAT, is_hf, is_vjepa, load_checkpoint, state_dict_of
from synvid.config import CONFIGS
from synvid.errors import BadInput, MissingInput
from synvid.runs import LAST, file_sha256

KINDS = ("scratch", "synvid", "official", "hf")
DEFAULT_OBJECTIVE = "videomae"      # docs/tables.md: weights that state no objective are VideoMAE's
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")    # what transformers' save_pretrained writes, newest first
_SECTIONS = {cls.__name__ for cls in CONFIGS}
ACCEPTED = ("'scratch', a synvid run directory or its checkpoint, an official VideoMAE / V-JEPA file, or a "
            "HuggingFace VideoMAE folder or weights file")


@dataclass(frozen=True)
class Init:
    kind: str                       # one of KINDS
    weights: Path | None = None     # the file synvid.checkpoint.load_pretrained reads; None for scratch
    run: Path | None = None         # the synvid run directory the weights belong to
    objective: str | None = None    # pre-training objective ("videomae" | "vjepa"); None for scratch
    step: int | None = None         # the training step of a synvid checkpoint
    hash: str | None = None         # the run's config_hash (synvid run), else the weights file's sha256
    finished: bool | None = None    # whether the run has DONE; None without a run

    def record(self, relative_to: str | Path) -> dict:
        """DONE's `upstream`: these fields, with `run` and `checkpoint` relative to the recording run directory."""
        def rel(path):
            return None if path is None else os.path.relpath(Path(path).resolve(), Path(relative_to).resolve())
        return {"kind": self.kind, "run": rel(self.run), "checkpoint": rel(self.weights), "objective": self.objective,
                "step": self.step, "hash": self.hash, "finished": self.finished}


def _json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from e
    return obj if isinstance(obj, dict) else {}


def is_run(folder: str | Path) -> bool:
    """A folder holding a config.json that synvid wrote (its config hash or one of its config sections)."""
    config = _json(Path(folder) / "config.json")
    return "config_hash" in config or bool(_SECTIONS & set(config))


def is_hf_folder(folder: str | Path) -> bool:
    """A transformers `save_pretrained` folder: config.json with `model_type`, or HF weights and no synvid run."""
    folder = Path(folder)
    return "model_type" in _json(folder / "config.json") or (
        not is_run(folder) and any((folder / name).is_file() for name in HF_WEIGHTS))


def objective_of(done: dict, config: dict) -> str:
    """The objective a run states: in DONE, its config's top level (downstream runs carry their upstream's), or
    its PretrainConfig; VideoMAE when none does (runs from before V-JEPA)."""
    return (done.get("objective") or config.get("objective")
            or (config.get("PretrainConfig") or {}).get("objective") or DEFAULT_OBJECTIVE)


def resolve(init: str | Path, *, allow_unfinished: bool = False, inspect: bool = True) -> Init:
    """The `Init` of `init` (see the module docstring), checked before any work: a path that does not exist or
    holds no weights raises MissingInput, an unreadable file CheckpointError, and a synvid run without DONE
    BadInput naming it unless `allow_unfinished`.
    `inspect=False` (the tables reading what runs recorded): weights are never opened and need not exist any more
    (a pruned checkpoint of a kept run); kinds then follow the names, step and hash the run's JSON files."""
    if str(init) == "scratch":
        return Init("scratch")
    path = Path(init)
    if inspect and not path.exists():
        raise MissingInput(f"--init not found: {path} (give {ACCEPTED})")
    if path.is_dir():
        if is_run(path):
            return _synvid_run(path, path / LAST, allow_unfinished, inspect)
        if is_hf_folder(path):
            found = [path / name for name in HF_WEIGHTS if (path / name).is_file()]
            if not found:
                raise MissingInput(f"{path}: a HuggingFace folder without {' or '.join(HF_WEIGHTS)}")
            return _file(found[0], inspect)
        raise BadInput(f"{path} is neither a synvid run directory (a config.json written by synvid and {LAST}) nor "
                       f"a HuggingFace VideoMAE folder (config.json with model_type, {' or '.join(HF_WEIGHTS)})")
    if is_run(path.parent):
        return _synvid_run(path.parent, path, allow_unfinished, inspect)
    return _file(path, inspect)


def _synvid_run(run: Path, weights: Path, allow_unfinished: bool, inspect: bool) -> Init:
    finished = (run / "DONE").is_file()
    if not finished and not allow_unfinished:
        raise BadInput(f"{run} has no DONE: its run is unfinished (rerun its command to finish it, or give "
                       f"--allow-unfinished to use {weights} as it is)")
    if inspect and not weights.is_file():
        raise MissingInput(f"{run} holds no {weights.name}: it is a synvid run directory without weights")
    done, config = _json(run / "DONE"), _json(run / "config.json")
    # DONE's `steps` are those of the final last.pth; any other checkpoint says its own step
    step = done.get("steps") if finished and weights.name == LAST else None
    if step is None and inspect:
        step = load_checkpoint(weights).get("step")
    return Init("synvid", weights, run, objective_of(done, config), step,
                done.get("config_hash") or config.get("config_hash"), finished)


def _file(path: Path, inspect: bool) -> Init:
    """A weights file outside any synvid run, classified by its contents (by its name without `inspect`)."""
    if not inspect:
        kind = "hf" if path.suffix == ".safetensors" or path.name in HF_WEIGHTS else "official"
        return Init(kind, path, objective=DEFAULT_OBJECTIVE)
    obj = load_checkpoint(path)
    if obj.get("format") == FORMAT:        # saved by synvid.checkpoint.save_checkpoint, moved out of its run
        return Init("synvid", path, objective=objective_of({}, obj.get("config") or {}), step=obj.get("step"),
                    hash=file_sha256(path))
    if is_vjepa(obj):
        return Init("official", path, objective="vjepa", hash=file_sha256(path))
    kind = "hf" if is_hf(state_dict_of(obj, path)) else "official"
    return Init(kind, path, objective=DEFAULT_OBJECTIVE, hash=file_sha256(path))
