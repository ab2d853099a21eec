"""The parts of data preparation (synvid.prepare) on small inputs: RAR/zip/tar unpacking into the readers' layout,
the per-file container checks, resumable downloads against a local server, checksums, registration, planning."""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import rarfile

import prepare_fixtures as F
from synvid.errors import BadInput, MissingInput
from synvid.prepare import checksums, containers, download, plan, register, sources, unpack
from synvid.prepare.sources import Hash, Place
from synvid.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = [("UCF-101/Skiing/v_Skiing_g01_c01.avi", b"a" * 100), ("UCF-101/Skiing/v_Skiing_g01_c02.avi", b"b" * 7)]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.01)


def test_stored_rar_is_read_in_python_with_windows_names(tmp_path):
    """The test writer's archives are valid RAR 4 (rarfile reads them, checks each CRC) and land as the readers
    expect: keep=2 puts `<Class>/<file>` under UCF-101 whatever the archive's own top folder is."""
    path = tmp_path / "UCF101.rar"
    path.write_bytes(F.rar4([("UCF101/" + name, data) for name, data in MEMBERS]))
    with rarfile.RarFile(path) as archive:
        assert [i.filename for i in archive.infolist()] == ["UCF101/" + n for n, _ in MEMBERS]
        assert not unpack.needs_tool(archive.infolist())
        archive.testrar()
    result = unpack.unpack(path, tmp_path / "root", Place("UCF-101", keep=2), progress=False)
    assert (len(result.written), result.kept) == (2, 0)
    for name, data in MEMBERS:
        assert (tmp_path / "root" / name).read_bytes() == data
    assert unpack.unpack(path, tmp_path / "root", Place("UCF-101", keep=2), progress=False).kept == 2  # resumable
    assert not list((tmp_path / "root").rglob("*.partial*"))


def test_an_interrupted_member_leaves_no_file_under_its_name(tmp_path, monkeypatch):
    """Ctrl-C (or an error) mid-member removes the temporary file; a kill leaves `.<name>.partial`, which the next
    prepare sweeps (synvid.runs.remove_partials) before unpacking again."""
    def interrupted(source, out, length):
        out.write(source.read(10))
        raise KeyboardInterrupt
    monkeypatch.setattr(unpack.shutil, "copyfileobj", interrupted)
    path = tmp_path / "a.zip"
    path.write_bytes(F.zip_of(MEMBERS))
    with pytest.raises(KeyboardInterrupt):
        unpack.unpack(path, tmp_path / "root", Place("UCF-101", keep=2), progress=False)
    assert not [p for p in (tmp_path / "root").rglob("*") if p.is_file()]


def test_compressed_or_solid_rar_goes_through_the_system_extractor(tmp_path, monkeypatch):
    """Compressed members need unar (or unrar, 7z, bsdtar); CI installs unar (.ci/run). Forced here on a solid
    stored archive, which the extractor reads like any other."""
    if not any(shutil.which(name) for name, _ in unpack.EXTRACTORS):
        pytest.skip(f"no RAR extractor on this machine ({unpack.INSTALL_HINT}; .ci/run installs unar)")
    monkeypatch.setattr(unpack, "needs_tool", lambda infos: True)
    path = tmp_path / "hmdb51_org.rar"
    inner = [(f"{c}.rar", F.rar4([(f"{c}/{c}_{i}.avi", bytes([i]) * 50) for i in range(3)], solid=True))
             for c in ("brush_hair", "cartwheel")]
    path.write_bytes(F.rar4(inner))
    unpack.unpack(path, tmp_path / "root", Place(nested=True), progress=False)
    found = sorted(p.relative_to(tmp_path / "root").as_posix() for p in (tmp_path / "root").rglob("*.avi"))
    assert found == [f"{c}/{c}_{i}.avi" for c in ("brush_hair", "cartwheel") for i in range(3)]
    assert not (tmp_path / "root" / unpack.STAGING).exists()


def test_missing_extractor_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(unpack, "needs_tool", lambda infos: True)
    monkeypatch.setattr(unpack.shutil, "which", lambda name: None)
    path = tmp_path / "UCF101.rar"
    path.write_bytes(F.rar4(MEMBERS))
    with pytest.raises(MissingInput, match="apt-get install unar"):
        unpack.unpack(path, tmp_path / "root", Place(keep=3), progress=False)


@pytest.mark.parametrize("kind", ["rar", "zip", "tar.gz"])
def test_a_corrupt_archive_is_a_clear_error_and_leaves_no_partial_file(tmp_path, kind):
    data = {"rar": F.rar4, "zip": F.zip_of, "tar.gz": lambda m: F.tar_of(m, gz=True)}[kind](
        [("a/x.bin", bytes(range(256)) * 64)])
    path = tmp_path / f"archive.{kind}"
    path.write_bytes(F.corrupt(data))
    with pytest.raises(BadInput, match="corrupt or truncated archive"):
        unpack.unpack(path, tmp_path / "root", Place(), progress=False)
    assert not [p for p in (tmp_path / "root").rglob("*") if p.is_file()]


def test_members_outside_the_root_are_refused(tmp_path):
    path = tmp_path / "evil.zip"
    path.write_bytes(F.zip_of([("../escape.txt", b"x")]))
    with pytest.raises(BadInput, match="outside the dataset root"):
        unpack.unpack(path, tmp_path / "root", Place(keep=2), progress=False)
    with pytest.raises(BadInput, match="not a zip, tar or RAR"):
        (tmp_path / "plain.txt").write_text("hello")
        unpack.archive_kind(tmp_path / "plain.txt")


def test_k400_labels_route_flat_shard_files(tmp_path):
    csv = tmp_path / "annotations" / "train.csv"
    csv.parent.mkdir()
    csv.write_text('label,youtube_id,time_start,time_end,split\n"air drumming",abcdefghijk,5,15,train\n')
    index = unpack.LabelIndex(csv)
    assert str(index.route("abcdefghijk_000005_000015.mp4")) == "air drumming/abcdefghijk_000005_000015.mp4"
    assert str(index.route("abcdefghijk.mp4")) == "air drumming/abcdefghijk_000005_000015.mp4"   # by YouTube id
    assert index.route("zzzzzzzzzzz_000000_000010.mp4") is None


def test_container_checks_find_truncation_that_the_header_hides(tmp_path, tiny_videos):
    """A half AVI still reports its 8 frames (PyAV reads the header); its RIFF size gives it away."""
    for kind in ("avi", "mp4"):
        good = tiny_videos[kind]
        assert containers.video_problem(good) is None
        half = tmp_path / f"half.{kind}"
        half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        assert containers.video_problem(half) is not None
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    assert containers.video_problem(empty) == "empty file"
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x10junkjunkjunk" * 10)
    assert containers.video_problem(garbage)
    avi = tmp_path / "half.avi"
    assert "truncated: its RIFF header declares" in containers.video_problem(avi)
    assert containers.decode_video(avi) is None or "decode" in containers.decode_video(avi)


def test_download_resumes_after_a_dropped_connection(tmp_path):
    data = bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8))
    with F.Server({"/f.bin": data}, drop={"/f.bin"}) as server:
        out = download.download(server.base + "/f.bin", tmp_path / "f.bin", progress=False)
        ranges = [r for _, r in server.requests]
    assert out.read_bytes() == data and ranges[0] is None and ranges[1] == f"bytes={len(data) // 2}-"
    assert not (tmp_path / "f.bin.partial").exists()


def test_download_restarts_when_the_server_ignores_ranges(tmp_path):
    data = b"0123456789" * 1000
    (tmp_path / "f.bin.partial").write_bytes(b"garbage!")        # an earlier run's partial file
    with F.Server({"/f.bin": data}, ignore_range=True) as server:
        assert download.download(server.base + "/f.bin", tmp_path / "f.bin", progress=False).read_bytes() == data


def test_download_of_a_partial_file_that_is_already_whole_renames_it(tmp_path):
    """A run killed between the last byte and the rename: the server answers 416 (nothing after the end)."""
    data = b"x" * 5000
    (tmp_path / "f.bin.partial").write_bytes(data)
    with F.Server({"/f.bin": data}) as server:
        assert download.download(server.base + "/f.bin", tmp_path / "f.bin", progress=False).read_bytes() == data
        assert server.requests == [("/f.bin", "bytes=5000-")]


def test_download_stops_at_once_on_a_missing_file(tmp_path):
    with F.Server({}) as server:
        with pytest.raises(MissingInput, match="HTTP 404.*--mirror"):
            download.download(server.base + "/nothing.rar", tmp_path / "x", progress=False)
        assert len(server.requests) == 0 and download.remote_size(server.base + "/nothing.rar") is None


def test_mirror_keeps_the_path():
    url = sources.get("i3d").archives[0].url
    assert download.mirrored(url, "http://127.0.0.1:8/") == "http://127.0.0.1:8/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
    assert download.mirrored(url, None) == url


def test_checksums_record_the_first_download_and_refuse_a_different_copy(tmp_path):
    store = checksums.Checksums(tmp_path)
    path = tmp_path / "a.rar"
    path.write_bytes(b"first")
    store.check("a.rar", path, [], origin="http://x/a.rar")
    assert checksums.Checksums(tmp_path).get("a.rar")["sha256"] == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"other")
    with pytest.raises(BadInput, match="differs from the first download"):
        store.check("a.rar", path, [], origin="http://y/a.rar")
    with pytest.raises(BadInput, match="does not match"):
        store.check("b.rar", path, [Hash("md5", hashlib.md5(b"first").hexdigest(), "test")], origin="x")
    prefix = Hash("sha256-prefix", hashlib.sha256(b"other").hexdigest()[:8], "name")
    assert store.check("c.pth", path, [prefix], origin="x")["size"] == 5


def test_registration_file_keeps_other_entries_and_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = tmp_path / "data" / "paths.env"
    register.register(env, "UCF101_ROOT", "data/ucf101")
    register.register(env, "I3D_WEIGHTS", tmp_path / "w" / "i3d_torchscript.pt")
    register.register(env, "UCF101_ROOT", "elsewhere")
    assert register.read(env) == {"I3D_WEIGHTS": str(tmp_path / "w" / "i3d_torchscript.pt"),
                                  "UCF101_ROOT": str(tmp_path / "elsewhere")}


def test_plan_picks_the_url_file_by_name_and_the_given_hash(tmp_path):
    ucf = sources.get("ucf101")
    items = plan.items(ucf, tmp_path, ("train", "val"), mirror="http://m", url="http://other/x/UCF101.rar",
                       sha256="AB" * 32)
    assert [i.url for i in items] == ["http://other/x/UCF101.rar",
                                      "http://m/wp-content/uploads/2019/03/UCF101TrainTestSplits-RecognitionTask.zip"]
    assert items[0].expected == [Hash("sha256", "ab" * 32, "--sha256")] and items[1].expected == []
    with pytest.raises(BadInput, match="matches none"):
        plan.items(ucf, tmp_path, ("train",), url="http://other/data.rar")
    with pytest.raises(BadInput, match="--sha256 checks one file"):
        plan.items(ucf, tmp_path, ("train",), sha256="ab" * 32)
    with pytest.raises(BadInput, match="not one of ucf101's files"):
        (tmp_path / "other.zip").write_bytes(b"x")
        plan.items(ucf, tmp_path, ("train",), local=[tmp_path / "other.zip"])
    hmdb = plan.items(sources.get("hmdb51"), tmp_path, ("train", "val"))
    assert hmdb[1].expected == [sources.get("hmdb51").archives[1].published]


def test_space_check_stops_before_downloading(tmp_path, monkeypatch):
    item = plan.Item(sources.get("ucf101").archives[0], tmp_path / "archives" / "UCF101.rar", None, "http://x", [])
    monkeypatch.setattr(plan, "remote_size", lambda url: 6_000_000_000)
    monkeypatch.setattr(download.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**13, 10**13, 10**9))
    with pytest.raises(BadInput, match=r"needs about 12.0 GB free.*1.0 GB are free"):
        plan.check_space([item], checksums.Checksums(tmp_path), tmp_path, keep=False, what="ucf101")


def test_every_source_is_an_input_run_all_reads():
    """The registered variables are run_all.sh's inputs (synvid/run_all.py), and each has its prepare command."""
    from synvid import run_all
    inputs = {i.variable for i in (*run_all.REQUIRED_INPUTS, *run_all.OPTIONAL_INPUTS)}
    assert {s.variable for s in sources.SOURCES.values()} == inputs
    for source in sources.SOURCES.values():
        command = sources.prepare_command(source.variable)
        assert f"--dataset {source.name} --root data/" in command
    assert sources.prepare_command("IMAGENET_ROOT").endswith("--from-archive ILSVRC2012_img_train.tar")
    rows = sources.table()
    assert all(r["url"].startswith(("https://", "(")) for r in rows) and len(rows) == 14


def test_videos_written_by_the_fixtures_pass_the_cheap_check(tmp_path):
    path = write_video(tmp_path / "v.mp4", np.zeros((4, 32, 32, 3), np.uint8), fps=25)
    assert containers.scan([path], containers.video_problem, workers=2, progress=False) == []
    assert containers.decode_sample([path], 3, containers.decode_video) == []
