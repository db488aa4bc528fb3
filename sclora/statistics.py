"""Covariance statistics of adapted layers: one streaming forward pass per dataset.

The paper's statistic for a layer with output h_t = W0 x_t + b is, per sample s,
v_s = Σ_t h_t (padding excluded), and C = (1/N) Σ_s v_s v_sᵀ (uncentered, per sample).

Because the sum is linear, v_s = [W0 | b] · u_s with u_s = [Σ_t x_t ; T_s] (T_s tokens), so
C_out = W_aug · C_in · W_augᵀ with C_in = (1/N) Σ_s u_s u_sᵀ. Layers that read the same input
tensor (q/k/v; gate/up) share one C_in. For each group of layers we store whichever side is
smaller: the shared (d_in+1)² input statistic, or every member's d_out² output statistic
(e.g. ``down_proj``, whose input is wider than its output). Output covariances are then derived
exactly on demand (``Statistics.output_covariance``). Everything accumulates in float64.

With N samples a per-sample statistic has rank ≤ N. When N is at most the stored width d, we keep
the N token-summed vectors themselves (a factor F with C = FᵀF, N × d, never larger than the d × d
covariance, so memory stays bounded whatever N): the β solves then work in a space of dimension
≤ N+ + N− (see ``sclora.subspace``), which is what makes the trade-off interactive.

``aggregate="token"`` is an explicit extension: per-token outer products averaged over tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from .errors import SCLoRAError, check
from .files import atomic_file_write
from .modules import TargetModule, find_target_modules, weight_matrix

SIDES = ("finetune", "preserve")
AGGREGATES = ("sample", "token")
FORMAT_VERSION = 2  # 2: statistics of few samples stored as factors

Progress = Callable[[int, int, str], None]


@dataclass
class Group:
    """Layers that read one input tensor, and which side of them is stored."""

    key: str                 # name of the first member
    members: list[str]       # module names
    stored: str              # "input" (one shared (d_in+1)² matrix) or "output" (one d_out² per member)


@dataclass
class Statistics:
    """C+ and C− of every target module, stored compactly (see the module docstring)."""

    model_name: str
    aggregate: str
    modules: list[TargetModule]
    groups: list[Group]
    # side -> tensor name -> float64 matrix. Names: "<group key>" for input side, "<module>" for output side.
    # Each is a covariance C (d × d) or, for the names in ``factored[side]``, a factor F (N × d), C = FᵀF.
    matrices: dict[str, dict[str, torch.Tensor]]
    counts: dict[str, dict[str, int]]           # side -> {"samples": N, "tokens": T}
    fingerprints: dict[str, str] = field(default_factory=dict)  # side -> data fingerprint
    factored: dict[str, list[str]] = field(default_factory=lambda: {side: [] for side in SIDES})
    _model: object | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ lookups
    def module(self, name: str) -> TargetModule:
        for m in self.modules:
            if m.name == name:
                return m
        raise SCLoRAError(f"Module {name!r} has no statistics. Known modules: {self.modules[0].name}, ...")

    def group_of(self, name: str) -> Group:
        return next(g for g in self.groups if name in g.members)

    @property
    def module_names(self) -> list[str]:
        return [m.name for m in self.modules]

    def attach_model(self, model) -> None:
        """Give the weights needed to derive output covariances of input-side groups."""
        self._model = model

    def augmented_weight(self, name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """[W0 | b] (d_out, d_in + 1), float64 unless asked, from the attached (or re-loaded) model."""
        if self._model is None:
            from .models import load_model

            self._model, _ = load_model(self.model_name, device="cpu")
        try:
            module = self._model.get_submodule(name)
        except AttributeError:
            module = None
        check(module is not None, f"Module {name!r} is not in model {self.model_name!r}.")
        w = weight_matrix(module).detach().to("cpu", dtype)
        b = module.bias.detach().to("cpu", dtype) if module.bias is not None else torch.zeros(w.shape[0], dtype=dtype)
        return torch.cat([w, b[:, None]], dim=1)

    def factor(self, key: str, side: str) -> torch.Tensor | None:
        """F (N × d) with C = FᵀF when the statistic ``key`` is stored as samples, else None."""
        return self.matrices[side][key] if key in self.factored[side] else None

    def _covariance(self, key: str, side: str) -> torch.Tensor:
        f = self.factor(key, side)
        return f.T @ f if f is not None else self.matrices[side][key]

    def input_covariance(self, name: str, side: str) -> torch.Tensor | None:
        """The shared (d_in+1)² statistic of the module's input, when that side is stored."""
        group = self.group_of(name)
        return self._covariance(group.key, side) if group.stored == "input" else None

    def output_factor(self, name: str, side: str, dtype: torch.dtype = torch.float64) -> torch.Tensor | None:
        """Y (N × d_out) with C_out = YᵀY, when the statistic is stored as samples, else None."""
        group = self.group_of(name)
        f = self.factor(group.key if group.stored == "input" else name, side)
        if f is None or group.stored == "output":
            return None if f is None else f.to(dtype)
        return f.to(dtype) @ self.augmented_weight(name, dtype).T

    def output_covariance(self, name: str, side: str) -> torch.Tensor:
        """C± of the module's outputs, (d_out, d_out) float64, exact."""
        check(side in SIDES, f"side must be one of {SIDES}, got {side!r}.")
        group = self.group_of(name)
        if group.stored == "output":
            return self._covariance(name, side)
        w = self.augmented_weight(name)
        return w @ self._covariance(group.key, side) @ w.T

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for side in self.matrices.values() for t in side.values())

    def output_nbytes(self) -> int:
        """What storing every module's two output covariances in float64 would take."""
        return sum(2 * m.d_out * m.d_out * 8 for m in self.modules)


# ---------------------------------------------------------------------- collection


def pad_batch(batch: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right padding: real tokens keep positions 0..T-1, so outputs do not depend on padding."""
    width = max(len(ids) for ids in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


def input_device(model) -> torch.device:
    """Where input ids go: the embedding's device (the first layer's, under a device map)."""
    try:
        return model.get_input_embeddings().weight.device
    except (AttributeError, NotImplementedError):
        return next(model.parameters()).device


def stored_widths(model, target_modules=None, probe: list[int] | None = None) -> list[int]:
    """Width d of every matrix the statistics store per side (d_in + 1 per input group, d_out per output member).

    Runs one short probe forward pass to find which layers share an input, as collection does.
    """
    targets = find_target_modules(model, target_modules)
    groups = _group_modules(model, targets, probe or [0] * 8, input_device(model))
    dims = {t.name: t for t in targets}
    widths = []
    for g in groups:
        if g.stored == "input":
            widths.append(dims[g.key].d_in + 1)
        else:
            widths.extend(dims[name].d_out for name in g.members)
    return widths


def predicted_nbytes(widths: list[int], samples: dict[str, int], aggregate: str = "sample") -> int:
    """Bytes the float64 statistics take: Σ over sides and stored matrices of N·d·8 when N ≤ d (a factor of
    the N token-summed samples, ``aggregate="sample"``), else d²·8 (the covariance)."""
    total = 0
    for n in samples.values():
        for d in widths:
            total += 8 * (n * d if aggregate == "sample" and n <= d else d * d)
    return total


def model_nbytes(model) -> int:
    """Bytes of the model's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _group_modules(model, targets: list[TargetModule], probe: list[int], device) -> list[Group]:
    """Find layers that read the same input tensor with one probe forward pass."""
    modules = dict(model.named_modules())
    # Keep the input tensors alive during the probe, so that ids cannot be reused by the allocator.
    seen: dict[str, torch.Tensor] = {}
    owner = threading.get_ident()

    def record(name: str, x: torch.Tensor) -> None:
        if _own_thread(owner):  # not a forward of another thread sharing the model
            seen[name] = x

    hooks = [modules[t.name].register_forward_pre_hook(lambda mod, args, name=t.name: record(name, args[0]))
             for t in targets]
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([probe[:8]], device=device))
    finally:
        for h in hooks:
            h.remove()
    by_input: dict[int, list[TargetModule]] = {}
    for t in targets:
        check(t.name in seen, f"Module {t.name!r} was not called by the model's forward pass; it cannot be adapted.")
        by_input.setdefault(id(seen[t.name]), []).append(t)
    groups = []
    for members in by_input.values():
        d_in = members[0].d_in
        input_cost = (d_in + 1) ** 2
        output_cost = sum(m.d_out**2 for m in members)
        groups.append(Group(members[0].name, [m.name for m in members], "input" if input_cost <= output_cost else "output"))
    return groups


def _own_thread(owner: int) -> bool:
    """True when the hook fires in the thread that registered it."""
    return threading.get_ident() == owner


def fingerprint_ids(ids: list[list[int]]) -> str:
    h = hashlib.sha256()
    for row in ids:
        h.update(json.dumps(row).encode())
    return h.hexdigest()[:16]


def _validate_ids(ids: list[list[int]], side: str, vocab: int) -> None:
    check(len(ids) > 0, f"The {side} data has no samples.")
    for i, row in enumerate(ids):
        check(len(row) > 0, f"The {side} data has an empty sample (sample {i}).")
        check(all(0 <= t < vocab for t in row), f"The {side} sample {i} has token ids outside the vocabulary (size {vocab}).")


@torch.no_grad()
def collect_statistics(
    model,
    finetune_ids: list[list[int]],
    preserve_ids: list[list[int]],
    *,
    target_modules: str | list[str] | None = None,
    aggregate: str = "sample",
    batch_size: int = 8,
    pad_token_id: int = 0,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    model_name: str = "",
    fingerprints: dict[str, str] | None = None,
) -> Statistics:
    """Run the frozen model once over each dataset and return C+ (finetune) and C− (preserve).

    ``finetune_ids``/``preserve_ids`` are token id lists (all tokens of each formatted sample).
    Memory is independent of the number of samples; results do not depend on ``batch_size``.
    ``should_stop()`` is polled between batches and raises :class:`StoppedError` when true.
    """
    check(aggregate in AGGREGATES, f"aggregate must be one of {AGGREGATES}, got {aggregate!r}.")
    check(isinstance(batch_size, int) and batch_size >= 1, f"batch_size must be an integer >= 1, got {batch_size!r}.")
    vocab = model.get_input_embeddings().num_embeddings
    data = {"finetune": finetune_ids, "preserve": preserve_ids}
    for side, ids in data.items():
        _validate_ids(ids, side, vocab)
    device = input_device(model)
    targets = find_target_modules(model, target_modules)
    groups = _group_modules(model, targets, finetune_ids[0], device)
    modules = dict(model.named_modules())

    total_batches = sum(math.ceil(len(ids) / batch_size) for ids in data.values())
    done = 0
    matrices: dict[str, dict[str, torch.Tensor]] = {}
    factored: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    was_training = model.training
    owner = threading.get_ident()  # hooks count only the forwards this call runs (the app shares one model)
    model.eval()
    for side, ids in data.items():
        acc: dict[str, torch.Tensor] = {}
        mask_box: list[torch.Tensor] = []

        def accumulate(name: str, x: torch.Tensor, with_ones: bool) -> None:
            if not _own_thread(owner):
                return  # another thread using the same (shared) model: not our samples
            # x: (B, T, d) activations; padding is excluded through the mask.
            # (B, T), on the layer's device: with a device map, layers live on different devices.
            mask = mask_box[0].to(device=x.device, dtype=torch.float64)
            if aggregate == "sample":
                # Token sums as one batched product (no masked copy of x): (B, 1, T) @ (B, T, d).
                u = torch.bmm(mask[:, None, :], x.to(torch.float64)).squeeze(1)  # (B, d)
                if with_ones:  # the bias column: Σₜ 1 = T_s, the sample's token count
                    u = torch.cat([u, mask.sum(dim=1, keepdim=True)], dim=1)
            else:
                x = x.to(torch.float64) * mask.unsqueeze(-1)
                if with_ones:  # the bias column: u = [x ; 1] per token
                    x = torch.cat([x, mask.unsqueeze(-1)], dim=-1)
                u = x.reshape(-1, x.shape[-1])  # (B*T, d); padded rows are zero
            if aggregate == "sample" and len(ids) <= u.shape[1]:
                acc.setdefault(name, []).append(u)  # low rank: keep the samples (N × d ≤ d × d)
            else:
                acc[name] = acc.get(name, 0) + u.T @ u

        hooks = []
        for g in groups:
            if g.stored == "input":
                hooks.append(modules[g.key].register_forward_pre_hook(
                    lambda mod, args, key=g.key: accumulate(key, args[0], True)))
            else:
                for name in g.members:
                    hooks.append(modules[name].register_forward_hook(
                        lambda mod, args, out, key=name: accumulate(key, out, False)))
        n_tokens = 0
        try:
            # Sorting by length wastes less compute on padding; sums do not depend on order.
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            for start in range(0, len(order), batch_size):
                if should_stop is not None and should_stop():
                    raise StoppedError("Covariance collection was stopped; nothing was kept for this run.")
                batch = [ids[i] for i in order[start : start + batch_size]]
                input_ids, mask = pad_batch(batch, pad_token_id, device)
                mask_box[:] = [mask]
                try:
                    model(input_ids=input_ids, attention_mask=mask, use_cache=False)
                except torch.OutOfMemoryError as exc:  # a user-fixable setting, not a crash
                    raise SCLoRAError(f"Out of memory on {device} while collecting the {side} statistics with "
                                      f"batch_size={batch_size} (samples up to {input_ids.shape[1]} tokens): lower the "
                                      "batch size or the maximum length.") from exc
                n_tokens += int(mask.sum())
                done += 1
                if progress is not None:
                    progress(done, total_batches, f"{side} activations")
        finally:
            for h in hooks:
                h.remove()
        norm = len(ids) if aggregate == "sample" else n_tokens
        matrices[side], factored[side] = {}, []
        for key, value in acc.items():
            if isinstance(value, list):  # samples, in length order: F = U / sqrt(N), so FᵀF = C
                matrices[side][key] = (torch.cat(value) / math.sqrt(norm)).cpu()
                factored[side].append(key)
            else:
                matrices[side][key] = (value / norm).cpu()
        counts[side] = {"samples": len(ids), "tokens": n_tokens}
    model.train(was_training)

    stats = Statistics(
        model_name=model_name or getattr(model, "name_or_path", ""),
        aggregate=aggregate,
        modules=targets,
        groups=groups,
        matrices=matrices,
        counts=counts,
        fingerprints=fingerprints or {side: fingerprint_ids(ids) for side, ids in data.items()},
        factored=factored,
    )
    stats.attach_model(model)
    for side in SIDES:
        for name, mat in matrices[side].items():
            if not torch.isfinite(mat).all():
                raise SCLoRAError(
                    f"The {side} statistics of {name} contain NaN or Inf: the model's activations overflowed "
                    "(try float32 instead of float16) or the model is broken."
                )
    return stats


class StoppedError(SCLoRAError):
    """Raised when ``should_stop()`` ended a long computation early."""


# ---------------------------------------------------------------------- save / load


def save_statistics(stats: Statistics, path: str | os.PathLike) -> Path:
    """Write to safetensors (atomic), with everything but the matrices in the metadata."""
    path = Path(path)
    tensors = {f"{side}/{name}": t.contiguous() for side in SIDES for name, t in stats.matrices[side].items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "model_name": stats.model_name,
        "aggregate": stats.aggregate,
        "modules": [asdict(m) for m in stats.modules],
        "groups": [asdict(g) for g in stats.groups],
        "counts": stats.counts,
        "fingerprints": stats.fingerprints,
        "factored": stats.factored,
    }
    return atomic_file_write(path, lambda tmp: save_file(tensors, tmp, metadata={"sclora": json.dumps(meta)}))


def load_statistics(path: str | os.PathLike, model=None) -> Statistics:
    """Read a file written by :func:`save_statistics`; ``model`` avoids re-loading it by name."""
    path = Path(path)
    check(path.is_file(), f"Covariance file {str(path)!r} does not exist.")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {})["sclora"])
        tensors = load_file(str(path))
    except Exception as exc:  # corrupt or foreign file: say which
        raise SCLoRAError(f"{str(path)!r} is not a covariance file written by `sclora covariances` ({exc}).") from exc
    check(meta.get("format_version") == FORMAT_VERSION, f"{str(path)!r} has an unsupported format version.")
    matrices: dict[str, dict[str, torch.Tensor]] = {side: {} for side in SIDES}
    try:
        for key, t in tensors.items():
            side, name = key.split("/", 1)
            matrices[side][name] = t
        stats = Statistics(
            model_name=meta["model_name"],
            aggregate=meta["aggregate"],
            modules=[TargetModule(**m) for m in meta["modules"]],
            groups=[Group(**g) for g in meta["groups"]],
            matrices=matrices,
            counts=meta["counts"],
            fingerprints=meta["fingerprints"],
            factored=meta["factored"],
        )
    except (KeyError, TypeError, ValueError) as exc:  # metadata or tensor names not as save_statistics writes them
        raise SCLoRAError(f"{str(path)!r} is damaged: its metadata or tensor names are incomplete ({exc!r}).") from exc
    for side in SIDES:
        for name, mat in matrices[side].items():
            check(bool(torch.isfinite(mat).all()), f"{str(path)!r} is damaged: the {side} statistic of {name} "
                  "contains NaN or Inf.")
    if model is not None:
        stats.attach_model(model)
    return stats
