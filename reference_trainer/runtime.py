"""Where a run executes: the torchrun process group (NCCL on GPUs, gloo on CPU), the device, autocast.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them the run is one process. On CUDA the model
runs under bf16 autocast with fp32 master weights and TF32 matmuls; on CPU everything is fp32.
"""

from __future__ import annotations

import os
import resource
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    distributed: bool

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_runtime() -> Runtime:
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        device = torch.device("cpu")
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(rank, world, local_rank, device, distributed)


def barrier(rt: Runtime) -> None:
    if rt.distributed:
        dist.barrier()


def sync(device: torch.device) -> None:
    """Wait for queued GPU work (so wallclock readings are honest)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast_for(device: torch.device) -> AbstractContextManager:
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def peak_memory_mib(device: torch.device) -> tuple[int, int]:
    """(allocated, reserved) peak in MiB; on CPU both are the process's max RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) >> 20, torch.cuda.max_memory_reserved(device) >> 20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10   # Linux: KiB -> MiB
    return rss, rss
