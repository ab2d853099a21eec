"""Multi-process behaviour with 2 CPU processes on gloo: nothing hangs on a mostly unreadable
toy tree (fine-tuning, probing, UCF101-P evaluation), partial batches are weighted by their true size, a failed
save on rank 0 stops every rank; strict test denominators, upstream records, config hashes, fsynced writes.
Every launch has a time limit: a hang fails the test instead of blocking the suite."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synvid.data import toy

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "dist_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(scenario: str, root: Path, out: Path, world: int = 2, timeout: float = 40.0) -> list[dict]:
    """Run tests/dist_worker.py SCENARIO on `world` gloo ranks; fail (not hang) past `timeout` seconds."""
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen([sys.executable, str(WORKER), scenario, str(root), str(out)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"{scenario}: {world} ranks did not finish within {timeout} s (a collective hangs)")
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory):
    """A toy UCF101 whose training set is two-thirds unreadable and whose test split has one unreadable video."""
    root = toy.make_toy_ucf101(tmp_path_factory.mktemp("broken") / "toy", num_classes=2, groups=4, clips_per_group=2,
                               frames=8)
    videos = sorted((root / "UCF-101").rglob("*.avi"))
    train = [v for v in videos if "_g01_" not in v.name]
    keep = {v.name for v in train[::3]} | {"v_MoveLeft_g01_c01.avi", "v_MoveRight_g01_c01.avi"}
    for v in videos:
        if v.name not in keep:
            v.write_bytes(b"not a video")
    return root


@pytest.mark.slow
def test_two_ranks_on_a_mostly_unreadable_tree(broken_root, tmp_path):
    """One 2-rank launch for all of it (about 50 s on the loaded 2-core machine): fine-tuning, the finetune_aug
    probe and UCF101-P finish; strict evaluation and a failed save stop both ranks; ranks holding 2 and 1 videos
    take the step of one process holding all 3 (per-video mean gradient)."""
    ranks = launch("finetune,probe,ucf101p_strict,failed_save,weighted_step", broken_root, tmp_path, timeout=180)
    ft, probe, save = (ranks[0][k] for k in ("finetune", "probe", "failed_save"))
    assert ft["steps"] == ft["total_steps"] and ft["train_skipped_videos"] > 0
    assert (ft["test_listed"], ft["test_evaluated"]) == (4, 2) and ft["test_missing"] == \
        ["v_MoveLeft_g01_c02.avi", "v_MoveRight_g01_c02.avi"]
    assert probe["steps"] == probe["total_steps"] and probe["test_evaluated"] == 2
    for r in ranks:   # every rank stopped with the names, on the same step
        assert r["ucf101p_strict"]["strict"].startswith("VideoReadError") and "g01_c02" in r["ucf101p_strict"]["strict"]
        assert r["ucf101p_strict"]["test_missing"] == ft["test_missing"]
    assert "NotADirectoryError" in save["error"] or "FileExistsError" in save["error"]
    assert ranks[1]["failed_save"]["error"].startswith("MainRankError: rank 0 failed")
    done = json.loads((tmp_path / "ft" / "DONE").read_text())
    assert done["test_missing"] == ft["test_missing"] and len(done["config_hash"]) == 64
    assert done["upstream"]["kind"] == "scratch"
    sys.path.insert(0, str(ROOT / "tests"))
    import dist_worker
    one = dist_worker.weighted_step(tmp_path, tmp_path)
    assert ranks[0]["weighted_step"] == ranks[1]["weighted_step"]
    np.testing.assert_allclose(ranks[0]["weighted_step"]["params"], one["params"], rtol=1e-5, atol=1e-6)
