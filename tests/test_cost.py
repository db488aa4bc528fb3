"""The cost a statistics pass announces before it starts (sclora.cost), against what the pass then does."""

from __future__ import annotations

import re

import pytest
import torch

from sclora.cost import activation_nbytes, batch_shapes, format_seconds, statistics_cost
from sclora.models import tiny_model
from sclora.statistics import collect_statistics, model_nbytes, stored_widths


def _ids(n: int, lengths=(5, 17, 9, 12), seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, 250, (lengths[i % len(lengths)],), generator=g).tolist() for i in range(n)]


def test_batches_are_formed_as_the_pass_forms_them():
    ids = _ids(7)
    assert batch_shapes(ids, 3) == [(3, 9), (3, 17), (1, 17)]  # sorted by length, padded to each batch's longest
    assert batch_shapes(ids[::2], 8) == [(4, 9)]


@pytest.mark.parametrize("n", [6, 80])  # statistics kept as factors (N <= d) and as covariances (N > d)
def test_the_prediction_counts_the_statistics_the_pass_keeps_and_every_token_it_reads(n):
    model, _ = tiny_model("tiny-llama")
    ft, pr = _ids(n), _ids(n // 2, seed=1)
    widths = stored_widths(model, None, ft[0])
    cost = statistics_cost(model, ft, pr, widths, batch_size=4)
    stats = collect_statistics(model, ft, pr, batch_size=4)
    assert cost.statistics_bytes == stats.nbytes()
    assert cost.model_bytes == model_nbytes(model)
    assert cost.tokens == sum(r * length for r, length in batch_shapes(ft, 4) + batch_shapes(pr, 4))
    assert cost.seconds > 0 and cost.probe_seconds > 0
    rows, length = max(batch_shapes(ft, 4) + batch_shapes(pr, 4), key=lambda s: s[0] * s[1])
    assert cost.activation_bytes == activation_nbytes(model, rows, length, max(widths))
    assert cost.extra_bytes == cost.statistics_bytes + cost.activation_bytes
    text = cost.describe()
    assert text.startswith("predicted: about ") and "on this device" in text and "MiB of memory at the peak" in text


def test_activations_grow_with_the_batch_and_the_vocabulary():
    small, _ = tiny_model("tiny-llama")
    one, two = activation_nbytes(small, 1, 32, 65), activation_nbytes(small, 2, 32, 65)
    assert two == 2 * one
    logits = 2 * 32 * small.config.vocab_size * 4
    assert two > logits  # the logits are one part of it


def test_time_is_said_in_the_unit_that_reads_best():
    assert [format_seconds(s) for s in (3.2, 95, 4000, 9000)] == ["3 s", "1.6 min", "66.7 min", "2.5 h"]


def test_several_processes_each_read_their_share():
    model, _ = tiny_model("tiny-llama")
    ft, pr = _ids(8), _ids(8, seed=1)
    widths = stored_widths(model, None, ft[0])
    whole, half = (statistics_cost(model, ft, pr, widths, batch_size=2, world=w) for w in (1, 2))
    assert half.tokens < whole.tokens and half.statistics_bytes == whole.statistics_bytes


def test_get_sclora_model_announces_the_cost_before_the_pass(capsys):
    from peft import LoraConfig

    from sclora.peft_api import get_sclora_model

    model, _ = tiny_model("tiny-llama")
    get_sclora_model(model, LoraConfig(r=4, task_type="CAUSAL_LM"), finetune=_ids(12), preserve=_ids(12, seed=1))
    err = capsys.readouterr().err
    assert re.search(r"SC-LoRA statistics of 12 \+ 12 samples: predicted: about \d+ s on this device", err)
    model, _ = tiny_model("tiny-llama")
    get_sclora_model(model, LoraConfig(r=4, task_type="CAUSAL_LM"), finetune=_ids(12), preserve=_ids(12, seed=1),
                     announce_cost=False)
    assert "predicted" not in capsys.readouterr().err
