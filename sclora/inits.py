"""Adapter initialisations: LoRA, PiSSA, MiLoRA, CorDA (KPM/IPM) and SC-LoRA, all as PEFT models.

``init_adapters(base_model, method, rank=r, ...)`` returns an ordinary ``peft.PeftModel`` with
trainable ``lora_A``/``lora_B`` only. It never touches ``base_model``: every method works on a deep
copy, so one loaded model serves every method of a comparison.

Residual methods move part of W0 into the adapter and freeze the rest, so the model is unchanged at
step 0 (up to rounding):

    W0 = W_res + s·B0·A0,   s = alpha / r (PEFT's scaling)

- ``pissa``  (PEFT's own): B0·A0 = top-r SVD part of W0.
- ``milora``: B0·A0 = bottom-r SVD part of W0 (minor singular components).
- ``corda-kpm`` / ``corda-ipm`` (PEFT's own): SVD of W0·C with C the input covariance of the preserve
  data (KPM, least components) or of the fine-tune data (IPM, top components).
- ``sclora``: B0 = Q (the SC-LoRA subspace), s·A0 = Qᵀ·W0, so s·B0·A0 = Q·Qᵀ·W0.

The initial adapter is kept on the returned model (``sclora_initial_adapter``, CPU copies keyed like
``get_peft_model_state_dict``) so that ``sclora.export`` can turn a trained residual adapter back
into a standard LoRA for the unmodified base model.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
from collections.abc import Callable

import torch
from torch import nn

from .errors import SCLoRAError, check
from .modules import find_target_modules, is_linear, weight_matrix
from .statistics import pad_batch

METHODS = ("lora", "pissa", "milora", "corda-kpm", "corda-ipm", "sclora")
# Methods whose frozen base weights differ from W0 (export needs the rank-2r conversion).
RESIDUAL_METHODS = ("pissa", "milora", "corda-kpm", "corda-ipm", "sclora")
ADAPTER = "default"  # PEFT's adapter name

Progress = Callable[[int, int, str], None] | None


# --------------------------------------------------------------------------- validation


def _resolve_targets(base_model: nn.Module, target_modules: list[str] | None) -> list[str]:
    """Full module names to adapt: the defaults, or the given names checked against the model."""
    if target_modules is None:
        return [t.name for t in find_target_modules(base_model)]
    check(
        isinstance(target_modules, (list, tuple)) and len(target_modules) > 0
        and all(isinstance(n, str) for n in target_modules),
        "target_modules must be a non-empty list of module names (as in model.named_modules()).",
    )
    modules = dict(base_model.named_modules())
    for name in target_modules:
        check(name in modules, f"target_modules: the model has no module named {name!r}.")
        check(is_linear(modules[name]), f"target_modules: {name!r} is a {type(modules[name]).__name__}, "
              "not a linear layer (nn.Linear or GPT-2 Conv1D).")
    check(len(set(target_modules)) == len(target_modules), "target_modules lists a module twice.")
    return list(target_modules)


def _check_rank(base_model: nn.Module, targets: list[str], method: str, rank: int) -> None:
    """r must fit every target: r <= d_out for sclora, r <= min(d_out, d_in) for the SVD methods."""
    check(isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1,
          f"rank must be a positive integer, got {rank!r}.")
    if method == "lora":  # a random A and a zero B fit any rank
        return
    modules = dict(base_model.named_modules())
    for name in targets:
        d_out, d_in = weight_matrix(modules[name]).shape
        limit = d_out if method == "sclora" else min(d_out, d_in)
        check(rank <= limit, f"rank {rank} is too large for {method} on module {name!r} "
              f"(d_out={d_out}, d_in={d_in}): the largest possible rank is {limit}.")


def _check_subspaces(base_model: nn.Module, targets: list[str], subspaces, rank: int) -> None:
    """Every target has a finite (d_out, rank) Q with orthonormal columns."""
    check(isinstance(subspaces, dict) and subspaces,
          "method 'sclora' needs subspaces: a dict module name -> Q (d_out, rank), e.g. from a subspace file.")
    modules = dict(base_model.named_modules())
    missing = [n for n in targets if n not in subspaces]
    if missing:
        raise SCLoRAError(f"subspaces has no entry for {len(missing)} target module(s), e.g. {missing[0]!r}: "
                          "compute the subspaces for the same model and modules.")
    for name in targets:
        q = subspaces[name]
        d_out = weight_matrix(modules[name]).shape[0]
        check(isinstance(q, torch.Tensor) and q.dim() == 2,
              f"subspaces[{name!r}] must be a 2-D tensor (d_out, rank).")
        check(tuple(q.shape) == (d_out, rank), f"subspaces[{name!r}] has shape {tuple(q.shape)}, expected "
              f"(d_out, rank) = ({d_out}, {rank}); rank must equal the subspace's number of columns.")
        check(q.is_floating_point() and bool(torch.isfinite(q).all()),
              f"subspaces[{name!r}] contains NaN or Inf values.")
        q64 = q.detach().to(torch.float64)
        err = (q64.T @ q64 - torch.eye(rank, dtype=torch.float64, device=q.device)).abs().max().item()
        check(err < 1e-3, f"subspaces[{name!r}] does not have orthonormal columns (max |QᵀQ - I| = {err:.2g}).")


def _check_token_lists(ids, what: str, method: str, vocab_size: int | None,
                       max_length: int | None) -> list[list[int]]:
    """Non-empty lists of non-empty integer id lists within the vocabulary and the context length."""
    check(ids is not None and len(ids) > 0,
          f"method {method!r} needs {what} (lists of token ids), none were given.")
    out = []
    for i, sample in enumerate(ids):
        sample = sample.tolist() if isinstance(sample, torch.Tensor) else list(sample)
        check(len(sample) > 0, f"{what}[{i}] is empty: every sample needs at least one token.")
        check(all(isinstance(t, int) and not isinstance(t, bool) for t in sample),
              f"{what}[{i}] must contain integer token ids.")
        if max_length is not None and len(sample) > max_length:
            raise SCLoRAError(f"{what}[{i}] has {len(sample)} tokens, more than the model's context "
                              f"length {max_length}: truncate the samples (e.g. --max-length).")
        if vocab_size is not None:
            bad = [t for t in sample if t < 0 or t >= vocab_size]
            if bad:
                raise SCLoRAError(f"{what}[{i}] has token id {bad[0]} outside the vocabulary (size {vocab_size}).")
        out.append(sample)
    return out


# --------------------------------------------------------------------------- helpers


def lora_config(method: str, targets: list[str], rank: int, alpha: float, base_model: nn.Module):
    """The PEFT ``LoraConfig`` that ``init_adapters`` builds ``method``'s adapter from: PEFT's own init for
    LoRA, PiSSA and CorDA; for SC-LoRA and MiLoRA placeholder weights that their init then overwrites."""
    from peft import LoraConfig

    init = {"lora": True, "pissa": "pissa", "milora": False, "sclora": False,
            "corda-kpm": "corda", "corda-ipm": "corda"}[method]
    corda = None
    if method.startswith("corda"):
        from peft.tuners.lora.config import CordaConfig

        # No cache/covariance files: nothing is written to disk, nothing is unpickled later.
        corda = CordaConfig(corda_method=method.split("-")[1], cache_file=None, covariance_file=None,
                            verbose=False, prune_temporary_fields=True)
    modules = dict(base_model.named_modules())
    # GPT-2's Conv1D stores W transposed; saying so up front stops PEFT from flipping the flag
    # on the config object itself (with a warning) while it builds the layers.
    fan_in_fan_out = any(not isinstance(modules[n], nn.Linear) for n in targets)
    return LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0,
                      bias="none", task_type="CAUSAL_LM", init_lora_weights=init, corda_config=corda,
                      fan_in_fan_out=fan_in_fan_out)


def _lora_layers(peft_model, targets: list[str]):
    """(name, LoRA layer) for every target of a PEFT model."""
    inner = peft_model.base_model.model
    return [(name, inner.get_submodule(name)) for name in targets]


def _set_weight_matrix(module: nn.Module, w: torch.Tensor) -> None:
    """Write a (d_out, d_in) matrix into a Linear or a (transposed) Conv1D, in its own dtype."""
    target = module.weight
    value = w if isinstance(module, nn.Linear) else w.T
    target.data.copy_(value.to(dtype=target.dtype, device=target.device))


def _write_residual_adapter(layer, B: torch.Tensor, A: torch.Tensor) -> None:
    """Set lora_B, lora_A and the frozen residual W0 - s·B·A (from the stored B, A, in float64).

    Forming the residual from the factors as stored keeps W_res + s·B·A = W0 up to the rounding of
    W_res alone, whatever the model dtype.
    """
    base = layer.get_base_layer()
    s = layer.scaling[ADAPTER]
    # Adapters keep their own dtype: PEFT holds them in float32 even on a bf16/fp16 base.
    lora_A, lora_B = layer.lora_A[ADAPTER].weight, layer.lora_B[ADAPTER].weight
    lora_A.data.copy_(A.to(lora_A.dtype))
    lora_B.data.copy_(B.to(lora_B.dtype))
    w0 = weight_matrix(base).detach().to(torch.float64)
    residual = w0 - s * (lora_B.detach().to(torch.float64) @ lora_A.detach().to(torch.float64))
    _set_weight_matrix(base, residual)


def adapter_state(peft_model) -> dict[str, torch.Tensor]:
    """The adapter's lora_A/lora_B tensors, keyed as in a saved PEFT adapter file."""
    from peft import get_peft_model_state_dict

    # save_embedding_layers=False: with "auto", PEFT looks the base model's name up on the Hub
    # (a network call, and a warning for local names such as "bundled"); we never adapt embeddings.
    return get_peft_model_state_dict(peft_model, adapter_name=ADAPTER, save_embedding_layers=False)


def _report(progress: Progress, done: int, total: int, desc: str) -> None:
    if progress is not None:
        progress(done, total, desc)


def _minor_factors(w0: torch.Tensor, rank: int, scaling: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MiLoRA: B = U_min·sqrt(S/s), A = sqrt(S/s)·V_minᵀ from the bottom-r singular triplets."""
    U, S, Vh = torch.linalg.svd(w0, full_matrices=False)
    root = torch.sqrt(S[-rank:] / scaling)
    return U[:, -rank:] * root, root[:, None] * Vh[-rank:]


# --------------------------------------------------------------------------- methods


def _init_sclora(peft_model, targets, subspaces, progress: Progress) -> None:
    """B = Q, A = Qᵀ·W0 / s: then s·B·A = Q·Qᵀ·W0 exactly, the projection of W0's outputs on Q."""
    layers = _lora_layers(peft_model, targets)
    for i, (name, layer) in enumerate(layers):
        w0 = weight_matrix(layer.get_base_layer()).detach().to(torch.float64)
        q = subspaces[name].detach().to(device=w0.device, dtype=torch.float64)
        _write_residual_adapter(layer, q, (q.T @ w0) / layer.scaling[ADAPTER])
        _report(progress, i + 1, len(layers), "SC-LoRA: writing adapters")


def _init_milora(peft_model, targets, rank: int, progress: Progress) -> None:
    layers = _lora_layers(peft_model, targets)
    for i, (_, layer) in enumerate(layers):
        w0 = weight_matrix(layer.get_base_layer()).detach().to(torch.float64)
        B, A = _minor_factors(w0, rank, layer.scaling[ADAPTER])
        _write_residual_adapter(layer, B, A)
        _report(progress, i + 1, len(layers), "MiLoRA: SVD of W0")


def _run_corda_preprocessing(model: nn.Module, config, targets: list[str], samples: list[list[int]],
                             progress: Progress) -> None:
    """PEFT's CorDA preprocessing, fed input covariances computed in batches.

    PEFT's own pass runs one sample per forward call (its hook squeezes the batch dimension and counts
    calls as samples) and one xᵀx per module. :func:`corda_input_covariances` builds the same
    covariances in batches, so they reach PEFT through its documented ``covariance_file``; PEFT then
    does the rest (damping, SVD, cropping) as always. Float32, as PEFT keeps them.
    """
    import os
    import tempfile

    from peft.tuners.lora.corda import preprocess_corda

    modules = dict(model.named_modules())
    devices = {weight_matrix(modules[name]).device for name in targets}
    check(len(devices) == 1, "CorDA needs the adapted layers on one device (PEFT loads the covariances onto the "
          f"model's device); these are on {', '.join(sorted(map(str, devices)))}. Load the model without a device map.")
    covariances = corda_input_covariances(model, targets, samples, progress, dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="sclora-corda-") as folder:
        path = os.path.join(folder, "covariance.pt")
        torch.save(covariances, path)
        del covariances
        config.corda_config.covariance_file = path
        try:
            preprocess_corda(model, config)
        except (ValueError, RuntimeError) as exc:
            raise SCLoRAError(f"PEFT's CorDA preprocessing failed: {exc}") from exc
        finally:
            config.corda_config.covariance_file = None  # the adapter's config must not name a deleted file
            # PEFT prunes its temporary fields only when it returns normally.
            for module in model.modules():
                for attr in ("sample_count", "covariance_matrix", "corda_method", "rank"):
                    if is_linear(module) and attr in module.__dict__:
                        delattr(module, attr)


# --------------------------------------------------------------------------- public


def init_adapters(
    base_model: nn.Module,
    method: str,
    *,
    rank: int,
    alpha: float | None = None,
    target_modules: list[str] | None = None,
    subspaces: dict[str, torch.Tensor] | None = None,
    finetune_ids: list[list[int]] | None = None,
    preserve_ids: list[list[int]] | None = None,
    seed: int = 0,
    progress: Progress = None,
):
    """A ``PeftModel`` on a deep copy of ``base_model``, adapters initialised by ``method``.

    Args:
        base_model: a transformers causal LM; never modified.
        method: one of ``METHODS``.
        rank: LoRA rank r, the same for every target.
        alpha: LoRA alpha; PEFT scales the adapter by alpha/r. Default r (scaling 1).
        target_modules: full module names to adapt; None = every attention/MLP projection.
        subspaces: for ``sclora``, module name -> Q (d_out, r) with orthonormal columns. Extra keys
            (e.g. ``<module>.eigenvalues`` from a subspace file) are ignored.
        finetune_ids / preserve_ids: token id lists, one per sample; CorDA-IPM uses the fine-tune
            samples, CorDA-KPM the preserve samples.
        seed: seeds the random A of ``lora`` (the global RNG is left as it was).
        progress: optional ``progress(done, total, desc)`` callback.

    Returns:
        The PEFT model (same device and dtype as ``base_model``, same train/eval mode), with
        ``sclora_method`` and ``sclora_initial_adapter`` (CPU copy of the initial lora_A/lora_B
        state, keyed like ``peft.get_peft_model_state_dict``) set on it for export.
    """
    from peft import get_peft_model

    check(method in METHODS, f"Unknown initialisation method {method!r}: choose one of {', '.join(METHODS)}.")
    targets = _resolve_targets(base_model, target_modules)
    _check_rank(base_model, targets, method, rank)
    if alpha is None:
        alpha = rank
    check(isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(alpha) and alpha > 0,
          f"alpha must be a positive number, got {alpha!r}.")
    if method == "sclora":
        _check_subspaces(base_model, targets, subspaces, rank)
    samples = None
    if method.startswith("corda"):
        kpm = method == "corda-kpm"
        cfg = getattr(base_model, "config", None)
        max_length = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        samples = _check_token_lists(preserve_ids if kpm else finetune_ids, "preserve_ids" if kpm else "finetune_ids",
                                     method, getattr(cfg, "vocab_size", None), max_length)

    if method in ("pissa", "corda-kpm", "corda-ipm"):
        dtype = next(base_model.parameters()).dtype
        check(dtype in (torch.float32, torch.float16, torch.bfloat16),
              f"PEFT's {method} needs a float32, float16 or bfloat16 model, this one is {dtype}.")

    was_training = base_model.training
    model = copy.deepcopy(base_model)
    config = lora_config(method, targets, rank, float(alpha), model)
    with torch.no_grad():
        if samples is not None:
            model.eval()
            _run_corda_preprocessing(model, config, targets, samples, progress)
        with torch.random.fork_rng(devices=[]) if method == "lora" else contextlib.nullcontext():
            torch.manual_seed(seed)
            peft_model = get_peft_model(model, config)
        if method == "sclora":
            _init_sclora(peft_model, targets, subspaces, progress)
        elif method == "milora":
            _init_milora(peft_model, targets, rank, progress)
    # CorDA's layers drop their `eigens` themselves; check nothing of the preprocessing is left.
    leftovers = [n for n, m in peft_model.named_modules() if "eigens" in m.__dict__]
    check(not leftovers, f"CorDA left temporary data on {leftovers[:1]}: please report this.")

    peft_model.train(was_training)
    peft_model.sclora_method = method
    peft_model.sclora_initial_adapter = {
        k: v.detach().cpu().clone() for k, v in adapter_state(peft_model).items()
    }
    return peft_model


OUTPUT_BASIS_METHODS = ("pissa", "milora", "corda-kpm", "corda-ipm")


class _InputCaptured(Exception):
    """Raised by a hook to end a forward pass once the wanted module's input was seen."""


@torch.no_grad()
def corda_input_covariances(base_model: nn.Module, module_names: list[str], samples: list[list[int]],
                            progress: Progress = None, batch_size: int = 16,
                            dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """The input covariances PEFT's CorDA builds, one (d_in, d_in) per module of ``module_names``.

    As in ``peft.tuners.lora.corda``: each sample's inputs x (tokens × d_in) are scaled by their
    largest value, and C = mean over samples of xᵀx. PEFT runs one sample per forward call and one
    xᵀx per module; here samples of similar length share a right-padded batch (real tokens keep their
    positions, padding is masked out of the max and the sum), modules fed the same tensor (q/k/v,
    gate/up) share one product, and each forward stops once every module has seen its input (a
    partial pass). That gives the same C, faster. The hooks ignore other threads' forwards
    of the shared model. ``dtype`` is the accumulator's (float64 by default; float32 as PEFT).
    """
    modules = dict(base_model.named_modules())
    for name in module_names:
        check(name in modules and is_linear(modules[name]), f"The model has no linear module named {name!r}.")
    check(isinstance(batch_size, int) and batch_size >= 1, f"batch_size must be an integer >= 1, got {batch_size!r}.")
    cfg = getattr(base_model, "config", None)
    samples = _check_token_lists(samples, "samples", "corda", getattr(cfg, "vocab_size", None),
                                 getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None))
    owner, device = threading.get_ident(), next(base_model.parameters()).device
    totals: dict[tuple[str, ...], torch.Tensor] = {}
    valid = torch.empty(0)
    seen: dict[str, torch.Tensor] = {}
    # This batch's products by input tensor. The input is held with its product, so no later tensor of
    # the same pass can reuse its memory and be taken for it.
    shared: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def make_hook(name: str):
        def hook(module, args):
            if threading.get_ident() != owner:
                return
            x = args[0]
            key = (x.data_ptr(), tuple(x.shape), x.dtype)
            if key not in shared:
                real = valid.to(x.device)                                 # (B, T, 1): 1 on real tokens
                xs = x.detach().to(dtype) * real                          # (B, T, d_in), padding rows zeroed
                peak = xs.masked_fill(real == 0, -math.inf).amax(dim=(1, 2)).abs()  # PEFT: max(x).abs()
                xs = xs / peak[:, None, None]
                shared[key] = (x, torch.einsum("btd,bte->de", xs, xs))
            seen[name] = shared[key][1]
            if len(seen) == len(module_names):
                raise _InputCaptured
        return hook

    order = sorted(range(len(samples)), key=lambda i: len(samples[i]))  # similar lengths: little padding
    handles = [modules[name].register_forward_pre_hook(make_hook(name)) for name in module_names]
    what = module_names[0] if len(module_names) == 1 else f"{len(module_names)} modules"
    try:
        for start in range(0, len(order), batch_size):
            batch = [samples[i] for i in order[start : start + batch_size]]
            ids, mask = pad_batch(batch, 0, device)
            valid = mask[..., None].to(dtype)
            seen.clear()
            shared.clear()
            try:
                base_model(input_ids=ids, attention_mask=mask, use_cache=False)
            except _InputCaptured:
                pass
            groups: dict[int, tuple[str, ...]] = {}  # modules fed the same tensor keep one running sum
            for name, product in seen.items():
                groups[id(product)] = groups.get(id(product), ()) + (name,)
            for names in groups.values():
                product = seen[names[0]]
                totals[names] = totals[names] + product if names in totals else product
            _report(progress, start + len(batch), len(samples), f"CorDA input covariance of {what}")
    finally:
        for handle in handles:
            handle.remove()
        seen.clear()
        shared.clear()
    covariances = {name: mean for names, total in totals.items() for mean in [total / len(samples)] for name in names}
    missing = [name for name in module_names if name not in covariances]
    check(not missing, f"Module(s) {', '.join(missing[:3])} not called by the model's forward pass.")
    return {name: covariances[name] for name in module_names}


def corda_input_covariance(base_model: nn.Module, module_name: str, samples: list[list[int]],
                           progress: Progress = None, batch_size: int = 16) -> torch.Tensor:
    """The input covariance PEFT's CorDA builds for one module, float64 (d_in, d_in); see
    :func:`corda_input_covariances`."""
    return corda_input_covariances(base_model, [module_name], samples, progress, batch_size)[module_name]


def method_output_directions(base_model: nn.Module, module_name: str, method: str,
                             samples: list[list[int]] | None = None, progress: Progress = None) -> torch.Tensor:
    """Orthonormal output directions (d_out, min(d_out, d_in)), ordered so that the first r span ``method``'s B.

    PiSSA: left singular vectors of W0, largest first; MiLoRA: the same, smallest first. CorDA
    (PEFT's algorithm): left singular vectors of W0·(C + damping), C = :func:`corda_input_covariance`
    of ``samples`` (the preserve samples for KPM, which keeps the smallest components; the fine-tune
    samples for IPM, which keeps the largest). Float64 on the module's device, returned on the CPU.
    """
    check(method in OUTPUT_BASIS_METHODS, f"Output bases exist for {', '.join(OUTPUT_BASIS_METHODS)}, not {method!r} "
          "(SC-LoRA's basis is its subspace Q; LoRA's B starts at zero).")
    modules = dict(base_model.named_modules())
    check(module_name in modules and is_linear(modules[module_name]),
          f"The model has no linear module named {module_name!r}.")
    w0 = weight_matrix(modules[module_name]).detach().to(torch.float64)
    if method.startswith("corda"):
        check(samples is not None, f"{method} needs token samples ({'preserve' if method == 'corda-kpm' else 'fine-tune'}).")
        w0 = w0 @ _damped(corda_input_covariance(base_model, module_name, samples, progress).to(w0.device))
    U = torch.linalg.svd(w0, full_matrices=False)[0]
    return (U if method in ("pissa", "corda-ipm") else U.flip(1)).cpu()


def _damped(cov: torch.Tensor) -> torch.Tensor:
    """PEFT CorDA's regularised covariance: add damp·mean(diag)·I, doubling damp until inversion is accurate."""
    eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    damp = 0.01
    while True:
        fixed = cov + eye * cov.diagonal().mean() * damp
        if torch.dist(fixed @ torch.linalg.inv(fixed), eye).item() < 0.05:
            return fixed
        damp *= 2


def method_output_basis(base_model: nn.Module, module_name: str, method: str, rank: int,
                        samples: list[list[int]] | None = None) -> torch.Tensor:
    """The output subspace (d_out, r) spanned by the initial B of ``method`` (see
    :func:`method_output_directions`), float32 on the CPU."""
    directions = method_output_directions(base_model, module_name, method, samples)
    limit = directions.shape[1]
    check(isinstance(rank, int) and 1 <= rank <= limit,
          f"rank must be an integer between 1 and {limit} for module {module_name!r}, got {rank!r}.")
    return directions[:, :rank].float()
