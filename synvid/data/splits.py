"""Official split files of UCF101, HMDB51 and Kinetics-400 (PROTOCOLS.md §1.1-1.3).

Every parser returns `(items, classes)`: items are `(absolute video path, 0-based label)` and classes the
class names in label order. Class counts therefore always come from the data itself.
"""
from __future__ import annotations

import csv
from pathlib import Path

from synvid.data.lists import read_list
from synvid.errors import BadInput, MissingInput


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise MissingInput(f"split file not found: {path}")
    # splitlines() also strips the CRLF endings of the distributed UCF101 lists (PROTOCOLS §1.1)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def ucf101_classes(split_dir: str | Path) -> list[str]:
    """`classInd.txt`: "<idx> <ClassName>" with idx 1..101 -> names in label order."""
    path = Path(split_dir) / "classInd.txt"
    entries = []
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split()
        if len(fields) != 2 or not fields[0].isdigit():
            raise BadInput(f"{path}:{number}: expected '<index> <ClassName>', got {line!r}")
        entries.append((int(fields[0]), fields[1]))
    if sorted(i for i, _ in entries) != list(range(1, len(entries) + 1)):
        raise BadInput(f"{path}: class indices are not 1..{len(entries)}")
    return [name for _, name in sorted(entries)]


def ucf101(root: str | Path, split: int = 1, subset: str = "train", split_dir: str | Path | None = None):
    """UCF101 `trainlist0k.txt` / `testlist0k.txt` under `<root>/ucfTrainTestlist`, videos under `<root>/UCF-101`.

    The label comes from the *folder* through classInd (the test list has no label, and HandstandPushups
    files are named `v_HandStandPushups_...`); a 1-based label in a train line is checked against it.
    """
    root = Path(root)
    split_dir = Path(split_dir) if split_dir is not None else root / "ucfTrainTestlist"
    classes = ucf101_classes(split_dir)
    index = {name: i for i, name in enumerate(classes)}
    path = split_dir / f"{'train' if subset == 'train' else 'test'}list0{split}.txt"
    items = []
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split()
        folder = fields[0].replace("\\", "/").split("/")[0]
        if folder not in index:
            raise BadInput(f"{path}:{number}: class folder {folder!r} is not in classInd.txt")
        label = index[folder]
        if len(fields) > 1 and int(fields[1]) - 1 != label:  # trainlist labels are 1-based
            raise BadInput(f"{path}:{number}: label {fields[1]} disagrees with classInd for {folder!r}")
        items.append((str(root / "UCF-101" / fields[0]), label))
    return items, classes


HMDB_FLAGS = {"train": "1", "test": "2"}  # 0 = unused in this split (PROTOCOLS §1.2)


def hmdb51(root: str | Path, split: int = 1, subset: str = "train", split_dir: str | Path | None = None):
    """HMDB51 `<class>_test_split<k>.txt` files ("<video>.avi <flag>"); classes = sorted names, 0-based."""
    root = Path(root)
    split_dir = Path(split_dir) if split_dir is not None else root / "testTrainMulti_7030_splits"
    suffix = f"_test_split{split}.txt"
    files = sorted(split_dir.glob(f"*{suffix}"))
    if not files:
        raise MissingInput(f"no '*{suffix}' files in {split_dir}")
    classes = [f.name[:-len(suffix)] for f in files]
    items = []
    for label, (name, path) in enumerate(zip(classes, files)):
        for number, line in enumerate(_lines(path), start=1):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in "012":
                raise BadInput(f"{path}:{number}: expected '<video>.avi <0|1|2>', got {line!r}")
            if fields[1] == HMDB_FLAGS[subset]:
                items.append((str(root / name / fields[0]), label))
    return items, classes


def kinetics400(root: str | Path, split: int = 1, subset: str = "train", annotations: str | Path | None = None):
    """K400 annotation CSV (`label,youtube_id,time_start,time_end,...`); clips at
    `<root>/<split dir>/<label>/<id>_<start:06d>_<end:06d>.mp4`. The test set is the validation CSV (§1.3).
    Classes: sorted label names of the training CSV (the HF/official head order)."""
    root = Path(root)
    ann = Path(annotations) if annotations is not None else root / "annotations"
    folder = {"train": "train", "test": "val"}[subset]
    csv_name = {"train": ["train.csv"], "test": ["validate.csv", "val.csv"]}[subset]
    path = next((ann / n for n in csv_name if (ann / n).is_file()), ann / csv_name[0])
    classes = sorted({r["label"] for r in annotation_rows(ann / "train.csv")})
    index = {name: i for i, name in enumerate(classes)}
    items = []
    for row in annotation_rows(path):
        if row["label"] not in index:
            raise BadInput(f"{path}: label {row['label']!r} is not in the training CSV")
        items.append((str(root / folder / row["label"] / kinetics_clip_name(row)), index[row["label"]]))
    return items, classes


def kinetics_clip_name(row: dict) -> str:
    """The file name of an annotation row's clip: `<youtube_id>_<start:06d>_<end:06d>.mp4` (the CVDF shards')."""
    return f"{row['youtube_id']}_{int(row['time_start']):06d}_{int(row['time_end']):06d}.mp4"


def annotation_rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise MissingInput(f"annotation CSV not found: {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "label" not in rows[0]:
        raise BadInput(f"{path}: expected a header with 'label,youtube_id,time_start,time_end'")
    return rows


def video_list(root: str | Path, split: int = 1, subset: str = "train"):
    """Official VideoMAE list files `<root>/train.csv` and `<root>/test.csv` ("<path> <label>", PROTOCOLS §1.4).
    The class count is max label + 1 over both lists; names are the label numbers."""
    root = Path(root)
    items = read_list(root / f"{subset}.csv")
    labels = {label for _, label in items} | {label for _, label in read_list(root / "train.csv")}
    return items, [str(i) for i in range(max(labels) + 1)]
