import math

import pytest
import torch

from sclora import SCLoRAError
from sclora.models import tiny_model
from sclora.statistics import collect_statistics
from sclora.subspace import (
    NonUniqueSubspaceWarning, principal_angles, sclora_subspace, sclora_subspaces, spectra, tradeoff,
    tradeoff_totals,
)


def _ids(seed, n, vocab=256):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, vocab, (int(torch.randint(4, 16, (1,), generator=g)),), generator=g).tolist() for _ in range(n)]


@pytest.fixture(scope="module")
def stats():
    model, _ = tiny_model("tiny-llama")
    return collect_statistics(model, _ids(0, 40), _ids(1, 30))


def _reward(stats, name, q, beta):
    cp, cm = stats.output_covariance(name, "finetune"), stats.output_covariance(name, "preserve")
    return float((1 - beta) * (q * (cp @ q)).sum() - beta * (q * (cm @ q)).sum())


def _dense_delta(stats, name, beta):
    return (1 - beta) * stats.output_covariance(name, "finetune") - beta * stats.output_covariance(name, "preserve")


def test_sclora_subspace_maximises_reward(stats):
    g = torch.Generator().manual_seed(0)
    for name in stats.module_names[:7]:
        for beta in (0.0, 0.5, 0.9):
            sub = sclora_subspace(stats, name, beta, 4)
            q = sub.basis
            torch.testing.assert_close(q.T @ q, torch.eye(4, dtype=q.dtype), atol=1e-10, rtol=0)
            best = _reward(stats, name, q, beta)
            assert math.isclose(best, sub.reward, rel_tol=1e-8, abs_tol=1e-10)
            d = q.shape[0]
            for _ in range(20):  # random subspaces never beat it
                rand, _ = torch.linalg.qr(torch.randn(d, 4, generator=g, dtype=torch.float64))
                assert _reward(stats, name, rand, beta) <= best + 1e-9
            # nor do the subspaces chosen for other β
            for other in (0.0, 0.5, 1.0):
                assert _reward(stats, name, sclora_subspace(stats, name, other, 4).basis, beta) <= best + 1e-9


def test_reduced_basis_matches_dense_eigendecomposition(stats):
    # gate_proj/up_proj have d_out (128) > d_in + 1 (65): solved in W's column space.
    for name in [n for n in stats.module_names if n.endswith(("gate_proj", "up_proj", "q_proj", "down_proj"))]:
        for beta in (0.0, 0.3, 1.0):
            sub = sclora_subspace(stats, name, beta, 6)
            dense = torch.linalg.eigvalsh(_dense_delta(stats, name, beta)).flip(0)
            torch.testing.assert_close(sub.eigenvalues, dense, rtol=1e-7, atol=1e-9)
            assert math.isclose(sub.reward, float(dense[:6].sum()), rel_tol=1e-7, abs_tol=1e-9)


def test_beta_zero_gives_top_principal_directions_of_finetune(stats):
    name = stats.module_names[0]
    sub = sclora_subspace(stats, name, 0.0, 3)
    _, vecs = torch.linalg.eigh(stats.output_covariance(name, "finetune"))
    top = vecs[:, -3:]
    assert principal_angles(sub.basis, top).max() < 1e-3


def test_energies_and_extremes(stats):
    name = stats.module_names[0]
    d = stats.module(name).d_out
    full = sclora_subspace(stats, name, 0.5, d)
    assert full.finetune_energy == pytest.approx(1.0) and full.preserve_energy == pytest.approx(1.0)
    lo, hi = sclora_subspace(stats, name, 0.0, 4), sclora_subspace(stats, name, 1.0, 4)
    assert lo.finetune_energy > hi.finetune_energy and lo.preserve_energy > hi.preserve_energy


def test_tradeoff_table_and_totals(stats):
    table = tradeoff(stats, rank=4, betas=[0, 0.5, 1])
    assert list(table.columns[:7]) == ["module", "layer", "kind", "beta", "finetune_energy", "preserve_energy", "reward"]
    assert len(table) == 3 * len(stats.modules)
    assert table.finetune_energy.between(-1e-9, 1 + 1e-9).all() and table.preserve_energy.between(-1e-9, 1 + 1e-9).all()
    # preserve energy never increases with β (a consequence of optimality)
    for _, rows in table.groupby("module"):
        pe = rows.sort_values("beta").preserve_energy.to_numpy()
        assert (pe[1:] <= pe[:-1] + 1e-9).all()
    totals = tradeoff_totals(table)
    assert list(totals.beta) == [0.0, 0.5, 1.0] and totals.preserve_energy.is_monotonic_decreasing


def test_tradeoff_over_many_ranks_equals_one_subspace_per_rank(stats):
    """One eigendecomposition per (module, β) serves every rank: the rows equal separate solves."""
    ranks = [1, 3, 8, 20]
    table = tradeoff(stats, ranks, [0.2, 0.9, 1.0])  # β = 1: no positive eigenvalues, the complement ranks first
    assert len(table) == len(ranks) * 3 * len(stats.modules)
    for name in stats.module_names[::3]:
        for beta in (0.2, 0.9, 1.0):
            for r in ranks:
                row = table[(table.module == name) & (table.beta == beta) & (table["rank"] == r)].iloc[0]
                sub = sclora_subspace(stats, name, beta, r)
                assert row.finetune_energy == pytest.approx(sub.finetune_energy, abs=1e-9)
                assert row.preserve_energy == pytest.approx(sub.preserve_energy, abs=1e-9)
                assert row.reward == pytest.approx(sub.reward, rel=1e-9, abs=1e-12)
    one = tradeoff(stats, 8, [0.2])
    assert set(one["rank"]) == {8}


def test_spectra_and_subspaces(stats):
    name = stats.module_names[4]
    sp = spectra(stats, name, 0.5)
    assert set(sp) == {"finetune", "preserve", "delta"}
    assert (sp["finetune"][:-1] >= sp["finetune"][1:]).all() and sp["finetune"].min() > -1e-8
    subs = sclora_subspaces(stats, 0.5, 4)
    assert set(subs) == set(stats.module_names)
    assert all(q.dtype == torch.float32 and q.shape == (stats.module(n).d_out, 4) for n, q in subs.items())


def test_parameter_errors(stats):
    name = stats.module_names[0]
    for beta in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(SCLoRAError, match="beta"):
            sclora_subspace(stats, name, beta, 4)
    for rank in (0, -1, 2.5):
        with pytest.raises(SCLoRAError, match="rank"):
            sclora_subspace(stats, name, 0.5, rank)
    with pytest.raises(SCLoRAError, match="larger than"):
        sclora_subspace(stats, name, 0.5, 10_000)
    with pytest.raises(SCLoRAError, match="no statistics"):
        sclora_subspace(stats, "model.nope", 0.5, 4)


def test_non_uniqueness_warning():
    model, _ = tiny_model("tiny-llama")
    few = collect_statistics(model, _ids(0, 5), _ids(1, 5))
    with pytest.warns(NonUniqueSubspaceWarning, match="not unique"):
        sclora_subspaces(few, 1.0, 4)


def test_principal_angles():
    e = torch.eye(4, dtype=torch.float64)
    assert principal_angles(e[:, :2], e[:, :2]).max() < 1e-6
    torch.testing.assert_close(principal_angles(e[:, :2], e[:, 2:]), torch.tensor([90.0, 90.0], dtype=torch.float64))
    with pytest.raises(SCLoRAError):
        principal_angles(e, torch.eye(3))


def test_float32_sweep_matches_float64_where_the_subspace_is_unique(stats):
    """The app's plotted β table (float32, directions below float32's resolution dropped) against float64."""
    betas, ranks = [0.0, 0.1, 0.5, 0.9], [1, 2, 4, 8]  # β = 0 is solved from C+'s N+ × N+ Gram matrix
    from sclora.subspace import FLOAT32_RTOL, reduce_covariances

    assert any(reduce_covariances(stats, n, FLOAT32_RTOL).finetune_factor is not None for n in stats.module_names)
    exact = tradeoff(stats, ranks, betas)
    fast = tradeoff(stats, ranks, betas, dtype=torch.float32)
    assert list(fast.columns) == list(exact.columns) and len(fast) == len(exact)
    assert (fast.module == exact.module).all() and (fast["rank"] == exact["rank"]).all()
    for column in ("finetune_energy", "preserve_energy"):
        assert (fast[column] - exact[column]).abs().max() < 1e-4
    scale = exact.groupby("module").reward.transform(lambda r: r.abs().max())
    assert ((fast.reward - exact.reward).abs() / scale).max() < 1e-4
    for column in ("finetune_trace", "preserve_trace"):  # from float32 factors: float32's resolution
        assert ((fast[column] - exact[column]).abs() / exact[column]).max() < 1e-5


def test_float32_reduction_keeps_only_resolvable_directions(stats):
    from sclora.subspace import FLOAT32_RTOL, reduce_covariances

    name = max(stats.modules, key=lambda m: m.d_out).name  # d_out > N+ + N−: solved in a sample basis
    full, small = reduce_covariances(stats, name), reduce_covariances(stats, name, FLOAT32_RTOL)
    assert small.basis.shape[1] <= full.basis.shape[1] < stats.module(name).d_out
    # the dropped part of C± is below float32's resolution: C± restricted to the small basis loses almost nothing
    for side, trace in (("finetune", small.finetune_trace), ("preserve", small.preserve_trace)):
        kept = float((small.finetune if side == "finetune" else small.preserve).trace())
        assert trace - kept <= 1e-5 * trace
        dense = stats.output_covariance(name, side)
        assert trace == pytest.approx(float(dense.trace()), rel=1e-5)  # summed from float32 factors


def test_positive_eigenpairs_from_the_gram_matrix_match_a_full_solve():
    from sclora.subspace import _positive_eigenpairs

    g = torch.Generator().manual_seed(0)
    for n, k in ((6, 10), (12, 5)):  # fewer samples than directions, and more (rank k, rounding leaves extra > 0)
        z = torch.randn(n, k, generator=g)
        values, vectors = _positive_eigenpairs(z, top=3, k=k, device=torch.device("cpu"))
        assert values.shape == (k,) and vectors.shape[0] == k
        full_values, full_vectors = torch.linalg.eigh(z.T @ z)
        torch.testing.assert_close(values[:3], full_values.flip(0)[:3], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close((vectors[:, :3].T @ full_vectors.flip(1)[:, :3]).abs(), torch.eye(3), atol=1e-3, rtol=0)
    assert _positive_eigenpairs(torch.zeros(4, 6), top=2, k=6, device=torch.device("cpu")) is None
