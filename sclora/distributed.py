"""Statistics over several processes (``torchrun``, ``accelerate launch``) with ``torch.distributed``.

Every rank is given the same sample lists and keeps its share of them (samples ``rank::world``), so
no two ranks run the same sample. Each rank collects its share with
:func:`sclora.statistics.collect_statistics`; then, per stored statistic, the unnormalised float64
sums Σ u uᵀ are all-reduced (covariances) or the rows u of every rank are all-gathered (factors,
``C = FᵀF``), sample and token counts are summed, and everything is normalised by the global counts.
Whether a statistic is kept as a factor (N ≤ d) is decided on the global N, so all ranks agree and
the result is what one process computes from all the samples (up to float64 rounding; factor rows
come in another order, which leaves C = FᵀF unchanged). Every rank ends with the same statistics.

Without an initialised process group (or with one process) this is plain ``collect_statistics``.
"""

from __future__ import annotations

import math
import os

import torch

from .errors import check
from .statistics import SIDES, Statistics, collect_statistics, fingerprint_ids


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group with more than one process is initialised."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, else (0, 1)."""
    if not is_distributed():
        return 0, 1
    import torch.distributed as dist

    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    return rank_and_world()[0] == 0


def init_from_environment() -> bool:
    """Join the process group that ``torchrun`` / ``accelerate launch`` describe in the environment.

    Does nothing (returns False) when ``WORLD_SIZE`` is unset or 1, or when a group already exists.
    The backend is NCCL when CUDA is available, else gloo; with CUDA each process uses the GPU
    ``LOCAL_RANK``.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return True


def finish(ok: bool = True) -> None:
    """Leave the process group: wait for the other ranks first when ``ok`` (so none exits while rank 0
    still writes), then destroy it. Nothing when no group exists."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if ok:
            dist.barrier()
        dist.destroy_process_group()


def local_device(device=None) -> str | None:
    """The device this process should use: ``device`` when given, else ``cuda:LOCAL_RANK`` under a
    multi-process launch with CUDA, else None (the default)."""
    if device is not None or not is_distributed() or not torch.cuda.is_available():
        return device
    return f"cuda:{torch.cuda.current_device()}"


def shard(items: list, rank: int | None = None, world: int | None = None) -> list:
    """This rank's share of ``items``: every ``world``-th item from position ``rank``."""
    if rank is None or world is None:
        rank, world = rank_and_world()
    return list(items[rank::world])


def _comm_device() -> torch.device:
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    out = t.to(_comm_device()).contiguous()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(t.device)


def _all_gather_rows(rows: torch.Tensor) -> torch.Tensor:
    """Concatenate the (n_rank, d) tensors of every rank, in rank order (n_rank may differ)."""
    import torch.distributed as dist

    world, dev = dist.get_world_size(), _comm_device()
    n = torch.tensor([rows.shape[0]], dtype=torch.long, device=dev)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    sizes = [int(s.item()) for s in sizes]
    padded = torch.zeros((max(sizes), rows.shape[1]), dtype=rows.dtype, device=dev)
    padded[: rows.shape[0]] = rows.to(dev)
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)]).to(rows.device)


def collect_statistics_distributed(model, finetune_ids: list[list[int]], preserve_ids: list[list[int]],
                                   **kwargs) -> Statistics:
    """:func:`~sclora.statistics.collect_statistics` with the samples shared among the processes.

    Every rank passes the *same* full lists; each runs only its share. Keyword arguments are those
    of ``collect_statistics``. Fingerprints default to those of the full lists.
    """
    rank, world = rank_and_world()
    if world == 1:
        return collect_statistics(model, finetune_ids, preserve_ids, **kwargs)
    data = {"finetune": finetune_ids, "preserve": preserve_ids}
    for side, ids in data.items():
        check(len(ids) >= world, f"The {side} data has {len(ids)} samples, fewer than the {world} processes: "
              "give every process at least one sample (more samples or fewer processes).")
    kwargs.setdefault("fingerprints", None)
    if kwargs["fingerprints"] is None:
        kwargs["fingerprints"] = {side: fingerprint_ids(ids) for side, ids in data.items()}
    progress = kwargs.pop("progress", None)
    local = collect_statistics(model, shard(finetune_ids, rank, world), shard(preserve_ids, rank, world),
                               progress=progress if rank == 0 else None, **kwargs)
    return merge_across_ranks(local)


def merge_across_ranks(local: Statistics) -> Statistics:
    """Turn each rank's statistics of its share into the statistics of all samples (on every rank)."""
    sample = local.aggregate == "sample"
    counts: dict[str, dict[str, int]] = {}
    for side in SIDES:
        c = _all_reduce_sum(torch.tensor([local.counts[side]["samples"], local.counts[side]["tokens"]],
                                         dtype=torch.long))
        counts[side] = {"samples": int(c[0]), "tokens": int(c[1])}
    matrices: dict[str, dict[str, torch.Tensor]] = {}
    factored: dict[str, list[str]] = {}
    for side in SIDES:
        local_norm = local.counts[side]["samples" if sample else "tokens"]
        norm = counts[side]["samples" if sample else "tokens"]
        matrices[side], factored[side] = {}, []
        for key in sorted(local.matrices[side]):  # the same order on every rank
            value = local.matrices[side][key]
            d = value.shape[1]
            if key in local.factored[side]:
                u = value * math.sqrt(local_norm)  # the rows u of this rank's samples
                if sample and norm <= d:          # still few samples overall: keep the factor
                    matrices[side][key] = _all_gather_rows(u) / math.sqrt(norm)
                    factored[side].append(key)
                    continue
                total = u.T @ u
            else:
                total = value * local_norm        # Σ u uᵀ of this rank's samples
            matrices[side][key] = _all_reduce_sum(total) / norm
        # keep the dictionary order of a one-process run
        matrices[side] = {k: matrices[side][k] for k in local.matrices[side]}
        factored[side] = [k for k in local.matrices[side] if k in factored[side]]
    stats = Statistics(model_name=local.model_name, aggregate=local.aggregate, modules=local.modules,
                       groups=local.groups, matrices=matrices, counts=counts, fingerprints=local.fingerprints,
                       factored=factored)
    if local._model is not None:
        stats.attach_model(local._model)
    return stats


def broadcast_subspaces(subspaces: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rank 0's subspaces on every rank (identical statistics give identical solves on identical
    hardware; this makes sure mixed hardware cannot start ranks from different adapters)."""
    if not is_distributed():
        return subspaces
    import torch.distributed as dist

    out = {}
    for name in sorted(subspaces):
        t = subspaces[name].to(_comm_device()).contiguous()
        dist.broadcast(t, src=0)
        out[name] = t.to(subspaces[name].device)
    return {name: out[name] for name in subspaces}


__all__ = ["broadcast_subspaces", "collect_statistics_distributed", "finish", "init_from_environment",
           "is_distributed", "is_main_process", "local_device", "merge_across_ranks", "rank_and_world", "shard"]
