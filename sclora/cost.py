"""What a statistics pass will cost, said before it starts: its time on this device and its memory.

- **Time.** The pass is one forward per batch (the hooks add a few per cent, ``benchmarks/scaling.py``
  measures how much), and a forward's time grows with the tokens it reads. So one short probe forward on
  this device gives seconds per token, and the pass's padded tokens (batches formed as the pass forms
  them: sorted by length) give the total. The probe reads one row of up to 128 tokens three times,
  after one warm-up call, and keeps the fastest (one call alone can be slowed by anything else running).
- **Memory** above the loaded model: the float64 statistics kept (``predicted_nbytes``) plus one batch's
  activations at their peak (the logits over the vocabulary twice, as measured on CPU, the MLP's widest
  intermediates, one attention score matrix, and the float64 copy a hook makes of the widest layer it
  reads).

``benchmarks/scaling.py`` reports this prediction against the measurement at every point it measures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .statistics import input_device, model_nbytes, predicted_nbytes

PROBE_TOKENS, PROBE_REPEATS = 128, 3


@dataclass(frozen=True)
class StatisticsCost:
    seconds: float            # the pass over both sets on this device
    statistics_bytes: int     # the float64 statistics kept
    activation_bytes: int     # one batch at its peak
    model_bytes: int
    tokens: int               # padded tokens the pass reads
    probe_seconds: float      # what the prediction itself cost

    @property
    def extra_bytes(self) -> int:
        """Memory the pass needs on top of the loaded model."""
        return self.statistics_bytes + self.activation_bytes

    def describe(self) -> str:
        mib = 2**20
        return (f"predicted: about {format_seconds(self.seconds)} on this device for {self.tokens:,} tokens, and "
                f"{(self.model_bytes + self.extra_bytes) / mib:,.0f} MiB of memory at the peak (model "
                f"{self.model_bytes / mib:,.0f} + statistics {self.statistics_bytes / mib:,.0f} + one batch "
                f"{self.activation_bytes / mib:,.0f} MiB)")


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def batch_shapes(ids: list[list[int]], batch_size: int) -> list[tuple[int, int]]:
    """(rows, padded length) of every batch, formed as ``collect_statistics`` forms them."""
    lengths = sorted(len(x) for x in ids)
    return [(len(lengths[i:i + batch_size]), lengths[i:i + batch_size][-1]) for i in range(0, len(lengths), batch_size)]


def _config_value(model, *names, default: int = 0) -> int:
    config = getattr(model, "config", None)
    get_text_config = getattr(config, "get_text_config", None)
    config = get_text_config() if callable(get_text_config) else config
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return default


def activation_nbytes(model, rows: int, length: int, widest_stored: int) -> int:
    """Peak transient bytes of one no-grad forward of ``rows`` × ``length`` tokens with the statistics hooks."""
    element = next(model.parameters()).element_size()
    vocab = _config_value(model, "vocab_size") or model.get_input_embeddings().num_embeddings
    hidden = _config_value(model, "hidden_size", "n_embd", "d_model")
    widest = max(_config_value(model, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden), hidden)
    heads = _config_value(model, "num_attention_heads", "n_head", default=1)
    tokens = rows * length
    return (2 * tokens * vocab * element             # the logits, and the LM head's product before it (measured)
            + 3 * tokens * widest * element          # the MLP's intermediates (gate, up, their product)
            + rows * heads * length * length * 4     # one layer's attention scores
            + tokens * widest_stored * 8)            # a hook's float64 copy of what it reads


@torch.no_grad()
def seconds_per_token(model, sample: list[int]) -> tuple[float, float]:
    """Seconds per token of a plain forward on this device, from the fastest of ``PROBE_REPEATS`` probes of up to
    ``PROBE_TOKENS`` tokens of ``sample`` (after a short warm-up call), and the seconds the probes took."""
    device = input_device(model)
    probe = (list(sample) * (PROBE_TOKENS // max(1, len(sample)) + 1))[:PROBE_TOKENS]
    started = time.perf_counter()
    was_training = model.training
    model.eval()
    try:
        model(input_ids=torch.tensor([probe[:16]], device=device), use_cache=False)
        _synchronize(device)
        timings = []
        for _ in range(PROBE_REPEATS):
            start = time.perf_counter()
            model(input_ids=torch.tensor([probe], device=device), use_cache=False)
            _synchronize(device)
            timings.append(time.perf_counter() - start)
        per_token = min(timings) / len(probe)
    finally:
        model.train(was_training)
    return per_token, time.perf_counter() - started


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def statistics_cost(model, finetune_ids: list[list[int]], preserve_ids: list[list[int]], widths: list[int], *,
                    batch_size: int = 8, aggregate: str = "sample", world: int = 1) -> StatisticsCost:
    """The predicted time and memory of ``collect_statistics`` on these samples (``widths``: ``stored_widths``).

    With ``world`` processes sharing the samples (``sclora.distributed``) the time is that of the first
    process's share; the memory is each process's (every one ends with the statistics of all samples)."""
    shapes = batch_shapes(finetune_ids[::world], batch_size) + batch_shapes(preserve_ids[::world], batch_size)
    tokens = sum(rows * length for rows, length in shapes)
    per_token, probe_seconds = seconds_per_token(model, max(finetune_ids, key=len))
    rows, length = max(shapes, key=lambda s: s[0] * s[1])
    return StatisticsCost(
        seconds=per_token * tokens,
        statistics_bytes=predicted_nbytes(widths, {"finetune": len(finetune_ids), "preserve": len(preserve_ids)},
                                          aggregate),
        activation_bytes=activation_nbytes(model, rows, length, max(widths)),
        model_bytes=model_nbytes(model), tokens=tokens, probe_seconds=probe_seconds)
