"""Multi-process training with torchrun and DistributedDataParallel.

`torchrun --nproc_per_node=K main.py ...` sets RANK / WORLD_SIZE / LOCAL_RANK; each
process then trains on its shard of every epoch (see BatchLoader), gradients are
averaged across processes by DDP (gloo on CPU, NCCL on GPU), and only rank 0 writes
files. Losses that own extra networks (FactorVAE's discriminator) average their
gradients with `average_gradients`.
"""
import os

import torch
import torch.distributed as dist

from disvae.errors import DisvaeError


def world():
    """(rank, world_size) of this process (0, 1 without torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device):
    """Start the process group when launched by torchrun; returns (rank, world_size, device)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, device
    if device.type == "cuda":
        if device.index is not None:
            raise DisvaeError(f"--device {device} with torchrun: each process takes the GPU of its LOCAL_RANK; "
                              "give --device cuda and choose the GPUs with CUDA_VISIBLE_DEVICES")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))
        visible = torch.cuda.device_count()
        if max(per_node, local_rank + 1) > visible:
            raise DisvaeError(f"torchrun started {per_node} processes on this node but {visible} GPU(s) are visible: "
                              f"start at most {visible} (--nproc_per_node), choose GPUs with CUDA_VISIBLE_DEVICES, "
                              "or train on the CPU with --no-cuda")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def average_gradients(parameters):
    """All-reduce and average .grad of `parameters` across processes (no-op when alone)."""
    _, world_size = world()
    if world_size == 1:
        return
    for param in parameters:
        if param.grad is not None:
            dist.all_reduce(param.grad)
            param.grad /= world_size


def agree(flags, device):
    """Booleans that hold on every process when they hold on any (one all-reduce)."""
    if world()[1] == 1:
        return list(flags)
    tensor = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [bool(v) for v in tensor.tolist()]


def all_gather_objects(obj):
    """[obj of rank 0, obj of rank 1, ...] on every process ([obj] when alone)."""
    world_size = world()[1]
    if world_size == 1:
        return [obj]
    gathered = [None] * world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier():
    if world()[1] > 1:
        dist.barrier()


def shutdown():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
