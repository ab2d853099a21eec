"""Is a prepared tree usable? Counts against the published figures, the split files parsed by the very readers
training uses, every listed video present, a cheap check of every file, a full decode of a sample, and the hashes
of weight files. One report names every problem; `Report.ok` is the exit status of `--check`.

What counts are enforced is a parameter (`expect`): "published" (the default: sources.Source.counts), "listed"
(only what the split files themselves list, for small or partial copies such as test fixtures; the published
figures are then reported beside, not enforced) or a JSON file of figures.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from synvid.data import splits
from synvid.data.registry import MAX_MISSING
from synvid.errors import BadInput, SynvidError
from synvid.prepare import containers
from synvid.prepare.checksums import Checksums, file_hashes, matches
from synvid.prepare.sources import Hash, Source
from synvid.runs import atomic_write_text

SHOWN = 50                      # problems printed; the saved report has them all
REPORT = "check_report.txt"


@dataclass
class Report:
    name: str
    root: Path
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self, limit: int | None = SHOWN) -> str:
        lines = [f"{self.name} under {self.root}: " + ("usable" if self.ok else f"{len(self.problems)} problem(s)")]
        lines += [f"  {key}: {value:,}" for key, value in self.figures.items()]
        lines += [f"  note: {note}" for note in self.notes]
        shown = self.problems if limit is None else self.problems[:limit]
        lines += [f"  PROBLEM {problem}" for problem in shown]
        if len(shown) < len(self.problems):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more (all in {self.root / REPORT})")
        return "\n".join(lines)

    def save(self) -> Path:
        return atomic_write_text(self.root / REPORT, self.text(limit=None) + "\n")


def expectations(source: Source, expect: str) -> dict:
    if expect == "published":
        return dict(source.counts)
    if expect == "listed":
        return {}
    path = Path(expect)
    if not path.is_file():
        raise BadInput(f"--expect takes 'published', 'listed' or a JSON file of figures; {expect} is none of them")
    return {key: int(value) for key, value in json.loads(path.read_text()).items()}


def compare(report: Report, source: Source, expected: dict) -> None:
    for key, want in expected.items():
        if report.figures.get(key) != want:
            report.problems.append(f"{key}: {report.figures.get(key, 'absent')} where {want:,} are expected")
    for key, published in source.counts.items():
        if key not in expected and report.figures.get(key) != published:
            report.notes.append(f"{key}: {report.figures.get(key, 'absent')}; published {published:,} "
                                "(not enforced here)")


def _split(report: Report, reader, root: Path, k: int, subset: str) -> list:
    try:
        items, classes = reader(root, split=k, subset=subset)
    except SynvidError as error:             # a missing or malformed split file
        report.problems.append(str(error))
        return []
    report.figures[f"split{k}_{subset}"] = len(items)
    return items


def _listed_present(report: Report, items: list) -> None:
    report.problems += [f"{path}: listed in the split files, missing on disk"
                        for path in sorted({p for p, _ in items}) if not Path(path).is_file()]


def _split_numbers(enforce_all: bool, present: dict) -> list[int]:
    """Splits 2 and 3 are checked when published counts are enforced or when their files are there."""
    return [k for k in (1, 2, 3) if k == 1 or enforce_all or present[k]]


def measure_ucf101(report: Report, root: Path, enforce_all: bool) -> list[Path]:
    lists = root / "ucfTrainTestlist"
    videos = sorted((root / "UCF-101").glob("*/*.avi"))
    report.figures["videos"] = len(videos)
    try:
        classes = splits.ucf101_classes(lists)
        report.figures["classes"] = len(classes)
        folders = {p.parent.name for p in videos}
        report.problems += [f"{root / 'UCF-101' / c}: class folder with videos, not in classInd.txt"
                            for c in sorted(folders - set(classes))]
    except SynvidError as error:
        report.problems.append(str(error))
        return videos
    present = {k: any((lists / f"{s}list0{k}.txt").is_file() for s in ("train", "test")) for k in (1, 2, 3)}
    for k in _split_numbers(enforce_all, present):
        for subset in ("train", "test"):
            _listed_present(report, _split(report, splits.ucf101, root, k, subset))
    return videos


def measure_hmdb51(report: Report, root: Path, enforce_all: bool) -> list[Path]:
    lists = root / "testTrainMulti_7030_splits"
    videos = sorted(p for p in root.glob("*/*.avi") if p.parent != lists)
    report.figures["videos"] = len(videos)
    report.figures["split_files"] = len(list(lists.glob("*_test_split*.txt")))
    per_split = {k: {p.name[:-len(f"_test_split{k}.txt")] for p in lists.glob(f"*_test_split{k}.txt")}
                 for k in (1, 2, 3)}
    report.figures["classes"] = len(per_split[1])
    for c in sorted({p.parent.name for p in videos} - per_split[1]):
        report.problems.append(f"{root / c}: class folder with videos but no {lists / (c + '_test_split1.txt')}")
    for k in _split_numbers(enforce_all, per_split):
        for c in sorted(per_split[1] - per_split[k]):
            report.problems.append(f"{lists / f'{c}_test_split{k}.txt'}: split file missing")
        for subset in ("train", "test"):
            _listed_present(report, _split(report, splits.hmdb51, root, k, subset))
    return videos


def measure_k400(report: Report, root: Path, subsets: tuple[str, ...]) -> list[Path]:
    """Per split: rows of the annotation CSV, clips present, the missing ones written to `missing_<split>.txt`;
    usable while the missing fraction stays under the registry's limit (YouTube takedowns, MAX_MISSING)."""
    present_all = []
    for folder in subsets:
        try:
            items, classes = splits.kinetics400(root, subset="train" if folder == "train" else "test")
        except SynvidError as error:
            report.problems.append(str(error))
            continue
        report.figures["classes"] = len(classes)
        present = [Path(p) for p, _ in items if Path(p).is_file()]
        missing = sorted(p for p, _ in items if not Path(p).is_file())
        report.figures[f"{folder}_listed"], report.figures[f"{folder}_present"] = len(items), len(present)
        listing = atomic_write_text(root / f"missing_{folder}.txt", "".join(f"{p}\n" for p in missing))
        message = f"{folder}: {len(missing):,} of {len(items):,} listed clips missing (listed in {listing})"
        if len(missing) > MAX_MISSING * len(items):
            report.problems.append(f"{message}: over the {MAX_MISSING:.0%} a partial copy may miss")
        elif missing:
            report.notes.append(f"{message}: under the {MAX_MISSING:.0%} limit, left out by the readers")
        present_all += present
    return present_all


def measure_imagenet(report: Report, root: Path) -> list[Path]:
    classes = sorted(d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"n\d{8}", d.name)) \
        if root.is_dir() else []
    images = [p for c in classes for p in sorted(c.iterdir()) if p.is_file() and not p.name.startswith(".")]
    report.figures.update(classes=len(classes), images=len(images))
    report.problems += [f"{c}: class folder without images" for c in classes if not any(c.iterdir())]
    return images


def verify_weights(source: Source, root: Path, sha256: str | None = None) -> Report:
    """The file exists and matches the hash given (--sha256), else the published one; and its first download's."""
    archive = source.archives[0]
    path = root if root.is_file() else root / archive.id
    report = Report(source.name, path.parent)
    if not path.is_file():
        report.problems.append(f"{path}: missing")
        return report
    expected = [Hash("sha256", sha256, "--sha256")] if sha256 else [h for h in (archive.published,) if h]
    hashes = {**file_hashes(path, sorted({"sha256", *(h.algorithm for h in expected)} - {"sha256-prefix"})),
              "size": path.stat().st_size}
    report.figures["bytes"] = hashes["size"]
    report.notes.append(f"sha256 {hashes['sha256']}")
    for want in expected:
        if not matches(hashes, want):
            report.problems.append(f"{path}: wrong hash: not {want.algorithm} {want.value} ({want.source})")
    first = Checksums(path.parent).get(archive.id)
    if first and first["sha256"] != hashes["sha256"]:
        report.problems.append(f"{path}: wrong hash: sha256 differs from the one recorded at its download "
                               f"({first['sha256']}, {path.parent / 'checksums.json'})")
    return report


def verify(source: Source, root: str | Path, expect: str = "published", subsets=("train", "val"), sample: int = 8,
           workers: int = 4, progress: bool = True, sha256: str | None = None) -> Report:
    """The report of `root` as a tree of `source` (see the module doc); also saved as `<root>/check_report.txt`."""
    root = Path(root)
    if source.kind == "weights":
        return verify_weights(source, root, sha256)
    report, expected = Report(source.name, root), expectations(source, expect)
    enforce_all = expect == "published"
    if source.name == "ucf101":
        files = measure_ucf101(report, root, enforce_all)
    elif source.name == "hmdb51":
        files = measure_hmdb51(report, root, enforce_all)
    elif source.name == "k400":
        files = measure_k400(report, root, tuple(subsets))
        expected = {k: v for k, v in expected.items() if k == "classes" or k.split("_")[0] in subsets}
    else:
        files = measure_imagenet(report, root)
    compare(report, source, expected)
    images = source.kind == "images"
    report.problems += containers.scan(files, containers.image_problem if images else containers.video_problem,
                                       workers, progress, what=f"check {source.name}")
    decode = containers.decode_image if images else containers.decode_video
    report.problems += containers.decode_sample(files, sample, decode)
    if root.is_dir():
        report.save()
    return report
