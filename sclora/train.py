"""Short fine-tunes of an initialised adapter: AdamW, cosine schedule with warmup, stop flag.

The loop is the paper's recipe scaled down (AdamW, no weight decay, cosine decay after a 3 %
linear warmup). It trains whatever parameters ``requires_grad`` — for every init method that is
the LoRA A and B matrices only — so a step costs the same for SC-LoRA as for plain LoRA of the
same rank: SC-LoRA changes the starting point, never the loop.

``build_adapter`` dispatches an init method to :mod:`sclora.inits`, reusing precomputed
statistics for SC-LoRA so that changing β never runs the model again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import SCLoRAError, check
from .modules import exact_patterns, target_names  # noqa: F401 - also importable from here


# --------------------------------------------------------------------------- adapters


def build_adapter(base_model, method: str, *, rank: int, alpha: float | None = None, beta: float | None = None,
                  target_modules=None, finetune_ids=None, preserve_ids=None, statistics=None, seed: int = 0,
                  pad_token_id: int = 0, progress=None, should_stop=None):
    """A fresh ``PeftModel`` for ``method`` on a copy of ``base_model`` (which is never modified).

    ``target_modules``: patterns or full module names (None = every attention/MLP projection).
    For ``"sclora"`` the subspaces come from ``statistics`` when given (β is applied with no
    forward pass), else statistics are collected from ``finetune_ids``/``preserve_ids`` first.
    """
    from .inits import METHODS, init_adapters

    check(method in METHODS, f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    validate_rank(rank)
    names = target_names(base_model, target_modules)
    subspaces = None
    if method == "sclora":
        validate_beta(beta)
        from .subspace import sclora_subspaces

        if statistics is None:
            from .statistics import collect_statistics

            check(finetune_ids is not None and preserve_ids is not None,
                  "SC-LoRA needs fine-tune and preserve data (or precomputed statistics) to build its subspaces.")
            statistics = collect_statistics(base_model, finetune_ids, preserve_ids, target_modules=exact_patterns(names),
                                            pad_token_id=pad_token_id, progress=progress, should_stop=should_stop)
        missing = [n for n in names if n not in statistics.module_names]
        if missing:
            raise SCLoRAError(f"The statistics do not cover module {missing[0]!r}: collect them for the same "
                              "model and target modules.")
        subspaces = sclora_subspaces(statistics, beta, rank)
    return init_adapters(base_model, method, rank=rank, alpha=alpha, target_modules=names,
                         subspaces=subspaces, finetune_ids=finetune_ids, preserve_ids=preserve_ids, seed=seed,
                         progress=progress)


# --------------------------------------------------------------------------- validation


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_rank(rank) -> None:
    check(isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1,
          f"Parameter 'rank' must be an integer >= 1, got {rank!r}.")


def validate_beta(beta) -> None:
    check(_is_number(beta) and 0.0 <= beta <= 1.0,
          f"Parameter 'beta' must be a number between 0 and 1 (SC-LoRA's trade-off), got {beta!r}.")


def validate_lr(lr) -> None:
    check(_is_number(lr) and lr > 0, f"Parameter 'lr' (learning rate) must be a finite number > 0, got {lr!r}.")


def validate_train_args(*, steps, epochs, lr, batch_size, grad_accum, warmup_ratio, weight_decay,
                        max_grad_norm) -> None:
    """Raise :class:`SCLoRAError` naming the first bad training parameter."""
    check(steps is None or epochs is None, "Give either 'steps' or 'epochs', not both.")
    check(steps is not None or epochs is not None, "Give the training length: 'steps' or 'epochs'.")
    if steps is not None:
        check(isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0,
              f"Parameter 'steps' must be an integer >= 0, got {steps!r}.")
    if epochs is not None:
        check(_is_number(epochs) and epochs >= 0, f"Parameter 'epochs' must be a number >= 0, got {epochs!r}.")
    validate_lr(lr)
    for name, value in (("batch_size", batch_size), ("grad_accum", grad_accum)):
        check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
              f"Parameter '{name}' must be an integer >= 1, got {value!r}.")
    check(_is_number(warmup_ratio) and 0 <= warmup_ratio < 1,
          f"Parameter 'warmup_ratio' must be in [0, 1), got {warmup_ratio!r}.")
    check(_is_number(weight_decay) and weight_decay >= 0,
          f"Parameter 'weight_decay' must be a number >= 0, got {weight_decay!r}.")
    check(max_grad_norm is None or (_is_number(max_grad_norm) and max_grad_norm > 0),
          f"Parameter 'max_grad_norm' must be a number > 0 or None, got {max_grad_norm!r}.")


# --------------------------------------------------------------------------- batches


def pad_batch(input_ids: list[list[int]], labels: list[list[int]], pad_id: int = 0):
    """Right-pad a batch: (input_ids, attention_mask, labels) tensors, labels -100 on padding."""
    width = max(len(x) for x in input_ids)
    ids = torch.full((len(input_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(input_ids), width), dtype=torch.long)
    lab = torch.full((len(input_ids), width), -100, dtype=torch.long)
    for i, (x, y) in enumerate(zip(input_ids, labels)):
        ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, : len(x)] = 1
        lab[i, : len(y)] = torch.tensor(y, dtype=torch.long)
    return ids, mask, lab


def token_loss_sum(model, ids, mask, labels, per_sample: bool = False):
    """Summed next-token cross-entropy over the labelled tokens, and their count (per sample: two tensors)."""
    # Logits only at the positions whose next token is labelled (the response): projecting every prompt
    # token onto the vocabulary is a large part of a small model's step, and its loss is never used.
    keep = (labels[:, 1:] != -100).any(0).nonzero()[:, 0]
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits.float()  # (B, len(keep), V)
    shift_labels = labels[:, 1:][:, keep]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), shift_labels.reshape(-1),
                           ignore_index=-100, reduction="none").view(shift_labels.shape)
    labelled = shift_labels != -100
    if per_sample:
        return loss.sum(1), labelled.sum(1)
    return loss.sum(), int(labelled.sum())


def autocast_context(device: torch.device):
    """bf16 autocast on CUDA when the card supports it; plain float32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


# --------------------------------------------------------------------------- schedule


def cosine_lr(step: int, total: int, base_lr: float, warmup: int) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine to 0."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


# --------------------------------------------------------------------------- loop


@dataclass
class StepInfo:
    step: int          # optimizer steps done so far (1-based)
    total_steps: int
    loss: float        # mean token loss of this step's batch (over all its micro-batches)
    lr: float          # learning rate used for this step
    elapsed: float     # seconds since training started


@dataclass
class TrainResult:
    steps_done: int
    total_steps: int
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False      # True when should_stop() ended training early
    trainable_params: int = 0

    def loss_rows(self) -> list[dict]:
        """One row per step: step, loss, lr (what loss.csv holds)."""
        return [{"step": i + 1, "loss": loss, "lr": lr} for i, (loss, lr) in enumerate(zip(self.losses, self.lrs))]


def total_steps_for(n_examples: int, *, steps, epochs, batch_size: int, grad_accum: int) -> int:
    """Optimizer steps: ``steps`` as given, or ``epochs`` passes over the data (rounded up)."""
    if steps is not None:
        return steps
    per_epoch = math.ceil(n_examples / (batch_size * grad_accum))
    return math.ceil(epochs * per_epoch)


def _example_order(n: int, seed: int):
    """Endless sequence of example indices, reshuffled every epoch with a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        yield from torch.randperm(n, generator=gen).tolist()


def finetune(peft_model, train, *, steps: int | None = None, epochs: float | None = None, lr: float = 2e-4,
             batch_size: int = 8, grad_accum: int = 1, warmup_ratio: float = 0.03, weight_decay: float = 0.0,
             max_grad_norm: float | None = 1.0, seed: int = 0, pad_id: int = 0,
             on_step: Callable[[StepInfo], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train the adapter of ``peft_model`` in place on ``train`` (a ``TokenizedExamples``).

    Each optimizer step sees ``batch_size * grad_accum`` examples; the loss is the mean over the
    labelled (response) tokens of all of them. ``should_stop()`` is checked before every step;
    when it returns True the loop ends and the adapter trained so far is kept (usable and
    exportable). ``steps=0`` trains nothing. On CPU the result is deterministic for a seed.
    The model is left in eval mode.
    """
    validate_train_args(steps=steps, epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
                        warmup_ratio=warmup_ratio, weight_decay=weight_decay, max_grad_norm=max_grad_norm)
    n = len(train.input_ids)
    check(n > 0, "There are no training examples: the fine-tune set is empty after tokenisation.")
    check(len(train.labels) == n, "Training data is inconsistent: input_ids and labels differ in length.")
    check(any(any(t != -100 for t in lab[1:]) for lab in train.labels),
          "No training example has a response token to learn from: every response is empty or was cut off by "
          f"truncation ({train.n_truncated} of {n} samples truncated). Raise max_length or check the data.")
    params = [p for p in peft_model.parameters() if p.requires_grad]
    check(len(params) > 0, "The model has no trainable parameters: initialise adapters before fine-tuning.")
    total = total_steps_for(n, steps=steps, epochs=epochs, batch_size=batch_size, grad_accum=grad_accum)
    result = TrainResult(steps_done=0, total_steps=total, trainable_params=sum(p.numel() for p in params))
    if total == 0:
        return result

    device = next(peft_model.parameters()).device
    torch.manual_seed(seed)  # LoRA dropout, if any, draws from the global generator
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    warmup = math.ceil(warmup_ratio * total)
    order = _example_order(n, seed)
    start = time.perf_counter()
    peft_model.train()
    try:
        for step in range(total):
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            step_lr = cosine_lr(step, total, lr, warmup)
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            micro = [[next(order) for _ in range(batch_size)] for _ in range(grad_accum)]
            # Normalise by the labelled tokens of the whole step, so grad_accum does not reweight examples.
            n_tokens = sum(_labelled(train.labels[i]) for chunk in micro for i in chunk)
            step_loss = 0.0
            for chunk in micro:
                ids, mask, lab = pad_batch([train.input_ids[i] for i in chunk], [train.labels[i] for i in chunk],
                                           pad_id)
                ids, mask, lab = ids.to(device), mask.to(device), lab.to(device)
                try:
                    with autocast_context(device):
                        loss_sum, _ = token_loss_sum(peft_model, ids, mask, lab)
                    loss = loss_sum / max(1, n_tokens)
                    loss.backward()
                except torch.OutOfMemoryError as exc:  # before the update: the adapter so far stays usable
                    optimizer.zero_grad(set_to_none=True)
                    raise SCLoRAError(f"Out of memory on {device} at step {step + 1} with batch_size={batch_size} "
                                      f"(samples up to {ids.shape[1]} tokens): lower the batch size (use grad_accum "
                                      "for the same effective batch) or the maximum length.") from exc
                step_loss += loss.item()
            if not math.isfinite(step_loss):  # stop before the update, so the adapter stays usable
                optimizer.zero_grad(set_to_none=True)
                raise SCLoRAError(f"Training diverged at step {step + 1} (loss is {step_loss}): "
                                  f"lower the learning rate (lr={lr}).")
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps_done = step + 1
            result.losses.append(step_loss)
            result.lrs.append(step_lr)
            result.seconds = time.perf_counter() - start
            if on_step is not None:
                on_step(StepInfo(step + 1, total, step_loss, step_lr, result.seconds))
    finally:
        peft_model.eval()
        result.seconds = time.perf_counter() - start
    return result


def _labelled(labels: list[int]) -> int:
    """Tokens that contribute to the loss (the first position never does: nothing predicts it)."""
    return sum(1 for t in labels[1:] if t != -100)


__all__ = ["StepInfo", "TrainResult", "build_adapter", "finetune", "cosine_lr", "pad_batch", "token_loss_sum",
           "validate_beta", "validate_lr", "validate_rank", "validate_train_args", "SCLoRAError"]
