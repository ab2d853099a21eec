"""`run_all.sh --profile smoke --slurm --wait` on a real one-node SLURM (Debian's slurm-wlm and munge, installed
with apt-get when missing and running as root), checked against the local smoke run: the same tables.

The cluster is private to the test: slurm.conf in a temporary folder (proctrack/linuxproc, task/none,
select/cons_tres, CPUs=2, free loopback ports, AuthInfo=socket= of its own munged); the daemons run in the
foreground and are stopped by their pids whatever happens. It takes minutes, so it runs only with
SYNVID_SLURM_TEST=1 (set by .ci/run).
"""
import contextlib
import filecmp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from checkout import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("SYNVID_SLURM_TEST") != "1",
                                                   reason="real-SLURM test: set SYNVID_SLURM_TEST=1 (.ci/run does)")]
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")


def ensure_slurm() -> None:
    if all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in DAEMONS):
        return
    if os.geteuid() != 0:
        pytest.skip("slurm-wlm and munge are not installed and installing them needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"], check=True, env=env,
                   capture_output=True, timeout=900)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(folder: Path, host: str) -> str:
    return "\n".join([
        "ClusterName=synvidtest", f"SlurmctldHost={host}(127.0.0.1)", f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}", "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
        "CredType=cred/munge", f"AuthInfo=socket={folder}/munge.socket",
        "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",          # bind 127.0.0.1 only
        f"StateSaveLocation={folder}/state", f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid", f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log", f"SlurmdLogFile={folder}/slurmd.log",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "MpiDefault=none", "ReturnToService=2",
        f"NodeName=synvid NodeHostname={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN",
        "PartitionName=debug Nodes=synvid Default=YES MaxTime=INFINITE State=UP", ""])


@contextlib.contextmanager
def local_slurm():
    """A private munged + slurmctld + slurmd; yields the environment of a client; stops all three by pid."""
    ensure_slurm()
    folder = Path(tempfile.mkdtemp(prefix="synvid-slurm-"))   # short: a unix socket path has 108 bytes at most
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = folder / "slurm.conf"
    conf.write_text(slurm_conf(folder, socket.gethostname()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    commands = [
        ["munged", "-F", "--force", f"--socket={folder}/munge.socket", f"--key-file={key}",
         f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/munged.seed", f"--log-file={folder}/munged.log"],
        ["slurmctld", "-D", "-f", str(conf)], ["slurmd", "-D", "-N", "synvid", "-f", str(conf)]]
    daemons = []
    try:
        for cmd in commands:
            log = open(folder / f"{cmd[0]}.out", "w")
            daemons.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(2)
        for _ in range(60):
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
            if state.strip() == "idle":
                break
            time.sleep(1)
        else:
            pytest.fail(f"the local SLURM did not come up; see {folder}/*.out")
        yield env
    finally:
        subprocess.run(["scancel", "--me"], env=env, capture_output=True)
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        shutil.rmtree(folder, ignore_errors=True)


def run_all(repo: Path, env: dict, *args, background=False):
    env = {**env, "VIRTUAL_ENV": sys.prefix, "PATH": f"{Path(sys.prefix, 'bin')}:{env['PATH']}",
           "PYTHONPATH": str(repo)}
    cmd = ["bash", "run_all.sh", "--profile", "smoke", *args]
    if background:
        return subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def test_smoke_on_a_real_slurm_equals_the_local_run(tmp_path):
    local, cluster = copy_checkout(tmp_path / "local"), copy_checkout(tmp_path / "cluster")
    with local_slurm() as env:
        plain = run_all(local, env, background=True)                   # the reference, meanwhile
        first = run_all(cluster, env, "--slurm")
        assert first.returncode == 0, first.stdout + first.stderr
        jobs = first.stdout.count(": submitted job ")
        assert jobs > 20 and len(list((cluster / "runs/smoke/slurm").glob("*.sbatch"))) == jobs
        again = run_all(cluster, env, "--slurm", "--wait")             # nothing queued twice; waits for all
        assert again.returncode == 0, again.stdout + again.stderr
        queued = again.stdout.count("already queued or running")         # the others finished meanwhile
        assert ": submitted job " not in again.stdout and queued + again.stdout.count("done, skipped") == jobs
        assert f"== all {queued} jobs done" in again.stdout
        done = run_all(cluster, env, "--slurm")                        # everything DONE: nothing to do
        assert done.stdout.count(": done, skipped") == jobs and "submitted" not in done.stdout
        output = plain.communicate(timeout=900)[0]
        assert plain.returncode == 0, output
    tables = sorted(p.relative_to(local) for p in (local / "results/smoke/tables").iterdir())
    assert tables and sorted(p.relative_to(cluster) for p in (cluster / "results/smoke/tables").iterdir()) == tables
    _, differ, missing = filecmp.cmpfiles(local, cluster, [str(t) for t in tables], shallow=False)
    assert not differ and not missing, differ + missing
