"""torch.distributed: process group, DDP / FSDP2 wrapping, cross-rank sums and full state dicts.

Launch with ``torchrun --nproc_per_node=N -m rdm.train --dist ddp|fsdp``: torchrun sets
RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address that ``init_process_group``
reads. NCCL on CUDA, gloo on the CPU.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from ..models import RDMForCausalLM


@dataclass
class DistEnv:
    mode: str  # "none", "ddp" or "fsdp"
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.mode != "none"


def setup(mode: str, device: str) -> DistEnv:
    """Joins the process group for ``ddp``/``fsdp`` and picks this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if mode == "none" and world_size > 1:
        raise RuntimeError(f"launched with WORLD_SIZE={world_size}: pass --dist ddp or --dist fsdp")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if mode == "none":
        return DistEnv(mode, 0, 1, device)
    if not dist.is_initialized():
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return DistEnv(mode, dist.get_rank(), dist.get_world_size(), device)


def teardown(env: DistEnv) -> None:
    if env.active and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: RDMForCausalLM, env: DistEnv) -> nn.Module:
    """DDP, or FSDP2 with every prelude/coda block and the recurrent core (its one block
    looped) as its own unit, then the rest (embeddings, norm, head) at the root."""
    if env.mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        # Router biases are buffers that every rank updates identically from summed loads:
        # there is nothing to broadcast.
        device_ids = [env.device.index] if env.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)
    if env.mode == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(env.device.type, (env.world_size,))
        # The core is one unit rather than its looped block: its weights are gathered once
        # per forward (and once per backward), not once per loop.
        for block in [*model.prelude, model.core, *model.coda]:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
    return model


def unwrap(model: nn.Module) -> RDMForCausalLM:
    """The RDMForCausalLM inside a DDP wrapper (FSDP2 shards the module in place)."""
    return getattr(model, "module", model)


def all_reduce_sum(tensor: torch.Tensor, env: DistEnv) -> torch.Tensor:
    if env.active:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(value, env: DistEnv) -> list:
    if not env.active:
        return [value]
    gathered = [None] * env.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(env: DistEnv) -> None:
    if env.active:
        dist.barrier()


def full_state(model: nn.Module, optimizer) -> tuple[dict, dict]:
    """Full (unsharded) model and optimizer state dicts keyed by parameter name, on the CPU;
    every rank takes part, and every rank gets them."""
    options = StateDictOptions(full_state_dict=True)
    model_state = {key: value.cpu() for key, value in get_model_state_dict(model, options=options).items()}
    optimizer_state = get_optimizer_state_dict(model, optimizer, options=options)
    return model_state, _to_cpu(optimizer_state)


def load_full_state(model: nn.Module, optimizer, model_state: dict, optimizer_state: dict) -> None:
    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    return value
