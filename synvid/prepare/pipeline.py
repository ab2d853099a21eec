"""fetch -> unpack -> verify -> register, for one dataset or weight file (data_gen/0_prepare_data.py).

Every step can be re-run: a fetched file is checked against its hashes and recorded, an unpacked archive is marked
in `<root>/checksums.json` and skipped next time, a download resumes from its `.partial` file. A corrupt archive
stops the run with its name and is removed (with its record) so that the next run fetches it again; nothing is
registered unless the tree passes `verify`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from synvid.errors import BadInput, MissingInput
from synvid.prepare import plan, register, sources, unpack, verify
from synvid.prepare.checksums import Checksums
from synvid.prepare.download import download
from synvid.runs import remove_partials


@dataclass
class Options:
    mirror: str | None = None           # --mirror BASE
    url: str | None = None              # --url URL
    sha256: str | None = None           # --sha256 HEX (of the --url file, or of a single --from-archive file)
    from_archive: list = field(default_factory=list)
    subset: str = "all"                 # K400: train | val | all
    keep_archives: bool = False
    expect: str = "published"           # verify.expectations
    sample: int = 8                     # videos (images) decoded in full
    workers: int = 4
    progress: bool = True
    paths_file: Path | None = None      # None: verify only, register nothing


def _fetch(item: plan.Item, store: Checksums, progress: bool) -> Path:
    """The checked file of `item`: its local copy, or a download (removed again if it fails a hash)."""
    if item.local is None and item.url is None:
        raise MissingInput(f"{item.archive.id} has no direct official link: pass --url URL or --from-archive PATH "
                           "(docs/data.md)")
    path = item.local or download(item.url, item.dest, progress)
    try:
        store.check(item.archive.id, path, item.expected, origin=str(item.local or item.url))
    except BadInput:
        if item.local is None:
            path.unlink()
        raise
    return path


def _unpack(item: plan.Item, path: Path, root: Path, store: Checksums, options: Options) -> None:
    try:
        result = unpack.unpack(path, root, item.archive.place, options.progress)
    except BadInput:
        store.forget(item.archive.id)           # a corrupt copy must not become the reference
        if item.local is None:
            path.unlink()
        raise
    # No fsync per file (see synvid.prepare.unpack): after a power loss the record may outlive a file, which the
    # verify step that follows every run (and --check) reports by name.
    store.mark_unpacked(item.archive.id)
    if item.local is None and not options.keep_archives:
        path.unlink()
    note = f", {len(result.unlisted)} not in the annotation CSV (left out)" if result.unlisted else ""
    print(f"unpacked {item.archive.id}: {len(result.written)} files written, {result.kept} already there{note}")


def fetch_and_unpack(source: sources.Source, root: Path, subsets: tuple, options: Options) -> None:
    store = Checksums(root)

    def fetch_list(url: str, dest: Path) -> Path:
        return dest if dest.is_file() else download(url, dest, options.progress)

    planned = plan.items(source, root, subsets, mirror=options.mirror, url=options.url, sha256=options.sha256,
                         local=options.from_archive, fetch=fetch_list)
    plan.check_space(planned, store, root, options.keep_archives, f"{source.name} ({'/'.join(subsets)})")
    for item in planned:
        if store.unpacked(item.archive.id) or (item.archive.place is None and store.get(item.archive.id)
                                               and item.dest.is_file()):
            continue
        path = _fetch(item, store, options.progress)
        if item.archive.place is None:
            if item.local is not None:
                with open(path, "rb") as stream:
                    unpack.write_member(stream, item.dest, path.stat().st_size, replace=True)
            print(f"fetched {item.archive.id}")
        else:
            _unpack(item, path, root, store, options)
    for folder in sorted((root / plan.ARCHIVES).glob("**/"), reverse=True):    # emptied by the unpacks above
        if not any(folder.iterdir()):
            folder.rmdir()


def result_path(source: sources.Source, root: Path) -> Path:
    """What gets registered: the dataset root, or a weight file itself."""
    return root / source.archives[0].id if source.kind == "weights" else root


def check(name: str, root: str | Path, options: Options) -> verify.Report:
    """`--check ROOT`: the verify report, printed; BadInput when the tree is not usable."""
    source = sources.get(name)
    subsets = plan.SUBSETS[options.subset] if source.shard_lists else ("train", "val")
    report = verify.verify(source, Path(root), options.expect, subsets, options.sample, options.workers,
                           options.progress, options.sha256)
    print(report.text())
    if not report.ok:
        raise BadInput(f"{name}: {root} is not usable by run_all.sh ({len(report.problems)} problem(s) above)")
    return report


def prepare(name: str, root: str | Path, options: Options) -> Path:
    """Fetch, unpack, verify and register `name` under `root`; returns what was registered."""
    source = sources.get(name)
    if options.subset not in plan.SUBSETS:
        raise BadInput(f"--subset {options.subset}: choose from {', '.join(plan.SUBSETS)}")
    subsets = plan.SUBSETS[options.subset] if source.shard_lists else ("train", "val")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    remove_partials(root)                       # files a killed unpack left half-written
    shutil.rmtree(root / unpack.STAGING, ignore_errors=True)
    fetch_and_unpack(source, root, subsets, options)
    check(name, root, options)
    target = result_path(source, root)
    if options.paths_file is None:
        return target
    if source.shard_lists and subsets != plan.SUBSETS["all"]:
        print(f"not registered: {source.variable} needs both K400 splits (--subset all)")
        return target
    written = register.register(options.paths_file, source.variable, target)
    print(f"registered {source.variable}={target} in {written}")
    return target
