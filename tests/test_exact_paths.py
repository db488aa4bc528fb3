"""The exact paths of statistics and subspaces, each against an independent dense float64 computation.

- dense statistics (more samples than the stored width, so covariances are accumulated, not factors)
  against forward hooks run one unpadded sample at a time;
- the W column-space solve (input statistics, d_out > d_in + 1) against a dense eigendecomposition of
  (1−β)C+ − βC− built from the output covariances;
- β = 1, where ΔCov = −C− has a null space and the subspace takes directions outside the solved basis:
  checked through qᵀ·ΔCov·q against the dense eigenvalues;
- the padding side: right-padded batches (what collect_statistics feeds) give the statistics of unpadded
  samples; left padding changes the positions of real tokens, which a model with absolute positions sees.
"""

from __future__ import annotations

import pytest
import torch

from sclora.models import tiny_model
from sclora.modules import find_target_modules
from sclora.statistics import collect_statistics
from sclora.subspace import reduce_covariances, sclora_subspace, tradeoff

HIDDEN = 32  # stored widths ≤ 33, so 40+ samples per set take the dense branch everywhere


def _ids(seed: int, n: int, vocab: int, lo: int = 3, hi: int = 14) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, vocab, (int(torch.randint(lo, hi, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


def _model(arch: str = "tiny-llama"):
    model, tok = tiny_model(arch, hidden_size=HIDDEN)
    model = model.double()  # float64 end to end: comparisons hold to rounding
    return model, tok, model.get_input_embeddings().num_embeddings


def _hooked_sums(model, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]) -> dict[str, list]:
    """Per sample, every target module's output summed over its real tokens, from our own forward hooks.

    ``batches``: (input_ids, attention_mask, position_ids or None); padding is excluded through the mask.
    """
    targets = find_target_modules(model)
    modules = dict(model.named_modules())
    sums: dict[str, list[torch.Tensor]] = {t.name: [] for t in targets}
    current: list[torch.Tensor] = []

    def hook(module, args, out, name):
        mask = current[0].to(torch.float64)
        sums[name].extend((out.to(torch.float64) * mask[..., None]).sum(1))

    handles = [modules[t.name].register_forward_hook(lambda m, a, o, n=t.name: hook(m, a, o, n)) for t in targets]
    try:
        with torch.no_grad():
            for ids, mask, pos in batches:
                current[:] = [mask]
                kwargs = {"position_ids": pos} if pos is not None else {}
                model(input_ids=ids, attention_mask=mask, use_cache=False, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return sums


def _covariances(sums: dict[str, list]) -> dict[str, torch.Tensor]:
    out = {}
    for name, vectors in sums.items():
        v = torch.stack(vectors)
        out[name] = v.T @ v / v.shape[0]
    return out


def _one_by_one(ids):
    return [(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long), None) for row in ids]


def _padded(ids, side: str, pad_id: int, batch_size: int, positions: bool = False):
    """Batches padded on ``side``; with ``positions``, real tokens get positions 0..T−1 whatever the padding."""
    out = []
    for start in range(0, len(ids), batch_size):
        rows = ids[start:start + batch_size]
        width = max(map(len, rows))
        x = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(x)
        pos = torch.zeros_like(x)
        for i, row in enumerate(rows):
            cols = slice(0, len(row)) if side == "right" else slice(width - len(row), width)
            x[i, cols], mask[i, cols] = torch.tensor(row), 1
            pos[i, cols] = torch.arange(len(row))
        out.append((x, mask, pos if positions else None))
    return out


def _close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-10) -> None:
    scale = float(expected.abs().max()) or 1.0
    torch.testing.assert_close(actual, expected, rtol=0, atol=rel * scale)


# ---------------------------------------------------------------------------- (a) dense statistics


@pytest.mark.parametrize("arch", ["tiny-llama", "tiny-qwen2", "tiny-gpt2"])
def test_dense_statistics_with_more_samples_than_width_equal_direct_hooks(arch):
    model, tok, vocab = _model(arch)
    ft, pr = _ids(0, 41, vocab), _ids(1, 47, vocab)
    stats = collect_statistics(model, ft, pr, batch_size=6, pad_token_id=tok.pad_token_id)
    widths = {t.shape[-1] for side in stats.matrices.values() for t in side.values()}
    assert max(widths) < min(len(ft), len(pr))  # more samples than any stored width ...
    assert stats.factored == {"finetune": [], "preserve": []}  # ... so every statistic is a dense covariance
    for side, ids in (("finetune", ft), ("preserve", pr)):
        expected = _covariances(_hooked_sums(model, _one_by_one(ids)))
        assert set(expected) == set(stats.module_names)
        for name, cov in expected.items():
            _close(stats.output_covariance(name, side), cov)


# ---------------------------------------------------------------------------- (b) W column space


def _dense_delta(stats, name, beta):
    return (1 - beta) * stats.output_covariance(name, "finetune") - beta * stats.output_covariance(name, "preserve")


def _top(matrix: torch.Tensor, r: int):
    values, vectors = torch.linalg.eigh(matrix)
    return values.flip(0), vectors.flip(1)[:, :r]


@pytest.mark.parametrize("kind", ["gate_proj", "up_proj"])
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_w_column_space_solve_equals_dense_eigendecomposition(kind, beta):
    model, tok, vocab = _model()
    stats = collect_statistics(model, _ids(2, 45, vocab), _ids(3, 40, vocab), pad_token_id=tok.pad_token_id)
    name = next(m.name for m in stats.modules if m.kind == kind and m.layer == 1)
    module = stats.module(name)
    assert stats.group_of(name).stored == "input" and module.d_out > module.d_in + 1
    assert stats.output_factor(name, "finetune") is None  # dense statistics: the W column-space branch
    reduced = reduce_covariances(stats, name)
    assert reduced.basis is not None and reduced.basis.shape == (module.d_out, module.d_in + 1)

    rank = 4
    dense_values, dense_q = _top(_dense_delta(stats, name, beta), rank)
    assert dense_values[rank - 1] - dense_values[rank] > 1e-6 * dense_values.abs().max()  # a unique subspace
    sub = sclora_subspace(stats, name, beta, rank)
    scale = float(dense_values.abs().max())
    torch.testing.assert_close(sub.eigenvalues, dense_values, rtol=0, atol=1e-10 * scale)
    torch.testing.assert_close(sub.basis @ sub.basis.T, dense_q @ dense_q.T, rtol=0, atol=1e-8)
    c_plus, c_minus = stats.output_covariance(name, "finetune"), stats.output_covariance(name, "preserve")
    row = tradeoff(stats, rank, [beta], modules=[name]).iloc[0]
    assert row["reward"] == pytest.approx(float(dense_values[:rank].sum()), rel=1e-9, abs=1e-10 * scale)
    for key, cov in (("finetune_energy", c_plus), ("preserve_energy", c_minus)):
        expected = float(torch.trace(dense_q.T @ cov @ dense_q) / torch.trace(cov))
        assert row[key] == pytest.approx(expected, rel=1e-8, abs=1e-12)


# ---------------------------------------------------------------------------- (c) β = 1, complement directions


@pytest.mark.parametrize("case", ["stored samples (N+ + N- < d_out)", "W column space (dense, d_out > d_in + 1)"])
@pytest.mark.parametrize("rank", [4, "past the null space"])
def test_beta_one_complement_directions_through_qt_delta_q(case, rank):
    model, tok, vocab = _model()
    if case.startswith("stored"):
        stats = collect_statistics(model, _ids(4, 5, vocab), _ids(5, 3, vocab), pad_token_id=tok.pad_token_id)
        name = next(m.name for m in stats.modules if m.kind == "q_proj" and m.layer == 1)
        assert stats.output_factor(name, "preserve") is not None
    else:
        stats = collect_statistics(model, _ids(6, 40, vocab), _ids(7, 40, vocab), pad_token_id=tok.pad_token_id)
        name = next(m.name for m in stats.modules if m.kind == "up_proj" and m.layer == 0)
        assert stats.output_factor(name, "preserve") is None
    reduced = reduce_covariances(stats, name)
    d_out = stats.module(name).d_out
    assert reduced.basis is not None and reduced.basis.shape[1] < d_out  # directions outside the solved basis

    delta = _dense_delta(stats, name, 1.0)  # = −C−, negative semi-definite with a null space
    values = torch.linalg.eigvalsh(delta).flip(0)
    scale = float(values.abs().max())
    null = int((values.abs() <= 1e-9 * scale).sum())
    assert null >= 4
    r = 4 if rank == 4 else null + 2  # past the null space: two negative directions too
    sub = sclora_subspace(stats, name, 1.0, r)
    q = sub.basis
    assert q.shape == (d_out, r)
    torch.testing.assert_close(q.T @ q, torch.eye(r, dtype=q.dtype), rtol=0, atol=1e-10)
    captured = q.T @ delta @ q
    assert float(captured.trace()) == pytest.approx(float(values[:r].sum()), abs=1e-9 * scale)
    diag = captured.diagonal().sort(descending=True).values
    torch.testing.assert_close(diag[: min(r, null)], torch.zeros(min(r, null), dtype=q.dtype), rtol=0,
                               atol=1e-9 * scale)  # complement directions add nothing
    assert sub.reward == pytest.approx(float(values[:r].sum()), abs=1e-9 * scale)
    if r > null:  # the directions past the null space are the least negative eigenvalues of −C−
        torch.testing.assert_close(diag[null:], values[null:r], rtol=0, atol=1e-9 * scale)


# ---------------------------------------------------------------------------- (d) padding side


def test_right_padded_batches_give_unpadded_statistics_and_left_padding_would_not():
    model, tok, vocab = _model("tiny-gpt2")  # absolute position embeddings: the padding side shows
    ids = _ids(8, 12, vocab, lo=2, hi=20)
    reference = _covariances(_hooked_sums(model, _one_by_one(ids)))
    right = _covariances(_hooked_sums(model, _padded(ids, "right", tok.pad_token_id, batch_size=5)))
    left = _covariances(_hooked_sums(model, _padded(ids, "left", tok.pad_token_id, batch_size=5)))
    left_with_positions = _covariances(_hooked_sums(
        model, _padded(ids, "left", tok.pad_token_id, batch_size=5, positions=True)))
    for name in reference:
        _close(right[name], reference[name])
        _close(left_with_positions[name], reference[name])
    worst = max(float((left[n] - reference[n]).abs().max() / reference[n].abs().max()) for n in reference)
    assert worst > 1e-3  # left padding shifts real tokens' positions: a different statistic

    # collect_statistics pads on the right itself: the same samples in batches of other sizes, orders,
    # padding amounts and pad ids give the unpadded statistics.
    for batch_size, order, pad in ((1, ids, 0), (5, ids, tok.pad_token_id), (12, ids[::-1], vocab - 1)):
        stats = collect_statistics(model, order, order, batch_size=batch_size, pad_token_id=pad)
        for name, cov in reference.items():
            _close(stats.output_covariance(name, "finetune"), cov)
