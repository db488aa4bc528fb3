"""SC-LoRA subspaces and the β trade-off, from stored statistics (no forward pass).

For a module, ΔCov(β) = (1−β)·C+ − β·C−; the SC-LoRA subspace is spanned by the r eigenvectors
with the largest algebraic eigenvalues (Theorem 1). Its reward is the sum of those eigenvalues.
Energies e±(β) = tr(QᵀC±Q) / tr(C±) say how much of each dataset's output energy the adapter's
starting subspace touches.

Speed: a layer whose statistic is stored on the input side has C± = W·Cin±·Wᵀ with W of shape
(d_out, d_in+1). When d_out > d_in+1 we solve in the column space of W (thin QR, W = U·R):
C± = U·(R·Cin±·Rᵀ)·Uᵀ, so each β costs an eigensolve of size d_in+1 instead of d_out, exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import pandas as pd
import torch

from .errors import check
from .statistics import Statistics

DEFAULT_BETAS = tuple(round(0.1 * i, 1) for i in range(11))
# float32 resolves eigenvalues down to about 2⁻²³ of the largest; directions below that carry nothing
# a float32 solve could see, so float32 sweeps drop them first (a smaller eigenproblem).
FLOAT32_RTOL = 2.0**-23


class NonUniqueSubspaceWarning(UserWarning):
    """The paper's Appendix B case: C− has a large null space, so the subspace is not unique."""


def check_beta_rank(beta: float, rank: int, d_out: int | None = None) -> None:
    check(isinstance(beta, (int, float)) and not isinstance(beta, bool) and math.isfinite(beta),
          f"beta must be a number in [0, 1], got {beta!r}.")
    check(0.0 <= beta <= 1.0, f"beta must be in [0, 1], got {beta}.")
    check(isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1, f"rank must be an integer >= 1, got {rank!r}.")
    if d_out is not None:
        check(rank <= d_out, f"rank {rank} is larger than the layer's output size {d_out}.")


# ---------------------------------------------------------------------- reduced problem


@dataclass
class ReducedCovariances:
    """C± = basis · P± · basisᵀ exactly; basis is None when P± are the output covariances."""

    basis: torch.Tensor | None  # (d_out, k) orthonormal columns, or None
    finetune: torch.Tensor      # (k, k) float64
    preserve: torch.Tensor      # (k, k) float64
    finetune_trace: float
    preserve_trace: float
    finetune_factor: torch.Tensor | None = None  # (N+, k) Z with finetune = ZᵀZ, when known

    def delta(self, beta: float) -> torch.Tensor:
        return (1.0 - beta) * self.finetune - beta * self.preserve

    def lift(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors if self.basis is None else self.basis @ vectors


def reduce_covariances(stats: Statistics, name: str, rtol: float | None = None) -> ReducedCovariances:
    """The module's C+ and C− in the smallest exact basis (see the module docstring).

    Three cases, smallest first: stored samples (C± = Y±ᵀY±, solved in the span of the N+ + N−
    output sample vectors); input statistics with d_out > d_in+1 (W's column space); else the
    output covariances themselves.

    ``rtol`` (stored samples only): keep only the directions of C+ and of C− whose eigenvalue is above
    ``rtol`` times that covariance's largest, a smaller basis for solves in a precision that could not
    resolve the rest anyway (``rtol`` ≈ float32's resolution). ΔCov changes by at most ``rtol``·max‖C±‖.
    """
    group = stats.group_of(name)
    d_out = stats.module(name).d_out
    if rtol is not None and (reduced := _reduce_resolvable(stats, name, d_out, rtol)) is not None:
        return reduced
    yf, yp = stats.output_factor(name, "finetune"), stats.output_factor(name, "preserve")
    if yf is not None and yp is not None and yf.shape[0] + yp.shape[0] < d_out:
        # Yᵀ = [Y+ᵀ | Y−ᵀ] = basis·R, so C+ = basis·R+·R+ᵀ·basisᵀ (likewise C−), exactly.
        basis, r = torch.linalg.qr(torch.cat([yf, yp]).T)
        rf, rp = r[:, : yf.shape[0]], r[:, yf.shape[0] :]
        pf, pp = rf @ rf.T, rp @ rp.T
    elif group.stored == "input":
        w = stats.augmented_weight(name)  # (d_out, d_in+1) float64
        cin_f, cin_p = stats.input_covariance(name, "finetune"), stats.input_covariance(name, "preserve")
        if w.shape[0] > w.shape[1]:
            basis, r = torch.linalg.qr(w)  # (d_out, k), (k, k)
            pf, pp = r @ cin_f @ r.T, r @ cin_p @ r.T
        else:
            basis, pf, pp = None, w @ cin_f @ w.T, w @ cin_p @ w.T
    else:
        basis, pf, pp = None, stats.output_covariance(name, "finetune"), stats.output_covariance(name, "preserve")
    pf, pp = (pf + pf.T) / 2, (pp + pp.T) / 2  # exact symmetry for eigh
    return ReducedCovariances(basis, pf, pp, float(pf.trace()), float(pp.trace()))


def _reduce_resolvable(stats: Statistics, name: str, d_out: int, rtol: float) -> ReducedCovariances | None:
    """C± in float32, in the basis of the directions of C+ and C− above ``rtol`` of each one's largest;
    None when the statistics are not stored as samples or that basis would not be smaller than d_out.

    Everything here is float32: the basis only serves float32 solves, which could not resolve what is dropped.
    """
    yf, yp = stats.output_factor(name, "finetune", torch.float32), stats.output_factor(name, "preserve", torch.float32)
    if yf is None or yp is None or d_out <= max(yf.shape[0], yp.shape[0]):
        return None
    # Each set's significant right singular vectors, from its small N × N Gram matrix.
    rows = torch.cat([_significant_directions(yf, rtol), _significant_directions(yp, rtol)])
    if rows.shape[0] >= d_out:
        return None
    basis = torch.linalg.qr(rows.T)[0]
    zf, zp = yf @ basis, yp @ basis
    pf, pp = zf.T @ zf, zp.T @ zp
    return ReducedCovariances(basis, (pf + pf.T) / 2, (pp + pp.T) / 2, float((yf * yf).sum(dtype=torch.float64)),
                              float((yp * yp).sum(dtype=torch.float64)), finetune_factor=zf)


def _significant_directions(y: torch.Tensor, rtol: float) -> torch.Tensor:
    """Orthonormal rows spanning the directions of YᵀY with eigenvalue > rtol · the largest."""
    values, u = torch.linalg.eigh(y @ y.T)  # YYᵀ = U S² Uᵀ, so Vᵀ = S⁻¹ Uᵀ Y
    keep = values > rtol * values[-1].clamp(min=torch.finfo(y.dtype).tiny)
    return (u[:, keep] / values[keep].sqrt()).T @ y


def _eigh_descending(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of a symmetric matrix, largest (algebraic) first."""
    values, vectors = torch.linalg.eigh(matrix)
    return values.flip(0), vectors.flip(1)


# ---------------------------------------------------------------------- subspaces


@dataclass
class Subspace:
    module: str
    beta: float
    rank: int
    basis: torch.Tensor        # (d_out, r) float64, orthonormal columns: Q_r
    eigenvalues: torch.Tensor  # every eigenvalue of ΔCov in the solved basis, descending (float64)
    finetune_energy: float     # e+(β)
    preserve_energy: float     # e−(β)

    @property
    def reward(self) -> float:
        return float(self.eigenvalues[: self.rank].sum())


def sclora_subspace(stats: Statistics, name: str, beta: float, rank: int, reduced: ReducedCovariances | None = None) -> Subspace:
    """The SC-LoRA subspace of one module: top-``rank`` eigenvectors of (1−β)C+ − βC−."""
    module = stats.module(name)
    check_beta_rank(beta, rank, module.d_out)
    reduced = reduced or reduce_covariances(stats, name)
    values, vectors = _eigh_descending(reduced.delta(beta))
    order = _direction_order(reduced, values, module.d_out, rank)
    if reduced.basis is None:
        q = vectors[:, :rank]
    else:
        parts = [reduced.basis @ vectors[:, order.positive]]
        if order.zeros:
            parts.append(_orthogonal_complement(reduced.basis, order.zeros))
        if order.negative.stop > order.negative.start:
            parts.append(reduced.basis @ vectors[:, order.negative])
        q = torch.cat(parts, dim=1)
    ef, ep = _direction_energies(reduced, vectors, order)
    return Subspace(name, float(beta), rank, q, order.eigenvalues, float(ef.sum()), float(ep.sum()))


@dataclass
class _DirectionOrder:
    """Where the top ``rank`` directions of ΔCov come from, in descending eigenvalue order.

    In a reduced basis ΔCov is 0 on the complement: its zero eigenvalues rank below the positive
    eigenvalues of the reduced problem and above the negative ones.
    """

    positive: slice        # reduced eigenvectors with positive eigenvalues
    zeros: int             # directions from the complement of the basis
    negative: slice        # reduced eigenvectors with negative eigenvalues
    eigenvalues: torch.Tensor  # every eigenvalue of ΔCov (d_out of them when reduced), descending


def _direction_order(reduced: ReducedCovariances, values: torch.Tensor, d_out: int, rank: int) -> _DirectionOrder:
    if reduced.basis is None:
        return _DirectionOrder(slice(0, rank), 0, slice(rank, rank), values)
    k = values.numel()
    n_pos = min(int((values > 0).sum()), rank)
    n_zero = min(rank - n_pos, d_out - k)
    n_neg = rank - n_pos - n_zero
    full = torch.cat([values, values.new_zeros(d_out - k)]).sort(descending=True).values
    return _DirectionOrder(slice(0, n_pos), n_zero, slice(n_pos, n_pos + n_neg), full)


def _direction_energies(reduced: ReducedCovariances, vectors: torch.Tensor,
                        order: _DirectionOrder) -> tuple[torch.Tensor, torch.Tensor]:
    """e± of each of the top directions alone (their cumulative sums are e± at every smaller rank).

    Complement directions carry no energy (C± vanish there).
    """
    zeros = vectors.new_zeros(order.zeros)
    out = []
    for cov, trace in ((reduced.finetune, reduced.finetune_trace), (reduced.preserve, reduced.preserve_trace)):
        def alone(cols: slice) -> torch.Tensor:
            v = vectors[:, cols]
            return ((cov @ v) * v).sum(0) / (trace if trace > 0 else 1.0)  # C± = 0 when the trace is 0
        out.append(torch.cat([alone(order.positive), zeros, alone(order.negative)]))
    return out[0], out[1]


def _orthogonal_complement(basis: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` orthonormal directions orthogonal to ``basis`` (deterministic; ΔCov is 0 there)."""
    g = torch.randn(basis.shape[0], count, generator=torch.Generator().manual_seed(0), dtype=basis.dtype)
    for _ in range(2):  # project twice: one Gram-Schmidt pass loses orthogonality in rounding
        g = g - basis @ (basis.T @ g)
    return torch.linalg.qr(g)[0]


def sclora_subspaces(stats: Statistics, beta: float, rank: int, progress=None) -> dict[str, torch.Tensor]:
    """Q_r (d_out, r) float32 for every module: what the SC-LoRA init needs."""
    check_beta_rank(beta, rank)
    for w in subspace_warnings(stats, beta, rank):
        warnings.warn(w, NonUniqueSubspaceWarning, stacklevel=2)
    out = {}
    for i, name in enumerate(stats.module_names):
        out[name] = sclora_subspace(stats, name, beta, rank).basis.float()
        if progress is not None:
            progress(i + 1, len(stats.modules), "subspaces")
    return out


def subspace_warnings(stats: Statistics, beta: float, rank: int) -> list[str]:
    """The paper's non-uniqueness case (N− < d_out − r) and ranks the data cannot fill."""
    notes = []
    n_minus, n_plus = stats.counts["preserve"]["samples"], stats.counts["finetune"]["samples"]
    widest = max(m.d_out for m in stats.modules)
    if stats.aggregate == "sample" and n_minus < widest - rank:
        notes.append(
            f"Only {n_minus} preserve samples for layers with up to {widest} outputs (N− < d_out − r): C− has a "
            f"null space of dimension ≥ {widest - n_minus}, so {'at β = 1 ' if beta >= 1 else 'near β = 1 '}"
            "the subspace is not unique (paper, Appendix B). Keep β < 1 or add preserve samples."
        )
    if stats.aggregate == "sample" and n_plus + n_minus < rank:
        notes.append(f"rank {rank} exceeds the {n_plus + n_minus} samples: some directions are arbitrary.")
    return notes


# ---------------------------------------------------------------------- trade-off


def tradeoff(
    stats: Statistics,
    rank: int | Sequence[int],
    betas: Iterable[float] = DEFAULT_BETAS,
    modules: list[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    dtype: torch.dtype = torch.float64,
) -> pd.DataFrame:
    """β sweep over modules: one row per (module, β, rank) with energies and the reward.

    ``rank`` may be a list: one eigendecomposition per (module, β) gives every rank at once
    (the energies and reward at rank r are cumulative sums over the top r directions), so a
    list of ranks costs about what one rank does. Each module's reduced covariances are built
    once (in float64) and reused for every β.

    ``dtype=torch.float32`` solves in single precision, in the basis of the directions float32 can resolve
    (``FLOAT32_RTOL``): several times faster, for tables that are only plotted (subspaces an adapter
    starts from always come from :func:`sclora_subspace`, in float64). On a GPU each module's β values
    go to the device as one batched eigensolve.
    """
    betas = [float(b) for b in betas]
    ranks = sorted({rank} if isinstance(rank, int) and not isinstance(rank, bool) else set(rank))
    check(len(betas) > 0, "Give at least one β value.")
    check(len(ranks) > 0, "Give at least one rank.")
    check(dtype in (torch.float32, torch.float64), f"dtype must be torch.float32 or torch.float64, got {dtype}.")
    for b in betas:
        for r in ranks:
            check_beta_rank(b, r)
    names = modules or stats.module_names
    top = ranks[-1]
    for name in names:
        info = stats.module(name)
        check(top <= info.d_out, f"rank {top} is larger than the output size {info.d_out} of {name}.")
    picks = torch.tensor(ranks) - 1
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    rtol = FLOAT32_RTOL if dtype == torch.float32 else None
    results: dict[str, dict[str, torch.Tensor]] = {}
    for i, name in enumerate(names):  # each solve already uses every core (LAPACK's threads)
        results[name] = _sweep_module(reduce_covariances(stats, name, rtol), stats.module(name).d_out, betas, top,
                                      picks, dtype, device)
        if progress is not None:
            progress(i + 1, len(names), "β sweep")
    return _sweep_table(stats, names, betas, ranks, results)


def _sweep_module(reduced: ReducedCovariances, d_out: int, betas: list[float], top: int, picks: torch.Tensor,
                  dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """Cumulative energies and rewards at the picked ranks, (len(betas), len(picks)) each, for one module."""
    pf, pp = reduced.finetune.to(device, dtype), reduced.preserve.to(device, dtype)
    both = torch.cat([pf, pp])  # (2k, k): both energies from one product
    traces = torch.tensor([reduced.finetune_trace or 1.0, reduced.preserve_trace or 1.0], dtype=torch.float64)
    k = pf.shape[0]
    at_zero = _positive_eigenpairs(reduced.finetune_factor, top, k, device) if 0.0 in betas else None
    solve = [b for b in betas if b != 0.0 or at_zero is None]
    solved = {}
    if solve:
        weights = torch.tensor(solve, dtype=dtype, device=device)[:, None, None]
        values_all, vectors_all = torch.linalg.eigh((1.0 - weights) * pf - weights * pp)  # one batched solve
        solved = {b: (values_all[i].flip(0), vectors_all[i].flip(1)) for i, b in enumerate(solve)}
    solved = [solved.get(b, at_zero) for b in betas]
    out = {"finetune_energy": [], "preserve_energy": [], "reward": []}
    for values, vectors in solved:
        values, vectors = values.double().cpu(), vectors
        order = _direction_order(reduced, values, d_out, top)
        cols = torch.cat([torch.arange(order.positive.start, order.positive.stop),
                          torch.arange(order.negative.start, order.negative.stop)])
        v = vectors[:, cols.to(vectors.device)]
        energy = ((both @ v).reshape(2, k, -1) * v).sum(1).double().cpu() / traces[:, None]  # (2, n_pos + n_neg)
        n_pos = order.positive.stop
        zeros = energy.new_zeros(2, order.zeros)  # complement directions: C± vanish there
        energy = torch.cat([energy[:, :n_pos], zeros, energy[:, n_pos:]], dim=1).cumsum(1)[:, picks]
        out["finetune_energy"].append(energy[0])
        out["preserve_energy"].append(energy[1])
        out["reward"].append(order.eigenvalues[:top].cumsum(0)[picks])
    stacked = {key: torch.stack(rows) for key, rows in out.items()}
    stacked["traces"] = torch.tensor([reduced.finetune_trace, reduced.preserve_trace], dtype=torch.float64)
    return stacked


def _positive_eigenpairs(z: torch.Tensor | None, top: int, k: int, device: torch.device):
    """The top eigenpairs of C+ = ZᵀZ (k × k), from the N+ × N+ Gram matrix ZZᵀ: ΔCov at β = 0 for about an
    eighth of a k × k solve when N+ = k / 2. ``(values, vectors)`` as a full solve would give them (the k − m
    eigenvalues past C+'s rank are 0), or None when C+ has fewer than ``top`` positive eigenvalues."""
    if z is None:
        return None
    z = z.to(device)
    values, u = torch.linalg.eigh(z @ z.T)  # ZZᵀ = U Λ Uᵀ, so ZᵀZ (ZᵀU Λ^-½) = (ZᵀU Λ^-½) Λ
    values, u = values.flip(0), u.flip(1)
    m = min(int((values > 0).sum()), k)  # rank(ZᵀZ) <= k; rounding may leave more tiny positive values when N+ > k
    if m < top:
        return None
    vectors = (z.T @ u[:, :m]) / values[:m].sqrt()
    return torch.cat([values[:m], values.new_zeros(k - m)]), vectors


def _sweep_table(stats: Statistics, names: list[str], betas: list[float], ranks: list[int],
                 results: dict[str, dict[str, torch.Tensor]]) -> pd.DataFrame:
    """One row per (module, β, rank), modules in the given order."""
    import numpy as np

    n_b, n_r = len(betas), len(ranks)
    per_module = n_b * n_r
    infos = [stats.module(name) for name in names]
    columns = {
        "module": np.repeat(names, per_module),
        "layer": np.repeat([m.layer for m in infos], per_module),
        "kind": np.repeat([m.kind for m in infos], per_module),
        "beta": np.tile(np.repeat(betas, n_r), len(names)),
    }
    for key in ("finetune_energy", "preserve_energy", "reward"):
        columns[key] = torch.cat([results[name][key].reshape(-1) for name in names]).numpy() if names else []
    columns["finetune_trace"] = np.repeat([float(results[name]["traces"][0]) for name in names], per_module)
    columns["preserve_trace"] = np.repeat([float(results[name]["traces"][1]) for name in names], per_module)
    columns["rank"] = np.tile(ranks, n_b * len(names))
    return pd.DataFrame(columns)


def tradeoff_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Energies over all modules per β: Σ captured energy / Σ trace (trace-weighted)."""
    t = table.assign(fc=table.finetune_energy * table.finetune_trace, pc=table.preserve_energy * table.preserve_trace)
    g = t.groupby("beta")
    return pd.DataFrame({
        "finetune_energy": g.fc.sum() / g.finetune_trace.sum(),
        "preserve_energy": g.pc.sum() / g.preserve_trace.sum(),
        "reward": g.reward.sum(),
    }).reset_index()


# ---------------------------------------------------------------------- plots & comparisons


def spectra(stats: Statistics, name: str, beta: float) -> dict[str, torch.Tensor]:
    """Eigenvalues (descending, float64) of C+, C− and ΔCov(β) for one module."""
    check_beta_rank(beta, 1)
    reduced = reduce_covariances(stats, name)
    return {
        "finetune": torch.linalg.eigvalsh(reduced.finetune).flip(0),
        "preserve": torch.linalg.eigvalsh(reduced.preserve).flip(0),
        "delta": torch.linalg.eigvalsh(reduced.delta(beta)).flip(0),
    }


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles in degrees (ascending) between the column spaces of ``a`` and ``b``."""
    check(a.shape[0] == b.shape[0], f"Subspaces live in different spaces: {a.shape[0]} vs {b.shape[0]} rows.")
    qa, _ = torch.linalg.qr(a.to(torch.float64))
    qb, _ = torch.linalg.qr(b.to(torch.float64))
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cosines))
