"""The fine-tune loop: determinism, stop flag, steps=0, schedule, accumulation, validation."""

from __future__ import annotations

import math

import pytest
import torch

from sclora.data import Examples
from sclora.errors import SCLoRAError
from sclora.inits import init_adapters
from sclora.models import tiny_model
from sclora.tokens import tokenize_examples
from sclora.train import StepInfo, build_adapter, cosine_lr, finetune

# When test runs share a few cores, one thread avoids the oversubscription that makes
# tiny-model matmuls ~100x slower. Results do not depend on it.
torch.set_num_threads(1)


def _examples(n: int = 24) -> Examples:
    records = [{"prompt": f"What is {i} plus {i}?", "response": f"The answer is {2 * i}."} for i in range(n)]
    return Examples(source="inline", format="jsonl", shape="prompt_response", records=records)


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_model("tiny-llama")
    train = tokenize_examples(_examples(), tok, max_length=64)
    return model, tok, train


def _adapter(model, method="lora", seed=0):
    return init_adapters(model, method, rank=4, seed=seed)


def _lora_params(peft_model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in peft_model.named_parameters() if "lora_" in n}


def test_same_seed_same_run_and_different_seed_differs(setup):
    model, _, train = setup
    runs = []
    for seed in (0, 0, 1):
        pm = _adapter(model, seed=0)
        res = finetune(pm, train, steps=4, lr=1e-2, batch_size=4, seed=seed)
        runs.append((res.losses, _lora_params(pm)))
    (l0, p0), (l1, p1), (l2, p2) = runs
    assert l0 == l1 and all(torch.equal(p0[k], p1[k]) for k in p0)
    assert l0 != l2  # the seed changes the data order
    assert len(l0) == 4 and all(math.isfinite(x) for x in l0)


def test_training_lowers_the_training_loss(setup):
    model, _, train = setup
    pm = _adapter(model)
    res = finetune(pm, train, steps=30, lr=1e-2, batch_size=8, seed=0)
    assert sum(res.losses[-5:]) / 5 < sum(res.losses[:5]) / 5 - 0.1


def test_only_adapter_parameters_change(setup):
    model, _, train = setup
    pm = _adapter(model, "pissa")
    frozen = {n: p.detach().clone() for n, p in pm.named_parameters() if not p.requires_grad}
    lora = _lora_params(pm)
    res = finetune(pm, train, steps=2, lr=1e-2, batch_size=4)
    assert res.trainable_params == sum(v.numel() for v in lora.values())
    assert all(torch.equal(p, frozen[n]) for n, p in pm.named_parameters() if n in frozen)
    assert any(not torch.equal(p, lora[n]) for n, p in pm.named_parameters() if n in lora)
    assert not pm.training  # left in eval mode


def test_sclora_trains_exactly_the_parameters_lora_trains(setup):
    """Same trainable shapes as plain LoRA of equal rank: the per-step work is the same."""
    model, tok, train = setup
    ids = train.input_ids[:8]
    lora = _adapter(model, "lora")
    sclora = build_adapter(model, "sclora", rank=4, beta=0.5, finetune_ids=ids, preserve_ids=ids[::-1])
    shapes = lambda m: {n: tuple(p.shape) for n, p in m.named_parameters() if p.requires_grad}  # noqa: E731
    assert shapes(lora) == shapes(sclora)


def test_stop_flag_ends_between_steps_and_leaves_a_usable_adapter(setup, tmp_path):
    from sclora.export import export_adapter

    model, _, train = setup
    pm = _adapter(model, "pissa")
    seen: list[StepInfo] = []
    res = finetune(pm, train, steps=10, lr=1e-3, batch_size=4, on_step=seen.append,
                   should_stop=lambda: len(seen) >= 3)
    assert res.stopped and res.steps_done == 3 and len(res.losses) == 3
    assert [s.step for s in seen] == [1, 2, 3] and all(s.total_steps == 10 for s in seen)
    assert all(torch.isfinite(p).all() for p in pm.parameters())
    assert (export_adapter(pm, tmp_path / "adapter") / "adapter_model.safetensors").is_file()


def test_steps_zero_changes_nothing(setup):
    model, _, train = setup
    pm = _adapter(model, "milora")
    before = _lora_params(pm)
    res = finetune(pm, train, steps=0)
    assert res.steps_done == 0 and res.losses == [] and not res.stopped
    assert all(torch.equal(p, before[n]) for n, p in pm.named_parameters() if n in before)


def test_epochs_count_steps(setup):
    model, _, train = setup
    res = finetune(_adapter(model), train, epochs=1, batch_size=5, lr=1e-3)
    assert res.steps_done == math.ceil(len(train.input_ids) / 5)


def test_gradient_accumulation_matches_one_big_batch(setup):
    model, _, train = setup
    a, b = _adapter(model), _adapter(model)
    finetune(a, train, steps=3, lr=1e-2, batch_size=8, grad_accum=1, seed=3)
    finetune(b, train, steps=3, lr=1e-2, batch_size=4, grad_accum=2, seed=3)
    pa, pb = _lora_params(a), _lora_params(b)
    assert all(torch.allclose(pa[k], pb[k], atol=1e-5) for k in pa)


def test_cosine_schedule_with_warmup():
    lrs = [cosine_lr(s, 10, 1.0, 2) for s in range(10)]
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[2] == pytest.approx(1.0) and all(x > y for x, y in zip(lrs[2:], lrs[3:]))
    assert lrs[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))


def test_step_info_reports_loss_and_lr(setup):
    model, _, train = setup
    seen: list[StepInfo] = []
    res = finetune(_adapter(model), train, steps=5, lr=1e-3, batch_size=4, on_step=seen.append)
    assert [s.loss for s in seen] == res.losses and [s.lr for s in seen] == res.lrs
    assert all(b.elapsed >= a.elapsed for a, b in zip(seen, seen[1:]))
    assert res.loss_rows()[0] == {"step": 1, "loss": res.losses[0], "lr": res.lrs[0]}


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": -1}, "'steps' must be an integer >= 0"),
    ({"steps": 2, "lr": 0.0}, "'lr' (learning rate) must be a finite number > 0"),
    ({"steps": 2, "lr": float("nan")}, "'lr' (learning rate) must be a finite number > 0"),
    ({"steps": 2, "lr": float("inf")}, "'lr' (learning rate) must be a finite number > 0"),
    ({"steps": 2, "batch_size": 0}, "'batch_size' must be an integer >= 1"),
    ({"steps": 2, "grad_accum": 0}, "'grad_accum' must be an integer >= 1"),
    ({"steps": 2, "epochs": 1}, "either 'steps' or 'epochs'"),
    ({}, "'steps' or 'epochs'"),
    ({"steps": 2, "warmup_ratio": 1.5}, "'warmup_ratio' must be in [0, 1)"),
])
def test_bad_training_parameters_are_named(setup, kwargs, message):
    model, _, train = setup
    with pytest.raises(SCLoRAError) as err:
        finetune(_adapter(model), train, **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "sclora", "rank": 4, "beta": 1.5}, "'beta' must be a number between 0 and 1"),
    ({"method": "sclora", "rank": 4, "beta": None}, "'beta' must be a number between 0 and 1"),
    ({"method": "lora", "rank": 0}, "'rank' must be an integer >= 1"),
    ({"method": "dora", "rank": 4}, "Unknown method 'dora'"),
])
def test_bad_adapter_parameters_are_named(setup, kwargs, message):
    model, _, _ = setup
    with pytest.raises(SCLoRAError) as err:
        build_adapter(model, **kwargs)
    assert message in str(err.value)


def test_untrainable_model_is_refused(setup):
    model, _, train = setup
    with pytest.raises(SCLoRAError, match="no trainable parameters"):
        frozen = _adapter(model)
        for p in frozen.parameters():
            p.requires_grad_(False)
        finetune(frozen, train, steps=1)
