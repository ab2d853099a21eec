"""Where each real dataset and weight file comes from, and what its publishers say it holds: the one table of
official URLs, published hashes and published counts (docs/data.md shows the same table). Every entry names its
source; a figure nobody publishes is not invented: archives without a published hash get their sha256 recorded at
the first complete download (`<root>/checksums.json`) and are checked against it afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from synvid.errors import UnknownName


@dataclass(frozen=True)
class Hash:
    algorithm: str          # "md5", "sha256" or "sha256-prefix" (torch.hub's file-name convention)
    value: str
    source: str


@dataclass(frozen=True)
class Place:
    """Where the members of an unpacked archive land under the dataset root."""
    folder: str = ""        # under the root
    keep: int = 1           # trailing components of a member's path kept (1 = its base name)
    nested: bool = False    # members are archives `<class>.<ext>` whose files go to `<folder>/<class>/`
    labels: str = ""        # K400: an annotation CSV; files go to `<folder>/<label>/<name>` by that CSV
    replace: bool = False   # overwrite files already there (K400's replacements for corrupted videos)


@dataclass(frozen=True)
class Archive:
    """One file to fetch. `place` None: the file itself is the result (`<root>/<id>`: weights, annotation CSVs);
    otherwise it is saved as `<root>/archives/<id>` and unpacked by `place`."""
    id: str
    url: str | None         # None: no direct official link (--url or --from-archive)
    place: Place | None = None
    published: Hash | None = None
    split: str = ""         # K400: fetched only when --subset selects this split ("" = always)


@dataclass(frozen=True)
class Source:
    name: str
    kind: str               # "videos", "images" or "weights"
    variable: str           # what run_all.sh reads (synvid/run_all.py REQUIRED_INPUTS / OPTIONAL_INPUTS)
    archives: tuple[Archive, ...]
    counts: dict = field(default_factory=dict)      # published figures, checked by verify
    counts_source: str = ""
    url_source: str = ""
    shard_lists: dict = field(default_factory=dict)  # K400: split -> URL of the list of its shard URLs
    layout: str = ""


CRCV = "https://www.crcv.ucf.edu"
SERRE = "https://serre-lab.clps.brown.edu/wp-content/uploads/2013/10"
CVDF = "https://s3.amazonaws.com/kinetics/400"

SOURCES: dict[str, Source] = {s.name: s for s in (
    Source(
        "ucf101", "videos", "UCF101_ROOT",
        (Archive("UCF101.rar", f"{CRCV}/datasets/human-actions/ucf101/UCF101.rar", Place("UCF-101", keep=2)),
         Archive("UCF101TrainTestSplits-RecognitionTask.zip",
                 f"{CRCV}/wp-content/uploads/2019/03/UCF101TrainTestSplits-RecognitionTask.zip",
                 Place("ucfTrainTestlist"))),
        counts={"videos": 13320, "classes": 101, "split1_train": 9537, "split1_test": 3783,
                "split2_train": 9586, "split2_test": 3734, "split3_train": 9624, "split3_test": 3696},
        counts_source="CRCV UCF101 page (13,320 clips, 101 actions); line counts of the distributed "
                      "ucfTrainTestlist (a public copy: abosun/pytorch-action-master@33a77f3)",
        url_source="open-mmlab/mmaction2 tools/data/ucf101/download_{videos,annotations}.sh (the CRCV site)",
        layout="UCF-101/<Class>/v_<Class>_gXX_cYY.avi, ucfTrainTestlist/{classInd,trainlist0k,testlist0k}.txt"),
    Source(
        "hmdb51", "videos", "HMDB51_ROOT",
        # a RAR of 51 RARs, one per class (`brush_hair.rar` -> brush_hair/*.avi)
        (Archive("hmdb51_org.rar", f"{SERRE}/hmdb51_org.rar", Place(nested=True)),
         Archive("test_train_splits.rar", f"{SERRE}/test_train_splits.rar", Place("testTrainMulti_7030_splits"),
                 Hash("md5", "15e67781e70dcfbdce2d7dbb9b3344b5", "torchvision/datasets/hmdb51.py"))),
        counts={"videos": 6766, "classes": 51, "split_files": 153, **{
            f"split{k}_{subset}": n for k in (1, 2, 3) for subset, n in (("train", 3570), ("test", 1530))}},
        counts_source="GluonCV HMDB51 guide (6,766 clips, 51 classes); Kuehne et al. 2011 splits: 70 train / 30 "
                      "test clips per class and split (51 x 3 split files)",
        url_source="torchvision/datasets/hmdb51.py (the Serre lab site)",
        layout="<class>/<name>.avi, testTrainMulti_7030_splits/<class>_test_split<k>.txt"),
    Source(
        "k400", "videos", "K400_ROOT",
        (*(Archive(f"annotations/{split}.csv", f"{CVDF}/annotations/{split}.csv") for split in ("train", "val")),
         Archive("replacement/replacement_for_corrupted_k400.tgz", f"{CVDF}/replacement_for_corrupted_k400.tgz",
                 Place("train", labels="annotations/train.csv", replace=True), split="train")),
        shard_lists={split: f"{CVDF}/{split}/k400_{split}_path.txt" for split in ("train", "val")},
        counts={"classes": 400, "train_listed": 246534, "val_listed": 19906},
        counts_source="cvdfoundation/kinetics-dataset arrange_by_classes.py (CSV rows 246,534 / 19,906; videos "
                      "in the shards 240,258 / 19,881; 1,392 replacements)",
        url_source="cvdfoundation/kinetics-dataset README.md and k400_downloader.sh",
        layout="annotations/{train,val}.csv, {train,val}/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4"),
    Source(
        "imagenet", "images", "IMAGENET_ROOT",
        (Archive("ILSVRC2012_img_train.tar", None, Place(nested=True),
                 Hash("md5", "1d675b47d978889d74fa0da5fadfb00e", "torchvision/datasets/imagenet.py")),),
        counts={"classes": 1000, "images": 1281167},
        counts_source="ILSVRC2012 train set (Russakovsky et al. 2015)",
        url_source="not downloadable: image-net.org after registration (--from-archive)",
        layout="<wnid>/<image>.JPEG (ImageFolder)"),
    Source(
        "inception", "weights", "INCEPTION_WEIGHTS",
        (Archive("pt_inception-2015-12-05-6726825d.pth",
                 "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                 "pt_inception-2015-12-05-6726825d.pth",
                 # pytorch-fid itself checks nothing (load_state_dict_from_url without check_hash); the suffix is
                 # torch.hub's convention: the first hex digits of the file's sha256
                 published=Hash("sha256-prefix", "6726825d", "the file name (torch.hub convention)")),),
        url_source="pytorch_fid/inception.py FID_WEIGHTS_URL"),
    Source(
        "i3d", "weights", "I3D_WEIGHTS",
        (Archive("i3d_torchscript.pt", "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"),),
        url_source="universome/stylegan-v src/metrics/frechet_video_distance.py"),
    *(Source(f"videomae_{name}", "weights", f"VIDEOMAE_{name.upper()}_CKPT",
             (Archive(f"videomae_vit_base_{name}_pretrain.pth", None),),
             url_source="MCG-NJU/VideoMAE MODEL_ZOO.md (Google Drive / Baidu links: pass --url)")
      for name in ("ucf101", "k400")),
)}


def get(name: str) -> Source:
    if name not in SOURCES:
        raise UnknownName(f"unknown dataset or weight file {name!r}; choose from {', '.join(SOURCES)}")
    return SOURCES[name]


def prepare_command(variable: str) -> str:
    """The command that fetches, unpacks, verifies and registers what run_all.sh's `variable` names (its message for
    a missing input, synvid/run_all.py)."""
    source = next((s for s in SOURCES.values() if s.variable == variable), None)
    if source is None:
        raise UnknownName(f"no prepared input is registered as {variable}")
    name = source.name
    folder = "weights" if source.kind == "weights" else name
    extra = {"imagenet": " --from-archive ILSVRC2012_img_train.tar"}.get(name, "")
    if source.kind == "weights" and source.archives[0].url is None:
        extra = " --url URL"
    return f"python data_gen/0_prepare_data.py --dataset {name} --root data/{folder}{extra}"


def table() -> list[dict]:
    """The table above as rows (the --list output and docs/data.md)."""
    rows = []
    for source in SOURCES.values():
        for archive in source.archives:
            published = archive.published
            rows.append({"dataset": source.name, "file": archive.id, "url": archive.url or "(--url / --from-archive)",
                         "hash": f"{published.algorithm} {published.value} ({published.source})" if published
                         else "recorded at first download", "source": source.url_source})
        for split, url in source.shard_lists.items():
            rows.append({"dataset": source.name, "file": f"{split} shards", "url": url,
                         "hash": "recorded at first download", "source": source.url_source})
    return rows
