"""fetch -> unpack -> verify -> register against a real HTTP server on 127.0.0.1 serving small copies of every
official download at its official path (tests/prepare_fixtures.py): UCF101 (RAR + zip), HMDB51 (a RAR of RARs),
Kinetics-400 (CVDF shard lists, tar.gz shards, replacements), ImageNet (a tar of tars, --from-archive) and both
weight files; a server that drops the connection mid-file, one that serves a corrupt archive; `--check` on
injected problems; and run_all.sh accepting the registered tree."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import prepare_fixtures as F
from synvid.data.registry import load
from synvid.errors import BadInput, MissingInput
from synvid.prepare import download, pipeline, register, sources, verify

ROOT = Path(__file__).resolve().parents[1]
UCF_RAR = "/datasets/human-actions/ucf101/UCF101.rar"
HMDB_SPLITS = "/wp-content/uploads/2013/10/test_train_splits.rar"
INCEPTION = F.url_path(sources.get("inception").archives[0].url)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """{URL path: bytes} of every downloadable fixture, and the ImageNet archive (built once for the module)."""
    work = tmp_path_factory.mktemp("official")
    files = {**F.ucf101_files(work), **F.hmdb51_files(work), **F.k400_files(work), **F.weight_files()}
    return files, F.imagenet_archive(work / "ILSVRC2012_img_train.tar")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.01)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def options(tmp_path, **kw) -> pipeline.Options:
    return pipeline.Options(expect="listed", progress=False, paths_file=tmp_path / "paths.env", **kw)


def test_ucf101_resumes_a_dropped_download_unpacks_verifies_and_registers(tmp_path, official):
    files, _ = official
    stale = tmp_path / "ucf101" / "UCF-101" / "Skiing" / ".v_Skiing_g01_c01.avi.partial"    # a killed run's
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    with F.Server(files, drop={UCF_RAR}) as server:
        root = pipeline.prepare("ucf101", tmp_path / "ucf101", options(tmp_path, mirror=server.base))
        assert not stale.exists() and not (root / "archives").exists()
        assert [r for p, r in server.requests if p == UCF_RAR] == [None, f"bytes={len(files[UCF_RAR]) // 2}-"]
        record = json.loads((root / "checksums.json").read_text())["UCF101.rar"]
        assert record["sha256"] == sha(files[UCF_RAR]) and record["unpacked"]
        served = len(server.requests)
        pipeline.prepare("ucf101", root, options(tmp_path, mirror=server.base))      # again: nothing to fetch
        assert len(server.requests) == served
    assert register.read(tmp_path / "paths.env") == {"UCF101_ROOT": str(root)}
    items, classes = load("ucf101", root, "train")
    assert classes == ["MoveLeft", "MoveRight"] and len(items) == 8 and not (root / "archives" / "UCF101.rar").exists()
    assert b"\r\n" in (root / "ucfTrainTestlist" / "testlist01.txt").read_bytes()   # CRLF, as distributed


def test_check_names_every_injected_problem(tmp_path, official):
    files, _ = official
    with F.Server(files) as server:
        ucf = pipeline.prepare("ucf101", tmp_path / "ucf101", options(tmp_path, mirror=server.base))
        hmdb = pipeline.prepare("hmdb51", tmp_path / "hmdb51", options(
            tmp_path, mirror=server.base, url=server.base + HMDB_SPLITS, sha256=sha(files[HMDB_SPLITS])))
        i3d = pipeline.prepare("i3d", tmp_path / "weights", options(tmp_path, mirror=server.base))
    videos = sorted((ucf / "UCF-101").rglob("*.avi"))
    videos[0].unlink()                                                     # a missing video
    videos[1].write_bytes(videos[1].read_bytes()[:2000])                   # a truncated one
    (ucf / "ucfTrainTestlist" / "testlist02.txt").unlink()                 # a missing split file
    (hmdb / "testTrainMulti_7030_splits" / "moveleft_test_split3.txt").unlink()
    i3d.write_bytes(i3d.read_bytes()[:-1] + b"\x00")                       # a wrong hash
    report = verify.verify(sources.get("ucf101"), ucf, expect="listed", progress=False)
    text = report.text(limit=None)
    assert f"{videos[0]}: listed in the split files, missing on disk" in text
    assert f"{videos[1]}: truncated: its RIFF header declares" in text
    assert f"split file not found: {ucf / 'ucfTrainTestlist' / 'testlist02.txt'}" in text
    assert not report.ok and (ucf / "check_report.txt").read_text().count("PROBLEM") == len(report.problems)
    hmdb_report = verify.verify(sources.get("hmdb51"), hmdb, expect="listed", progress=False)
    assert [p for p in hmdb_report.problems if "moveleft_test_split3.txt: split file missing" in p]
    weights = verify.verify(sources.get("i3d"), i3d, progress=False)
    assert weights.problems == [f"{i3d}: wrong hash: sha256 differs from the one recorded at its download "
                                f"({sha(files[F.url_path(sources.get('i3d').archives[0].url)])}, "
                                f"{i3d.parent / 'checksums.json'})"]
    with pytest.raises(BadInput, match="not usable by run_all.sh"):
        pipeline.check("ucf101", ucf, options(tmp_path))


def test_published_counts_are_the_default_and_explicit_counts_can_be_given(tmp_path, official):
    files, _ = official
    with F.Server(files) as server:
        root = pipeline.prepare("ucf101", tmp_path / "ucf101", options(tmp_path, mirror=server.base))
    published = verify.verify(sources.get("ucf101"), root, progress=False)
    assert "videos: 12 where 13,320 are expected" in published.problems
    assert "split1_train: 8 where 9,537 are expected" in published.problems
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"videos": 12, "classes": 2, "split1_train": 8, "split1_test": 4}))
    assert verify.verify(sources.get("ucf101"), root, expect=str(counts), progress=False).ok
    counts.write_text(json.dumps({"videos": 13}))
    assert verify.verify(sources.get("ucf101"), root, expect=str(counts), progress=False).problems == [
        "videos: 12 where 13 are expected"]


def test_a_corrupt_archive_stops_with_its_name_and_registers_nothing(tmp_path, official):
    files, _ = official
    with F.Server({**files, UCF_RAR: F.corrupt(files[UCF_RAR])}) as server:
        with pytest.raises(BadInput, match=r"UCF101\.rar: corrupt or truncated archive"):
            pipeline.prepare("ucf101", tmp_path / "ucf101", options(tmp_path, mirror=server.base))
    assert not (tmp_path / "paths.env").exists()
    assert "UCF101.rar" not in json.loads((tmp_path / "ucf101" / "checksums.json").read_text())
    assert not (tmp_path / "ucf101" / "archives" / "UCF101.rar").exists()
    assert not list((tmp_path / "ucf101").rglob("*.partial*"))


def test_hmdb51_rar_of_rars_and_a_hash_given_for_another_copy(tmp_path, official):
    files, _ = official
    with F.Server(files) as server:
        with pytest.raises(BadInput, match="does not match 15e67781"):      # the published md5 of the splits
            pipeline.prepare("hmdb51", tmp_path / "hmdb51", options(tmp_path, mirror=server.base))
        assert not (tmp_path / "paths.env").exists()
        root = pipeline.prepare("hmdb51", tmp_path / "hmdb51", options(
            tmp_path, mirror=server.base, url=server.base + HMDB_SPLITS, sha256=sha(files[HMDB_SPLITS])))
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.avi"))[0] == \
        "moveleft/toy_moveleft_clip_00_u_nm_np1_fr_goo_0.avi"
    assert len(list((root / "testTrainMulti_7030_splits").glob("*.txt"))) == 6
    assert register.read(tmp_path / "paths.env")["HMDB51_ROOT"] == str(root)


def test_k400_shards_are_refiled_by_label_with_replacements_and_missing_clips_listed(tmp_path, official):
    files, _ = official
    with F.Server(files) as server:
        root = pipeline.prepare("k400", tmp_path / "k400", options(tmp_path, mirror=server.base, subset="val"))
        assert not (tmp_path / "paths.env").exists()                       # one split is not a usable K400
        pipeline.prepare("k400", root, options(tmp_path, mirror=server.base))
    report = verify.verify(sources.get("k400"), root, expect="listed", progress=False)
    assert report.ok and report.figures == {"classes": 2, "train_listed": 6, "train_present": 5, "val_listed": 2,
                                            "val_present": 2}
    assert len((root / "missing_train.txt").read_text().splitlines()) == 1
    replaced = next((root / "train" / "abseiling").glob("*_000010_000020.mp4"))
    tgz = files[F.url_path(f"{sources.CVDF}/replacement_for_corrupted_k400.tgz")]
    assert replaced.read_bytes() in F.tar_contents(tgz)                      # the replacement, not the corrupt copy
    assert (root / "train" / "air drumming").is_dir()
    assert register.read(tmp_path / "paths.env")["K400_ROOT"] == str(root)


def test_imagenet_from_the_train_archive_and_weights_with_given_hashes(tmp_path, official):
    files, archive = official
    root = pipeline.prepare("imagenet", tmp_path / "imagenet", options(
        tmp_path, from_archive=[archive], sha256=sha(archive.read_bytes())))
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["n01440764", "n01443537"]
    assert len(list(root.glob("n*/*.JPEG"))) == 6 and archive.exists()     # a given archive is never removed
    with F.Server(files) as server:
        with pytest.raises(BadInput, match="does not match"):
            pipeline.prepare("inception", tmp_path / "weights", options(
                tmp_path, url=server.base + INCEPTION, sha256="0" * 64))
        assert not (tmp_path / "weights" / "pt_inception-2015-12-05-6726825d.pth").exists()
        path = pipeline.prepare("inception", tmp_path / "weights", options(
            tmp_path, url=server.base + INCEPTION, sha256=sha(files[INCEPTION])))
        with pytest.raises(MissingInput, match="no direct official link"):
            pipeline.prepare("videomae_k400", tmp_path / "weights", options(tmp_path))
    assert path.read_bytes() == files[INCEPTION]
    assert register.read(tmp_path / "paths.env") == {"IMAGENET_ROOT": str(root), "INCEPTION_WEIGHTS": str(path)}
    assert not verify.verify(sources.get("inception"), path, progress=False).ok     # not the published 6726825d


def run(*args, env=None, **kw):
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, **kw)


def test_k400_from_the_cvdf_downloader_folders_needs_no_network(tmp_path, official):
    """`k400_downloader.sh` leaves k400_targz/{train,val,replacement}/ and k400/annotations/: given as
    --from-archive, they are read in place (no shard list, no server) and never removed."""
    files, _ = official
    base = F.url_path(sources.CVDF)
    for path, data in files.items():
        if path.startswith(base) and path.endswith((".tar.gz", ".tgz")):
            folder = "replacement" if path.endswith(".tgz") else path[len(base) + 1:].split("/")[0]
            (tmp_path / "k400_targz" / folder).mkdir(parents=True, exist_ok=True)
            (tmp_path / "k400_targz" / folder / Path(path).name).write_bytes(data)
        elif path.startswith(f"{base}/annotations/"):
            (tmp_path / "k400" / "annotations").mkdir(parents=True, exist_ok=True)
            (tmp_path / "k400" / "annotations" / Path(path).name).write_bytes(data)
    root = pipeline.prepare("k400", tmp_path / "k400_root", options(
        tmp_path, from_archive=[tmp_path / "k400_targz", tmp_path / "k400"], mirror="http://127.0.0.1:9"))
    assert verify.verify(sources.get("k400"), root, expect="listed", progress=False).figures["train_present"] == 5
    assert len(list((tmp_path / "k400_targz").rglob("*.tar.gz"))) == 4


@pytest.mark.slow
def test_the_command_line_prepares_everything_run_all_needs(tmp_path, official):
    """The script, its exit statuses and run_all.sh: missing inputs name the prepare command; once prepared and
    registered (SYNVID_PATHS), `run_all.sh --profile mini --dry-run` accepts the trees without exported variables."""
    files, archive = official
    env = {**os.environ, "SYNVID_PATHS": str(tmp_path / "paths.env")}
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SYNVID_PATHS": str(tmp_path / "paths.env")}
    refused = run("bash", "run_all.sh", "--profile", "mini", "--dry-run", env=bare)
    assert refused.returncode == 2
    assert "prepare: python data_gen/0_prepare_data.py --dataset ucf101 --root data/ucf101" in refused.stderr
    assert "--dataset imagenet --root data/imagenet --from-archive ILSVRC2012_img_train.tar" in refused.stderr
    script = [sys.executable, "data_gen/0_prepare_data.py", "--no-progress", "--expect", "listed"]
    with F.Server(files) as server:
        for command in (["--dataset", "ucf101", "--root", tmp_path / "ucf101", "--mirror", server.base],
                        ["--dataset", "inception", "--root", tmp_path / "weights", "--url", server.base + INCEPTION,
                         "--sha256", sha(files[INCEPTION])]):
            done = run(*script, *map(str, command), env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        # the rest in this process (each process pays torch's start-up, through synvid.cli)
        given = options(tmp_path, mirror=server.base, url=server.base + HMDB_SPLITS, sha256=sha(files[HMDB_SPLITS]))
        pipeline.prepare("hmdb51", tmp_path / "hmdb51", given)
        pipeline.prepare("i3d", tmp_path / "weights", options(tmp_path, mirror=server.base))
    pipeline.prepare("imagenet", tmp_path / "imagenet", options(tmp_path, from_archive=[archive],
                                                                sha256=sha(archive.read_bytes())))
    checked = run(*script, "--dataset", "ucf101", "--check", str(tmp_path / "ucf101"), env=env)
    assert checked.returncode == 0 and "ucf101 under" in checked.stdout and ": usable" in checked.stdout
    shutil.copy(tmp_path / "ucf101" / "UCF-101" / "MoveLeft" / "v_MoveLeft_g01_c01.avi", tmp_path / "kept.avi")
    (tmp_path / "ucf101" / "UCF-101" / "MoveLeft" / "v_MoveLeft_g01_c01.avi").unlink()
    failed = run(*script, "--dataset", "ucf101", "--check", str(tmp_path / "ucf101"), env=env)
    assert failed.returncode == 1 and failed.stderr.strip().splitlines()[-1].startswith("error: ucf101:")
    assert "v_MoveLeft_g01_c01.avi: listed in the split files, missing on disk" in failed.stdout
    shutil.copy(tmp_path / "kept.avi", tmp_path / "ucf101" / "UCF-101" / "MoveLeft" / "v_MoveLeft_g01_c01.avi")
    accepted = run("bash", "run_all.sh", "--profile", "mini", "--dry-run", env=bare)
    assert accepted.returncode == 0, accepted.stderr
    assert "from " + str(tmp_path / "paths.env") in accepted.stderr and f"--data-root {tmp_path / 'ucf101'}" \
        in accepted.stdout
