"""SC-LoRA as a PEFT model for any trainer: ``get_sclora_model(model, lora_config, finetune=…, preserve=…)``.

Like ``peft.get_peft_model`` it wraps ``model`` in place and returns a ``PeftModel``; unlike PEFT's
data-driven inits (CorDA, EVA, LoRA-GA) the data pass happens here, once, and nothing of it is left
in the config: the adapter's ``init_lora_weights`` is ``False`` (weights come from the file on load),
so a saved checkpoint never re-runs an initialisation.

What a trainer trains is SC-LoRA's residual form W_res + s·B·A (W_res = W0 − s·B0·A0). Its own
``save_pretrained`` folder therefore fits W_res, not the original model: for inference on the
*unmodified* base use :func:`sclora.export.export_adapter` (a standard LoRA of rank 2r), which
:class:`sclora.callbacks.SCLoRAExportCallback` writes beside every Trainer checkpoint.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from .errors import SCLoRAError, check

ADAPTER = "default"


# --------------------------------------------------------------------------- data


def token_lists(data, what: str) -> list[list[int]]:
    """Samples as lists of token ids, from lists of ids (lists or 1-D tensors) or an iterable of
    tokenized batches (a ``DataLoader`` of dicts with ``input_ids`` and ``attention_mask``).

    A batch's padding is dropped with its attention mask (left or right padding alike); without a
    mask every position counts as a token.
    """
    check(data is not None, f"Give the {what}: lists of token ids, a DataLoader of tokenized batches, or "
          "precomputed statistics / subspaces.")
    check(not isinstance(data, (str, bytes, os.PathLike)),
          f"The {what} is a path: pass statistics files as statistics=… and subspace files as subspaces=….")
    samples: list[list[int]] = []
    for i, item in enumerate(data if isinstance(data, Iterable) else [data]):
        if isinstance(item, Mapping):  # a tokenized batch
            check("input_ids" in item, f"{what}: batch {i} has no 'input_ids' (keys: {sorted(item)}).")
            ids = torch.as_tensor(item["input_ids"])
            ids = ids[None] if ids.dim() == 1 else ids
            mask = item.get("attention_mask")
            mask = torch.ones_like(ids) if mask is None else torch.as_tensor(mask).reshape(ids.shape)
            for row, keep in zip(ids, mask):
                samples.append(row[keep.bool()].tolist())
        else:  # one sample
            row = item.tolist() if isinstance(item, torch.Tensor) else item
            check(isinstance(row, (list, tuple)) and all(isinstance(t, int) and not isinstance(t, bool) for t in row),
                  f"{what}: sample {i} must be a list of integer token ids or a tokenized batch (a dict with "
                  f"input_ids), got {type(item).__name__}.")
            samples.append(list(row))
    check(samples, f"The {what} has no samples.")
    empty = [i for i, s in enumerate(samples) if not s]
    check(not empty, f"The {what} has an empty sample (sample {empty[0] if empty else 0}).")
    return samples


def _subspaces_from_file(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(path)
    check(path.is_file(), f"Subspace file {str(path)!r} does not exist.")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # not safetensors
        raise SCLoRAError(f"{str(path)!r} is not a subspace file written by `sclora subspace` ({exc}).") from exc
    return {k: v for k, v in tensors.items() if not k.endswith(".eigenvalues")}


# --------------------------------------------------------------------------- targets


def _resolve_targets(model, config) -> list[str]:
    """Full names of the linear layers PEFT will adapt under ``config`` (before wrapping)."""
    from peft.tuners.tuners_utils import _maybe_include_all_linear_layers, check_target_module_exists

    from .modules import is_linear

    config = _maybe_include_all_linear_layers(copy.deepcopy(config), model)
    names = []
    for name, module in model.named_modules():
        if not is_linear(module):
            continue
        found = check_target_module_exists(config, name)
        if found and type(found).__name__ != "_ExcludedModule":
            names.append(name)
    check(names, f"lora_config.target_modules={config.target_modules!r} matches no linear layer of the model.")
    return names


def _check_config(config) -> None:
    from peft import LoraConfig

    check(isinstance(config, LoraConfig), f"lora_config must be a peft.LoraConfig, got {type(config).__name__}.")
    check(isinstance(config.r, int) and config.r >= 1, f"lora_config.r must be a positive integer, got {config.r!r}.")
    check(not config.rank_pattern and not config.alpha_pattern,
          "SC-LoRA uses one rank and alpha for every module: lora_config.rank_pattern / alpha_pattern must be empty.")
    check(not config.use_rslora, "lora_config.use_rslora is not supported (the rank-2r export for the unmodified "
          "base keeps the scaling alpha/r, which rsLoRA changes).")
    check(not getattr(config, "use_dora", False), "lora_config.use_dora is not supported: SC-LoRA initialises "
          "plain LoRA adapters.")
    check(not getattr(config, "target_parameters", None), "lora_config.target_parameters is not supported.")


# --------------------------------------------------------------------------- public


def get_sclora_model(model, lora_config=None, *, finetune=None, preserve=None, beta: float = 0.9,
                     statistics=None, subspaces=None, tokenizer=None, pad_token_id: int | None = None,
                     batch_size: int = 8, adapter_name: str = ADAPTER, progress=None, announce_cost: bool = True):
    """Wrap ``model`` (in place, as ``peft.get_peft_model`` does) in a ``PeftModel`` with SC-LoRA adapters.

    Args:
        model: a transformers causal LM (any dtype, a device map is fine). Its weights W0 of the
            adapted layers become the frozen residual W0 − s·B0·A0; the model's outputs are unchanged.
        lora_config: a ``peft.LoraConfig``; ``r``, ``lora_alpha``, ``target_modules`` (names,
            a regex, ``"all-linear"``; None = every attention and MLP projection), ``lora_dropout``,
            ``modules_to_save``, ``task_type`` … are kept. Its ``init_lora_weights`` is replaced by
            ``False``: the returned model's config never re-runs an initialisation.
        finetune / preserve: the data, each as lists of token ids (lists or 1-D tensors) or an
            iterable of tokenized batches, e.g. a ``DataLoader`` yielding dicts with ``input_ids`` and
            ``attention_mask`` (padding is dropped with the mask). Under ``torch.distributed`` give every
            rank the same data: each runs only its share, and the float64 sums are combined.
        beta: SC-LoRA's trade-off β in [0, 1] (0: fit the fine-tune data, 1: preserve).
        statistics: instead of data, a ``Statistics`` object or a file written by
            ``python -m sclora covariances`` for the same model.
        subspaces: instead of data, a dict module name -> Q (d_out, r) or a file written by
            ``python -m sclora subspace`` (rank r = ``lora_config.r``; ``beta`` is then not used).
        tokenizer / pad_token_id: the padding id for the statistics pass (default: the tokenizer's,
            else 0; padding is masked, so its value does not change the result).
        batch_size: samples per forward pass of the statistics pass.
        progress: optional ``progress(done, total, desc)`` callback.
        announce_cost: with data, print (to stderr, on the main process) the statistics pass's predicted time
            on this device and memory before it starts (``sclora.cost``; one short probe forward).

    Returns:
        The ``PeftModel``, with ``sclora_method = "sclora"`` and ``sclora_initial_adapter`` set so that
        :func:`sclora.export.export_adapter` (or the Trainer callback) can write a standard LoRA for the
        unmodified base after training.
    """
    from peft import LoraConfig, get_peft_model

    from .distributed import broadcast_subspaces, collect_statistics_distributed
    from .inits import _init_sclora, adapter_state
    from .statistics import Statistics, load_statistics
    from .subspace import check_beta_rank, sclora_subspaces
    from .train import exact_patterns

    check(adapter_name == ADAPTER, "Only the adapter name 'default' is supported (what export and PEFT's "
          "loading use).")
    check(not hasattr(model, "peft_config"), "The model already has PEFT adapters: pass the base model.")
    config = copy.deepcopy(lora_config) if lora_config is not None else LoraConfig(task_type="CAUSAL_LM")
    _check_config(config)
    if config.target_modules is None:
        from .modules import find_target_modules

        config.target_modules = [t.name for t in find_target_modules(model)]
    targets = _resolve_targets(model, config)
    rank = config.r

    given = [n for n, v in (("finetune/preserve", finetune if finetune is not None else preserve),
                            ("statistics", statistics), ("subspaces", subspaces)) if v is not None]
    check(len(given) == 1, "Give exactly one source for the subspaces: finetune= and preserve= data, statistics=, "
          f"or subspaces= (got {', '.join(given) or 'none'}).")
    if subspaces is not None:
        if isinstance(subspaces, (str, os.PathLike)):
            subspaces = _subspaces_from_file(subspaces)
        check(isinstance(subspaces, Mapping), "subspaces must be a dict module name -> Q or a subspace file.")
    else:
        check_beta_rank(beta, rank)
        if statistics is None:
            check(finetune is not None and preserve is not None, "SC-LoRA needs both finetune= and preserve= data.")
            if pad_token_id is None:
                pad_token_id = getattr(tokenizer, "pad_token_id", None) or 0
            finetune, preserve = token_lists(finetune, "fine-tune data"), token_lists(preserve, "preserve data")
            if announce_cost:
                _announce_cost(model, finetune, preserve, exact_patterns(targets), batch_size)
            statistics = collect_statistics_distributed(
                model, finetune, preserve, target_modules=exact_patterns(targets), batch_size=batch_size,
                pad_token_id=pad_token_id, progress=progress)
        elif isinstance(statistics, (str, os.PathLike)):
            statistics = load_statistics(statistics, model)
        check(isinstance(statistics, Statistics), "statistics must be a Statistics object or a covariance file.")
        statistics.attach_model(model)
        missing = [n for n in targets if n not in statistics.module_names]
        if missing:
            raise SCLoRAError(f"The statistics do not cover {len(missing)} target module(s), e.g. {missing[0]!r}: "
                              "collect them for the same model and modules (or narrow target_modules).")
        statistics = _restricted(statistics, targets)
        subspaces = sclora_subspaces(statistics, beta, rank, progress=progress)
    _check_subspaces(model, targets, subspaces, rank)
    subspaces = broadcast_subspaces({n: subspaces[n] for n in targets})  # every rank starts from rank 0's

    config.init_lora_weights = False  # weights always come from the adapter file on load: no init re-runs
    for field in ("corda_config", "eva_config", "lora_ga_config"):  # no preprocessing is ever needed
        if getattr(config, field, None) is not None:
            setattr(config, field, None)
    was_training = model.training
    with torch.no_grad():
        peft_model = get_peft_model(model, config, adapter_name=adapter_name)
        adapted = _lora_layer_names(peft_model)
        check(sorted(adapted) == sorted(targets), "PEFT adapted other layers than the statistics cover "
              f"({len(adapted)} vs {len(targets)}): please report this with your LoraConfig.")
        _init_sclora(peft_model, targets, subspaces, progress)
    peft_model.train(was_training)
    peft_model.sclora_method = "sclora"
    peft_model.sclora_initial_adapter = {k: v.detach().cpu().clone() for k, v in adapter_state(peft_model).items()}
    return peft_model


def _restricted(stats, targets: list[str]):
    """The statistics of ``targets`` only (a file may cover more modules than the adapter)."""
    if set(stats.module_names) == set(targets):
        return stats
    keep = set(targets)
    out = copy.copy(stats)
    out.modules = [m for m in stats.modules if m.name in keep]
    return out


def _lora_layer_names(peft_model) -> list[str]:
    from peft.tuners.lora import LoraLayer

    inner = peft_model.base_model.model
    return [name for name, module in inner.named_modules() if isinstance(module, LoraLayer)]


def _check_subspaces(model, targets, subspaces, rank) -> None:
    from .inits import _check_subspaces as check_q

    missing = [n for n in targets if n not in subspaces]
    if missing:
        raise SCLoRAError(f"The subspaces have no entry for {len(missing)} target module(s), e.g. {missing[0]!r}: "
                          "compute them for the same model and modules.")
    check_q(model, targets, subspaces, rank)


def _announce_cost(model, finetune: list[list[int]], preserve: list[list[int]], target_modules, batch_size: int):
    from .cost import statistics_cost
    from .distributed import rank_and_world
    from .statistics import stored_widths

    rank, world = rank_and_world()
    if rank == 0 and finetune and preserve:
        widths = stored_widths(model, target_modules, finetune[0])
        cost = statistics_cost(model, finetune, preserve, widths, batch_size=batch_size, world=world)
        print(f"SC-LoRA statistics of {len(finetune)} + {len(preserve)} samples: {cost.describe()}", file=sys.stderr)
