"""torchrun-based distributed helpers: one code path from 1 process to N nodes (NCCL on CUDA, gloo on CPU).

Without torchrun's environment (RANK/WORLD_SIZE/LOCAL_RANK) everything runs as world size 1 with no process
group, so the single-process path is the same code.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as tdist

from synvid.errors import MainRankError


def init_distributed(device: str | None = None) -> tuple[int, int, int, torch.device]:
    """-> (rank, world_size, local_rank, device). Initialises the process group when launched by torchrun."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group("nccl" if use_cuda else "gloo", device_id=dev if use_cuda else None)
    return rank, world, local_rank, dev


def is_dist() -> bool:
    return tdist.is_available() and tdist.is_initialized()


def rank() -> int:
    return tdist.get_rank() if is_dist() else 0


def world_size() -> int:
    return tdist.get_world_size() if is_dist() else 1


def is_main() -> bool:
    return rank() == 0


def all_reduce_mean(x: torch.Tensor | float) -> float:
    """Mean of a scalar over all processes (returns a Python float)."""
    return float(all_reduce_sum(x)) / world_size()


def all_reduce_sum(values) -> torch.Tensor:
    """Element-wise sum over all processes of a small vector (returned on the CPU as float64)."""
    t = torch.as_tensor(values, dtype=torch.float64).detach().clone()
    if is_dist():
        if tdist.get_backend() == "nccl":
            t = t.cuda()
        tdist.all_reduce(t)
    return t.cpu()


def on_main(work, *args, **kwargs):
    """Run `work` on rank 0 only, then tell every rank whether it failed, in place of a bare barrier: a failed
    save on rank 0 stops all ranks with its error instead of leaving the others waiting at the barrier forever.
    Rank 0 re-raises the original exception; the others raise MainRankError with its text."""
    error, result = None, None
    if is_main():
        try:
            result = work(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - re-raised below, after the other ranks are told
            error = e
    text = broadcast_object(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    if text is not None:
        raise MainRankError(f"rank 0 failed: {text}")
    return result


def all_gather_objects(obj) -> list:
    """One entry per rank (in rank order); picklable objects only."""
    if not is_dist():
        return [obj]
    out = [None] * world_size()
    tdist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not is_dist():
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=src)
    return box[0]


def cleanup() -> None:
    if is_dist():
        tdist.destroy_process_group()
