"""Split parsers, clip sampling and test views of the fine-tuning data (PROTOCOLS.md §1, §2.3-2.4)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from synvid.data import registry, splits
from synvid.data.sampling import clip_indices
from synvid.transforms import crop_offsets, three_crops
from synvid.video_io import write_video


def _ucf_tree(root, videos=True):
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n")
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
                                           "HandstandPushups/v_HandStandPushups_g08_c01.avi 2\r\n")
    (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n"
                                          "HandstandPushups/v_HandStandPushups_g01_c01.avi\r\n")
    if videos:
        clip = np.zeros((8, 16, 16, 3), np.uint8)
        for rel in ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "HandstandPushups/v_HandStandPushups_g08_c01.avi",
                    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"]:
            write_video(root / "UCF-101" / rel, clip, codec="mpeg4", crf=None)
    return root


def test_ucf101_split_parsing_quirks(tmp_path):
    root = _ucf_tree(tmp_path)
    train, classes = splits.ucf101(root, 1, "train")
    test, _ = splits.ucf101(root, 1, "test")
    assert classes == ["ApplyEyeMakeup", "HandstandPushups"]
    assert [label for _, label in train] == [0, 1]  # 1-based in the file, 0-based here
    assert test[1] == (str(root / "UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi"), 1)  # label from folder
    items, classes = registry.load("ucf101", root, "test")
    assert len(items) == 2 and len(classes) == 2


def test_ucf101_label_mismatch_and_missing_videos(tmp_path):
    root = _ucf_tree(tmp_path / "a", videos=False)
    with pytest.raises(FileNotFoundError, match="2 of 2 listed videos are missing"):
        registry.load("ucf101", root, "train")
    (root / "ucfTrainTestlist/trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 2\n")
    with pytest.raises(ValueError, match="disagrees with classInd"):
        splits.ucf101(root, 1, "train")


def test_hmdb51_flags(tmp_path):
    d = tmp_path / "testTrainMulti_7030_splits"
    d.mkdir()
    (d / "brush_hair_test_split1.txt").write_text("a.avi 1 \nb.avi 2 \nc.avi 0 \n")
    (d / "cartwheel_test_split1.txt").write_text("d.avi 2 \ne.avi 1 \n")
    train, classes = splits.hmdb51(tmp_path, 1, "train")
    test, _ = splits.hmdb51(tmp_path, 1, "test")
    assert classes == ["brush_hair", "cartwheel"]
    assert [(p.split("/")[-1], y) for p, y in train] == [("a.avi", 0), ("e.avi", 1)]
    assert [(p.split("/")[-1], y) for p, y in test] == [("b.avi", 0), ("d.avi", 1)]


def test_kinetics_csv(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    head = "label,youtube_id,time_start,time_end,split,is_cc\n"
    (ann / "train.csv").write_text(head + '"air drumming",abc,10,20,train,0\nabseiling,xyz,0,10,train,0\n')
    (ann / "validate.csv").write_text(head + "abseiling,qqq,5,15,val,0\n")
    test, classes = splits.kinetics400(tmp_path, subset="test")
    assert classes == ["abseiling", "air drumming"]
    assert test == [(str(tmp_path / "val/abseiling/qqq_000005_000015.mp4"), 0)]


def test_clip_indices_train_hand_worked():
    # N = 100, 16 x 4: window 64, end drawn in [64, 100); linspace(end-64, end, 16) clipped to end-1
    idx = clip_indices(100, mode="train", seed=0)
    start = idx[0]
    assert np.array_equal(idx, np.clip(np.linspace(start, start + 64, 16), start, start + 63).astype(int))
    assert np.array_equal(idx[:4] - start, [0, 4, 8, 12]) and idx[-1] - start == 63  # spacing ~4.27
    # short video N = 40: linspace(0, 40, 10) -> 0,4,8,13,17,22,26,31,35,40 -> clipped to 39, padded with 39
    assert clip_indices(40, mode="train").tolist() == [0, 4, 8, 13, 17, 22, 26, 31, 35, 39] + [39] * 6


def test_clip_indices_test_segments():
    seg = clip_indices(100, mode="test", num_segments=5)  # M = 25, starts int(k * 9 / 4) = 0, 2, 4, 6, 9
    assert seg.shape == (5, 16)
    assert (seg[:, 0] // 4).tolist() == [0, 2, 4, 6, 9]
    assert np.all(np.diff(seg, axis=1) == 4)
    short = clip_indices(30, mode="test", num_segments=2)  # M = 8 < 16: repeat the last, both segments equal
    assert short[0].tolist() == [0, 4, 8, 12, 16, 20, 24, 28] + [28] * 8 and np.array_equal(short[0], short[1])


def test_three_crop_positions():
    assert crop_offsets(298) == [0, 37, 74]
    clip = torch.arange(298, dtype=torch.int32).view(1, 1, 298, 1).expand(1, 224, 298, 3)
    crops = three_crops(clip, 224)
    assert [int(c[0, 0, 0, 0]) for c in crops] == [0, 37, 74]


def test_registry_class_count_from_data_and_test_clips():
    assert registry.get("ucf101").test_clips == 5 and registry.get("hmdb51").test_clips == 10
    assert all(not hasattr(r, "num_classes") for r in registry.DATASETS.values())
    with pytest.raises(ValueError, match="unknown dataset"):
        registry.get("ucf102")


def test_partial_kinetics_copy_is_used_but_a_wrong_root_is_not(tmp_path, capsys):
    """K400 copies lack YouTube-removed clips: up to 20% missing are left out with a warning; more is an error."""
    from synvid.data import registry
    ann = tmp_path / "annotations"
    ann.mkdir()
    rows = "".join(f"abseiling,v{i:02d},0,10,train,0\n" for i in range(10))
    (ann / "train.csv").write_text("label,youtube_id,time_start,time_end,split,is_cc\n" + rows)
    folder = tmp_path / "train" / "abseiling"
    folder.mkdir(parents=True)
    for i in range(9):
        (folder / f"v{i:02d}_000000_000010.mp4").write_bytes(b"")
    items, classes = registry.load("k400", tmp_path, "train")
    assert len(items) == 9 and classes == ["abseiling"] and "1 of 10 listed videos" in capsys.readouterr().out
    split = registry.load_split("k400", tmp_path, "train")            # the numbers a run records
    assert (split.listed, [Path(m).name for m in split.missing]) == (10, ["v09_000000_000010.mp4"])
    for i in range(3):
        (folder / f"v{i:02d}_000000_000010.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="4 of 10 listed videos are missing"):
        registry.load("k400", tmp_path, "train")
    root = _toy_with_a_missing_video(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):             # UCF101 stays strict
        registry.load("toy_ucf101", root, "train")
    from synvid.data import toy
    root = toy.make_toy_ucf101(tmp_path / "toy2", num_classes=2, groups=2, clips_per_group=1, frames=4)
    (root / "UCF-101/MoveLeft/v_MoveLeft_g01_c01.avi").unlink()         # a test video (group 1)
    # a test split is strict too, unless allowed
    with pytest.raises(FileNotFoundError, match="(?s)v_MoveLeft_g01_c01.*--allow-missing"):
        registry.load_split("toy_ucf101", root, "test")
    test = registry.load_split("toy_ucf101", root, "test", allow_missing=True)
    assert test.listed == 2 and len(test.items) == 1 and len(test.missing) == 1


def _toy_with_a_missing_video(tmp_path):
    from synvid.data import toy
    root = toy.make_toy_ucf101(tmp_path / "toy", num_classes=2, groups=2, clips_per_group=1, frames=4)
    next((root / "UCF-101").rglob("*.avi")).unlink()
    return root
