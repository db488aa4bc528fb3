"""Initialisations on tiny models: base untouched, outputs unchanged, the right subspaces, clear errors."""

from __future__ import annotations

import hashlib

import pytest
import torch

from sclora.errors import SCLoRAError
from sclora.inits import (METHODS, RESIDUAL_METHODS, corda_input_covariance, init_adapters, method_output_basis,
                          method_output_directions)
from sclora.models import tiny_model
from sclora.modules import find_target_modules, weight_matrix

ARCHS = ("tiny-llama", "tiny-qwen2", "tiny-gpt2")
RANK = 4

# transformers 5 deprecation warning raised inside PEFT's get_peft_model, not ours
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def checksum(model: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer, in order: any change to any weight shows."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def random_subspaces(model, rank: int = RANK, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {t.name: torch.linalg.qr(torch.randn(t.d_out, rank, generator=g, dtype=torch.float64))[0]
            for t in find_target_modules(model)}


def token_lists(seed: int, lengths=(3, 9, 1, 17, 6)) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, 250, (n,), generator=g).tolist() for n in lengths]


@pytest.fixture(scope="module", params=ARCHS)
def tiny(request):
    model, _ = tiny_model(request.param)
    ids = torch.randint(5, 250, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(ids).logits
    return request.param, model, ids, logits


def make(model, method, rank=RANK, **kw):
    kw.setdefault("subspaces", random_subspaces(model, rank))
    kw.setdefault("finetune_ids", token_lists(1))
    kw.setdefault("preserve_ids", token_lists(2))
    return init_adapters(model, method, rank=rank, **kw)


def lora_layer(peft_model, name):
    return peft_model.base_model.model.get_submodule(name)


# --------------------------------------------------------------------------- every method


@pytest.mark.parametrize("method", METHODS)
def test_base_untouched_outputs_unchanged_only_lora_trainable(tiny, method):
    arch, model, ids, logits = tiny
    before = checksum(model)
    pm = make(model, method, alpha=2 * RANK)  # scaling 2: the methods must account for it
    assert checksum(model) == before, f"{method} modified the base model"

    with torch.no_grad():
        out = pm(ids).logits
    torch.testing.assert_close(out, logits, atol=1e-5, rtol=0)

    targets = find_target_modules(model)
    trainable = {n: p for n, p in pm.named_parameters() if p.requires_grad}
    assert len(trainable) == 2 * len(targets)
    assert all(".lora_A." in n or ".lora_B." in n for n in trainable)
    originals = dict(model.named_modules())
    for t in targets:
        layer = lora_layer(pm, t.name)
        assert layer.lora_A["default"].weight.shape == (RANK, t.d_in)
        assert layer.lora_B["default"].weight.shape == (t.d_out, RANK)
        assert layer.scaling["default"] == 2.0
        w_res = weight_matrix(layer.get_base_layer())
        w0 = weight_matrix(originals[t.name])
        if method in RESIDUAL_METHODS:  # a real residual, and a real adapter
            # (MiLoRA moves only W0's smallest singular values, hence a relative test)
            assert (w_res - w0).norm() > 1e-4 * w0.norm()
            assert layer.lora_B["default"].weight.abs().max() > 1e-3
        else:
            assert torch.equal(w_res, w0)
            assert torch.count_nonzero(layer.lora_B["default"].weight) == 0
        bias = getattr(layer.get_base_layer(), "bias", None)
        if bias is not None:
            assert torch.equal(bias, originals[t.name].bias)

    # The initial adapter is recorded for export, equal to the live adapter at init.
    init = pm.sclora_initial_adapter
    assert pm.sclora_method == method and len(init) == 2 * len(targets)
    live = {n.replace(".default", ""): p for n, p in trainable.items()}
    for key, value in init.items():
        assert value.device.type == "cpu"
        assert torch.equal(value, live[key].detach().cpu())


def test_same_base_serves_every_method_in_turn():
    model, _ = tiny_model("tiny-qwen2")
    before = checksum(model)
    ids = torch.randint(5, 250, (1, 8), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(ids).logits
    for method in METHODS:
        pm = make(model, method)
        with torch.no_grad():
            torch.testing.assert_close(pm(ids).logits, ref, atol=1e-5, rtol=0)
        assert checksum(model) == before, f"base model changed after {method}"


def test_returned_model_keeps_train_mode_and_device_dtype():
    model, _ = tiny_model("tiny-llama")
    model.train()
    pm = make(model, "sclora")
    assert pm.training and model.training
    model.eval()
    assert not make(model, "pissa").training
    assert all(p.dtype == torch.float32 for p in pm.parameters())


def test_progress_callback_reaches_total():
    model, _ = tiny_model("tiny-llama")
    for method in ("sclora", "milora", "corda-ipm"):
        calls = []
        make(model, method, progress=lambda d, t, desc: calls.append((d, t, desc)))
        assert calls and calls[-1][0] == calls[-1][1] > 0
        assert all(isinstance(desc, str) and desc for _, _, desc in calls)


# --------------------------------------------------------------------------- sclora


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("alpha", [RANK, 3 * RANK])
def test_sclora_b_is_q_and_a_is_qt_w0(arch, alpha):
    model, _ = tiny_model(arch)
    subspaces = random_subspaces(model)
    pm = init_adapters(model, "sclora", rank=RANK, alpha=alpha, subspaces=subspaces)
    originals = dict(model.named_modules())
    for name, q in subspaces.items():
        layer = lora_layer(pm, name)
        s = layer.scaling["default"]
        assert s == alpha / RANK
        B = layer.lora_B["default"].weight.double()
        A = layer.lora_A["default"].weight.double()
        w0 = weight_matrix(originals[name]).double()
        torch.testing.assert_close(B, q, atol=1e-6, rtol=0)            # B = Q exactly (up to float32)
        torch.testing.assert_close(s * A, q.T @ w0, atol=1e-5, rtol=0)  # s·A = Qᵀ W0
        # the residual is W0 with its Q-component removed: Qᵀ W_res = 0
        w_res = weight_matrix(layer.get_base_layer()).double()
        torch.testing.assert_close(w_res, w0 - q @ q.T @ w0, atol=1e-5, rtol=0)
        assert (q.T @ w_res).abs().max() < 1e-5


def test_sclora_ignores_extra_keys_and_accepts_float32():
    model, _ = tiny_model("tiny-llama")
    subspaces = {k: v.float() for k, v in random_subspaces(model).items()}
    subspaces.update({f"{k}.eigenvalues": torch.ones(RANK) for k in list(subspaces)})
    init_adapters(model, "sclora", rank=RANK, subspaces=subspaces)


def test_sclora_on_a_subset_of_modules():
    model, _ = tiny_model("tiny-gpt2")
    names = [t.name for t in find_target_modules(model) if t.kind == "c_attn"]
    subspaces = {k: v for k, v in random_subspaces(model).items() if k in names}
    pm = init_adapters(model, "sclora", rank=RANK, target_modules=names, subspaces=subspaces)
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in pm.named_parameters() if ".lora_A." in n}
    assert {a.split("base_model.model.", 1)[1] for a in adapted} == set(names)


def _bad(subspaces, name, value=None, drop=False):
    out = dict(subspaces)
    if drop:
        del out[name]
    else:
        out[name] = value
    return out


def test_sclora_subspace_errors():
    model, _ = tiny_model("tiny-llama")
    good = random_subspaces(model)
    name = next(iter(good))
    q = good[name]
    nan = q.clone()
    nan[0, 0] = float("nan")
    cases = [
        (None, "needs subspaces"),
        ({}, "needs subspaces"),
        (_bad(good, name, drop=True), "no entry"),
        (_bad(good, name, q[:, :2]), r"shape \(64, 2\)"),
        (_bad(good, name, q[:-1]), "expected"),
        (_bad(good, name, q[:, 0]), "2-D"),
        (_bad(good, name, nan), "NaN"),
        (_bad(good, name, 2 * q), "orthonormal"),
        (_bad(good, name, q.numpy()), "2-D tensor"),
    ]
    for subspaces, match in cases:
        with pytest.raises(SCLoRAError, match=match):
            init_adapters(model, "sclora", rank=RANK, subspaces=subspaces)
    with pytest.raises(SCLoRAError, match="rank must equal"):
        init_adapters(model, "sclora", rank=RANK + 1, subspaces=good)


# --------------------------------------------------------------------------- pissa / milora


@pytest.mark.parametrize("arch", ["tiny-llama", "tiny-gpt2"])
@pytest.mark.parametrize("method", ["pissa", "milora"])
def test_svd_methods_span_their_singular_vectors(arch, method):
    model, _ = tiny_model(arch)
    pm = init_adapters(model, method, rank=RANK, alpha=2 * RANK)
    originals = dict(model.named_modules())
    for t in find_target_modules(model):
        layer = lora_layer(pm, t.name)
        basis = method_output_basis(model, t.name, method, RANK).double()
        assert basis.shape == (t.d_out, RANK)
        B = layer.lora_B["default"].weight.double()
        # B's columns lie in span(basis): projecting on it changes nothing
        torch.testing.assert_close(basis @ (basis.T @ B), B, atol=1e-4, rtol=0)
        # s·B·A is the top / bottom rank-r SVD part of W0
        w0 = weight_matrix(originals[t.name]).double()
        U, S, Vh = torch.linalg.svd(w0, full_matrices=False)
        part = slice(0, RANK) if method == "pissa" else slice(-RANK, None)
        expected = U[:, part] @ torch.diag(S[part]) @ Vh[part]
        s = layer.scaling["default"]
        torch.testing.assert_close(s * B @ layer.lora_A["default"].weight.double(), expected, atol=1e-4, rtol=0)


def test_method_output_basis_is_orthonormal_and_disjoint():
    model, _ = tiny_model("tiny-llama")
    name = find_target_modules(model)[0].name
    top = method_output_basis(model, name, "pissa", RANK).double()
    bottom = method_output_basis(model, name, "milora", RANK).double()
    torch.testing.assert_close(top.T @ top, torch.eye(RANK, dtype=torch.float64), atol=1e-5, rtol=0)
    assert (top.T @ bottom).abs().max() < 1e-5
    with pytest.raises(SCLoRAError, match="Output bases exist for"):
        method_output_basis(model, name, "sclora", RANK)
    with pytest.raises(SCLoRAError, match="no linear module"):
        method_output_basis(model, "model.nope", "pissa", RANK)
    with pytest.raises(SCLoRAError, match="between 1 and 64"):
        method_output_basis(model, name, "pissa", 65)


# --------------------------------------------------------------------------- corda


@pytest.mark.parametrize("arch", ["tiny-llama", "tiny-gpt2"])
@pytest.mark.parametrize("method", ["corda-kpm", "corda-ipm"])
def test_corda_output_basis_is_the_span_of_peft_corda_b(arch, method):
    """Our CorDA directions (partial forwards, float64) span the B that PEFT's own CorDA init writes."""
    from sclora.subspace import principal_angles

    model, _ = tiny_model(arch)
    samples = token_lists(2 if method == "corda-kpm" else 1)
    pm = make(model, method)
    for t in find_target_modules(model)[:: 3]:
        basis = method_output_basis(model, t.name, method, RANK, samples=samples).double()
        B = lora_layer(pm, t.name).lora_B["default"].weight.double()
        # PEFT computes in float32; a few tenths of a degree is rounding, a wrong subspace is tens of degrees
        assert principal_angles(basis, B).max() < 1.0, t.name
    other = "corda-ipm" if method == "corda-kpm" else "corda-kpm"
    name = find_target_modules(model)[0].name
    assert principal_angles(method_output_basis(model, name, method, RANK, samples=samples),
                            method_output_basis(model, name, other, RANK, samples=samples)).min() > 30


def test_corda_input_covariance_matches_a_full_forward_and_ignores_other_threads():
    """The partial forward sees the module's real input; a concurrent forward in another thread is not counted."""
    import threading

    model, _ = tiny_model("tiny-llama")
    name = find_target_modules(model)[-1].name  # the last layer: the whole model runs before it
    samples = token_lists(3)
    seen = []
    handle = model.get_submodule(name).register_forward_pre_hook(lambda m, a: seen.append(a[0][0].double()))
    with torch.no_grad():
        for ids in samples:
            model(input_ids=torch.tensor([ids]))
    handle.remove()
    expected = sum((x / x.max().abs()).T @ (x / x.max().abs()) for x in seen) / len(samples)

    stop = threading.Event()

    def other_user():
        while not stop.is_set():
            with torch.no_grad():
                model(input_ids=torch.tensor([[7, 8, 9, 10]]))

    thread = threading.Thread(target=other_user)
    thread.start()
    try:
        got = corda_input_covariance(model, name, samples)
    finally:
        stop.set()
        thread.join()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not model.get_submodule(name)._forward_pre_hooks  # hook removed
    with pytest.raises(SCLoRAError, match="needs token samples"):
        method_output_directions(model, name, "corda-kpm")
    with pytest.raises(SCLoRAError, match="outside the vocabulary"):
        corda_input_covariance(model, name, [[10**6]])



def _adapter(pm):
    return {n: p.detach().clone() for n, p in pm.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("method", ["corda-kpm", "corda-ipm"])
def test_corda_adapter_is_the_one_peft_builds_with_its_own_per_sample_pass(arch, method):
    """Batched covariances handed to PEFT give the adapter PEFT's own one-sample-per-forward pass gives."""
    from benchmarks.measurements import adapter_deltas, peft_corda_adapter

    model, _ = tiny_model(arch)
    samples = token_lists(4, (3, 9, 1, 17, 6, 30, 2, 11))
    ids = {"preserve_ids": samples} if method == "corda-kpm" else {"finetune_ids": samples}
    ours = init_adapters(model, method, rank=RANK, **ids)
    reference = peft_corda_adapter(model, method, RANK, samples)
    assert ours.peft_config["default"].corda_config.covariance_file is None
    got, want = adapter_deltas(ours), adapter_deltas(reference)
    assert got.keys() == want.keys() and len(got) == len(find_target_modules(model))
    for name in want:
        torch.testing.assert_close(got[name], want[name], atol=2e-5, rtol=1e-3)
    for (name, p), (_, q) in zip(ours.named_parameters(), reference.named_parameters()):
        if "base_layer" in name:  # the frozen residual W0 − B·A
            torch.testing.assert_close(p, q, atol=2e-5, rtol=1e-3)


def test_corda_covariances_of_several_modules_are_each_ones_own():
    """Modules fed the same tensor (q/k/v) share one product; every module gets what it alone would."""
    from sclora.inits import corda_input_covariances

    model, _ = tiny_model("tiny-llama")
    names = [t.name for t in find_target_modules(model)]
    samples = token_lists(5)
    together = corda_input_covariances(model, names, samples, batch_size=2)
    for name in (names[0], names[1], names[len(names) // 2], names[-1]):
        torch.testing.assert_close(together[name], corda_input_covariance(model, name, samples, batch_size=2),
                                   atol=1e-12, rtol=1e-10)
    q, k = (together[n] for n in names[:2])
    assert q is k and not torch.equal(together[names[0]], together[names[-1]])


def test_corda_feeds_kpm_the_preserve_data_and_ipm_the_finetune_data():
    model, _ = tiny_model("tiny-llama")
    fin, pre, other = token_lists(1), token_lists(2, (4, 12, 2)), token_lists(3, (20, 5))

    def adapter(method, finetune_ids, preserve_ids):
        return _adapter(init_adapters(model, method, rank=RANK, finetune_ids=finetune_ids, preserve_ids=preserve_ids))

    kpm, ipm = adapter("corda-kpm", fin, pre), adapter("corda-ipm", fin, pre)
    kpm_other_fin, kpm_other_pre = adapter("corda-kpm", other, pre), adapter("corda-kpm", fin, other)
    ipm_other_pre, ipm_other_fin = adapter("corda-ipm", fin, other), adapter("corda-ipm", other, pre)
    for key in kpm:
        assert torch.equal(kpm[key], kpm_other_fin[key]) and torch.equal(ipm[key], ipm_other_pre[key])
    assert any(not torch.allclose(kpm[k], kpm_other_pre[k]) for k in kpm)
    assert any(not torch.allclose(ipm[k], ipm_other_fin[k]) for k in ipm)
    assert any(not torch.allclose(kpm[k], ipm[k]) for k in kpm)


@pytest.mark.parametrize("arch", ARCHS)
def test_corda_leaves_no_hooks_or_temporary_fields(arch):
    model, _ = tiny_model(arch)
    foreign = find_target_modules(model)[0].name
    handle = model.get_submodule(foreign).register_forward_hook(lambda *a: None)  # someone else's hook
    try:
        hooks_before = sum(len(m._forward_hooks) for m in model.modules())
        pm = init_adapters(model, "corda-kpm", rank=RANK, preserve_ids=token_lists(2))
        for m in pm.modules():
            assert not {"eigens", "covariance_matrix", "sample_count", "corda_method"} & set(vars(m))
        # the copy keeps the foreign hook and gains none; the base keeps its own
        assert sum(len(m._forward_hooks) for m in pm.modules()) == hooks_before
        assert sum(len(m._forward_hooks) for m in model.modules()) == hooks_before
    finally:
        handle.remove()


def test_corda_data_errors():
    model, _ = tiny_model("tiny-llama")
    with pytest.raises(SCLoRAError, match="needs preserve_ids"):
        init_adapters(model, "corda-kpm", rank=RANK, finetune_ids=token_lists(1))
    with pytest.raises(SCLoRAError, match="needs finetune_ids"):
        init_adapters(model, "corda-ipm", rank=RANK, preserve_ids=token_lists(1), finetune_ids=[])
    with pytest.raises(SCLoRAError, match=r"finetune_ids\[1\] is empty"):
        init_adapters(model, "corda-ipm", rank=RANK, finetune_ids=[[5, 6], []])
    with pytest.raises(SCLoRAError, match="outside the vocabulary"):
        init_adapters(model, "corda-ipm", rank=RANK, finetune_ids=[[5, 10_000]])
    with pytest.raises(SCLoRAError, match="more than the model's context length 512"):
        init_adapters(model, "corda-kpm", rank=RANK, preserve_ids=[[5] * 513])
    with pytest.raises(SCLoRAError, match="integer token ids"):
        init_adapters(model, "corda-ipm", rank=RANK, finetune_ids=[[5.0, 6.0]])


# --------------------------------------------------------------------------- lora and arguments


def test_lora_is_seeded_and_leaves_the_global_rng_alone():
    model, _ = tiny_model("tiny-llama")
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = _adapter(init_adapters(model, "lora", rank=RANK, seed=7))
    assert torch.equal(torch.rand(3), expected_next)
    b = _adapter(init_adapters(model, "lora", rank=RANK, seed=7))
    c = _adapter(init_adapters(model, "lora", rank=RANK, seed=8))
    key = next(k for k in a if ".lora_A." in k)
    assert torch.equal(a[key], b[key]) and not torch.equal(a[key], c[key])


def test_argument_errors():
    model, _ = tiny_model("tiny-llama")
    with pytest.raises(SCLoRAError, match="Unknown initialisation method 'dora'"):
        init_adapters(model, "dora", rank=RANK)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(SCLoRAError, match="rank must be a positive integer"):
            init_adapters(model, "lora", rank=bad)
    with pytest.raises(SCLoRAError, match="rank 65 is too large for pissa"):
        init_adapters(model, "pissa", rank=65)
    with pytest.raises(SCLoRAError, match="alpha must be a positive number"):
        init_adapters(model, "lora", rank=RANK, alpha=0)
    with pytest.raises(SCLoRAError, match="needs a float32, float16 or bfloat16 model"):
        init_adapters(tiny_model("tiny-llama")[0].double(), "pissa", rank=RANK)
    with pytest.raises(SCLoRAError, match="no module named 'model.layers.9.mlp.up_proj'"):
        init_adapters(model, "lora", rank=RANK, target_modules=["model.layers.9.mlp.up_proj"])
    with pytest.raises(SCLoRAError, match="not a linear layer"):
        init_adapters(model, "lora", rank=RANK, target_modules=["model.layers.0.mlp"])
    with pytest.raises(SCLoRAError, match="twice"):
        init_adapters(model, "lora", rank=RANK, target_modules=["model.layers.0.mlp.up_proj"] * 2)


def test_bfloat16_base_stays_bfloat16_and_outputs_close():
    model, _ = tiny_model("tiny-llama")
    model = model.to(torch.bfloat16)
    ids = torch.randint(5, 250, (1, 8), generator=torch.Generator().manual_seed(4))
    before = checksum(model)
    with torch.no_grad():
        ref = model(ids).logits.float()
        for method in ("sclora", "milora"):
            pm = make(model, method)
            for name, p in pm.named_parameters():  # PEFT keeps adapters in float32 on a bf16 base
                assert p.dtype == (torch.float32 if ".lora_" in name else torch.bfloat16), name
            # bf16 keeps ~3 significant digits; the residual is formed from the rounded factors
            assert (pm(ids).logits.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert checksum(model) == before
