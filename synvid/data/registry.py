"""Labelled video datasets for fine-tuning and probing: one record per dataset (PROTOCOLS.md §1, §2.3-2.4, Q15).

The number of classes is never stored here: it always comes from the split files (`load(...)[1]`). A dataset's
recipe (its hyper-parameter changes, e.g. K400's) is a settings override set beside the profiles
(synvid/profiles.py RECIPES), applied by config.resolve.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from synvid.data import splits
from synvid.data.lists import write_list
from synvid.errors import BadInput, MissingInput


@dataclass(frozen=True)
class DatasetRecord:
    parser: Callable            # (root, split, subset) -> (items, classes)
    test_clips: int             # temporal segments of the multi-view test
    layout: str = ""            # what --data-root must contain
    partial_ok: bool = False    # a local copy may lack listed clips (K400's YouTube takedowns): drop, report them


DATASETS: dict[str, DatasetRecord] = {
    "ucf101": DatasetRecord(splits.ucf101, test_clips=5,  # Table 6: 5 x 3 views
                            layout="UCF-101/<Class>/*.avi and ucfTrainTestlist/{classInd,trainlist0k,testlist0k}.txt"),
    "hmdb51": DatasetRecord(splits.hmdb51, test_clips=10,  # §9.3: 10 x 3 views
                            layout="<class>/*.avi and testTrainMulti_7030_splits/<class>_test_split<k>.txt"),
    # the paper's K400 "test" is the validation set (§1.3); its fine-tuning recipe: profiles.RECIPES["k400"] (Q15)
    "k400": DatasetRecord(splits.kinetics400, test_clips=5,
                          layout="annotations/{train,validate}.csv and {train,val}/<label>/<id>_<s>_<e>.mp4",
                          partial_ok=True),
    "list": DatasetRecord(splits.video_list, test_clips=5, layout="train.csv and test.csv (VideoMAE list files)"),
}
# The toy sets use the very same readers and layouts; "toy" marks them as never-paper numbers.
DATASETS["toy_ucf101"] = DatasetRecord(splits.ucf101, test_clips=5, layout=DATASETS["ucf101"].layout)
DATASETS["toy_hmdb51"] = DatasetRecord(splits.hmdb51, test_clips=10, layout=DATASETS["hmdb51"].layout)
# the miniature's action set (profile cpu; synvid.data.toy.make_toy_actions), read as UCF101 is
DATASETS["toy_actions"] = DatasetRecord(splits.ucf101, test_clips=5, layout=DATASETS["ucf101"].layout)


MAX_MISSING = 0.2   # a partial copy missing more than this fraction is more likely a wrong --data-root


def get(name: str) -> DatasetRecord:
    if name not in DATASETS:
        raise BadInput(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


@dataclass
class Split:
    """A parsed split: the items to use, the class names, how many videos the split file lists and the listed
    ones absent from the disk (left out only under the rules of `load_split`)."""
    items: list
    classes: list
    listed: int
    missing: list


def load_split(name: str, root: str | Path, subset: str, split: int = 1, allow_missing: bool = False) -> Split:
    """Parse the split files and check the data before any training (STYLE rule 10): the root exists, every
    listed video exists, and every class has at least one video. Missing videos stop the run, naming them,
    unless `allow_missing` or the dataset's partial-copy rule (K400: up to MAX_MISSING) allows them; then they
    are left out and returned in `missing` (recorded by the run)."""
    record = get(name)
    root = Path(root)
    if not root.is_dir():
        raise MissingInput(f"--data-root {root} does not exist (expected for {name}: {record.layout})")
    items, classes = record.parser(root, split=split, subset=subset)
    if not items:
        raise BadInput(f"{name} split {split} {subset}: no videos listed under {root}")
    missing = [p for p, _ in items if not Path(p).is_file()]
    partial = record.partial_ok and len(missing) <= MAX_MISSING * len(items)
    if missing and not (allow_missing or partial):
        shown = "\n  ".join(missing[:10])
        raise MissingInput(f"{name} {subset}: {len(missing)} of {len(items)} listed videos are missing, e.g.\n"
                           f"  {shown}\n(--allow-missing evaluates without them and records their names)")
    if missing:
        print(f"warning: {name} {subset}: {len(missing)} of {len(items)} listed videos are not under {root} and are "
              f"left out (recorded as {subset}_missing), e.g. {missing[0]}")
    present = [it for it in items if Path(it[0]).is_file()]
    if subset == "train":
        empty = sorted(set(range(len(classes))) - {label for _, label in present})
        if empty:
            raise BadInput(f"{name} train split has {len(classes)} classes but no video for "
                           f"{[classes[i] for i in empty[:10]]}")
    return Split(present, classes, len(items), missing)


def load(name: str, root: str | Path, subset: str, split: int = 1) -> tuple[list[tuple[str, int]], list[str]]:
    """(items, class names) of `load_split` (strict except the dataset's partial-copy rule)."""
    parsed = load_split(name, root, subset, split)
    return parsed.items, parsed.classes


def add_run_arguments(parser) -> None:
    """The data/init/output flags shared by finetune/4_1_finetune.py and linprobe/4_3_linprobe.py."""
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="labelled dataset")
    parser.add_argument("--data-root", required=True, help="dataset tree (layouts: docs/finetuning.md)")
    parser.add_argument("--init", required=True, help="'scratch', a synvid run directory or checkpoint, an official "
                        "VideoMAE / V-JEPA file, or a HuggingFace VideoMAE folder or weights file (synvid.inits; "
                        "docs/finetuning.md)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--allow-unfinished", action="store_true",
                        help="accept an --init synvid run that has no DONE (recorded in DONE's upstream)")
    parser.add_argument("--pretrain-name", default=None,
                        help="reported.csv key of --init's pre-training when no synvid run made it (the official "
                             "VideoMAE checkpoints: ucf101, k400); recorded as pretrain_dataset")


def run_extra(args, overrides: dict) -> dict:
    """What a fine-tune / probe run records besides its config: the profile, an explicit pre-training name and the
    settings the command line changed from the profile and dataset recipe (`overrides` of config.settings; {} =
    the profile's run)."""
    return {"profile": args.profile, "overrides": overrides,
            **({"pretrain_dataset": args.pretrain_name} if args.pretrain_name else {})}


def split_to_list(name: str, root, subset: str, split: int, out) -> Path:
    """data_gen/4_0_write_list.py: the checked split as an official list file (absolute paths)."""
    items, classes = load(name, root, subset, split)
    write_list(out, [(str(Path(path).resolve()), label) for path, label in items])
    print(f"wrote {len(items)} {name} {subset} videos ({len(classes)} classes) to {out}")
    return Path(out)
