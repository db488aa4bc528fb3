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
from typing import Callable, Iterable

import pandas as pd
import torch

from .errors import check
from .statistics import Statistics

DEFAULT_BETAS = tuple(round(0.1 * i, 1) for i in range(11))


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

    def delta(self, beta: float) -> torch.Tensor:
        return (1.0 - beta) * self.finetune - beta * self.preserve

    def lift(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors if self.basis is None else self.basis @ vectors


def reduce_covariances(stats: Statistics, name: str) -> ReducedCovariances:
    """The module's C+ and C− in the smallest exact basis (see the module docstring).

    Three cases, smallest first: stored samples (C± = Y±ᵀY±, solved in the span of the N+ + N−
    output sample vectors); input statistics with d_out > d_in+1 (W's column space); else the
    output covariances themselves.
    """
    group = stats.group_of(name)
    d_out = stats.module(name).d_out
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
    if reduced.basis is None:
        q = vectors[:, :rank]
    else:
        # ΔCov is 0 on the complement of the basis: its zero eigenvalues rank below the positive
        # eigenvalues of the reduced problem and above the negative ones.
        k = values.numel()
        n_pos = min(int((values > 0).sum()), rank)
        n_zero = min(rank - n_pos, module.d_out - k)
        n_neg = rank - n_pos - n_zero
        parts = [reduced.basis @ vectors[:, :n_pos]]
        if n_zero:
            parts.append(_orthogonal_complement(reduced.basis, n_zero))
        if n_neg:
            parts.append(reduced.basis @ vectors[:, n_pos : n_pos + n_neg])
        q = torch.cat(parts, dim=1)
        values = torch.cat([values, values.new_zeros(module.d_out - k)]).sort(descending=True).values
    ef, ep = _energies(reduced, q if reduced.basis is None else reduced.basis.T @ q)
    return Subspace(name, float(beta), rank, q, values, ef, ep)


def _orthogonal_complement(basis: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` orthonormal directions orthogonal to ``basis`` (deterministic; ΔCov is 0 there)."""
    g = torch.randn(basis.shape[0], count, generator=torch.Generator().manual_seed(0), dtype=basis.dtype)
    for _ in range(2):  # project twice: one Gram-Schmidt pass loses orthogonality in rounding
        g = g - basis @ (basis.T @ g)
    return torch.linalg.qr(g)[0]


def _energies(reduced: ReducedCovariances, q_reduced: torch.Tensor) -> tuple[float, float]:
    """e± = tr(QᵀC±Q)/tr(C±) with Q expressed in the reduced basis."""
    captured_f = float((q_reduced * (reduced.finetune @ q_reduced)).sum())
    captured_p = float((q_reduced * (reduced.preserve @ q_reduced)).sum())
    return (captured_f / reduced.finetune_trace if reduced.finetune_trace > 0 else 0.0,
            captured_p / reduced.preserve_trace if reduced.preserve_trace > 0 else 0.0)


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
    rank: int,
    betas: Iterable[float] = DEFAULT_BETAS,
    modules: list[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """β sweep over modules: one row per (module, β) with energies and the reward.

    Each module's reduced covariances are built once and reused for every β.
    """
    betas = [float(b) for b in betas]
    check(len(betas) > 0, "Give at least one β value.")
    for b in betas:
        check_beta_rank(b, rank)
    names = modules or stats.module_names
    rows = []
    for i, name in enumerate(names):
        info = stats.module(name)
        check(rank <= info.d_out, f"rank {rank} is larger than the output size {info.d_out} of {name}.")
        reduced = reduce_covariances(stats, name)
        for beta in betas:
            sub = sclora_subspace(stats, name, beta, rank, reduced=reduced)
            rows.append(dict(
                module=name, layer=info.layer, kind=info.kind, beta=beta,
                finetune_energy=sub.finetune_energy, preserve_energy=sub.preserve_energy, reward=sub.reward,
                finetune_trace=reduced.finetune_trace, preserve_trace=reduced.preserve_trace,
            ))
        if progress is not None:
            progress(i + 1, len(names), "β sweep")
    return pd.DataFrame(rows)


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
