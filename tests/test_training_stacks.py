"""SC-LoRA in other training stacks: the PEFT entry point, the Trainer callback and the TRL example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel

import sclora
from sclora import SCLoRAError, get_sclora_model
from sclora.export import export_adapter
from sclora.models import tiny_model
from sclora.statistics import collect_statistics, save_statistics
from sclora.subspace import sclora_subspaces

ROOT = Path(__file__).resolve().parents[1]


def _ids(seed: int, n: int, lo: int = 4, hi: int = 24) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, 256, (int(torch.randint(lo, hi, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


FT, PR = _ids(0, 12), _ids(1, 10)
PROBE = torch.tensor([[5, 17, 33, 80, 120, 9, 44]])


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=PROBE).logits


def _config(**kw) -> LoraConfig:
    return LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM", **kw)


def _perturb(peft_model) -> None:
    """Stand-in for training: move every lora_B so the adapter is no longer its initial value."""
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.add_(0.05 * torch.randn_like(p))


def _batches(ids: list[list[int]], size: int, left: bool):
    """A DataLoader-like list of padded batches with attention masks."""
    out = []
    for start in range(0, len(ids), size):
        rows = ids[start : start + size]
        width = max(map(len, rows))
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for i, r in enumerate(rows):
            sl = slice(width - len(r), width) if left else slice(0, len(r))
            input_ids[i, sl], mask[i, sl] = torch.tensor(r), 1
        out.append({"input_ids": input_ids, "attention_mask": mask})
    return out


def test_get_sclora_model_is_exported_from_the_package_and_keeps_the_model_unchanged_at_step_0():
    assert "get_sclora_model" in sclora.__all__
    model, _ = tiny_model("tiny-llama")
    before = _logits(model)
    peft_model = get_sclora_model(model, _config(), finetune=FT, preserve=PR, beta=0.9)
    assert isinstance(peft_model, PeftModel)
    torch.testing.assert_close(_logits(peft_model), before, atol=1e-5, rtol=1e-5)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    # B starts as the SC-LoRA subspace of the same statistics
    stats = collect_statistics(tiny_model("tiny-llama")[0], FT, PR)
    q = sclora_subspaces(stats, 0.9, 4)["model.layers.1.mlp.down_proj"].double()
    b = peft_model.base_model.model.model.layers[1].mlp.down_proj.lora_B["default"].weight.detach().double()
    torch.testing.assert_close(b @ b.T, q @ q.T, atol=1e-5, rtol=0)


def test_data_as_batches_with_masks_lists_or_files_give_the_same_adapter(tmp_path):
    reference = get_sclora_model(tiny_model("tiny-llama")[0], _config(), finetune=FT, preserve=PR)
    ref_state = {k: v.clone() for k, v in reference.sclora_initial_adapter.items()}
    stats = collect_statistics(tiny_model("tiny-llama")[0], FT, PR, model_name="tiny-llama")
    save_statistics(stats, tmp_path / "cov.safetensors")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sclora_subspaces(stats, 0.9, 4).items()}, str(tmp_path / "sub.safetensors"))
    variants = {
        "left-padded batches": dict(finetune=_batches(FT, 5, left=True), preserve=_batches(PR, 3, left=True)),
        "right-padded batches": dict(finetune=_batches(FT, 4, left=False), preserve=_batches(PR, 4, left=False)),
        "tensors": dict(finetune=[torch.tensor(r) for r in FT], preserve=[torch.tensor(r) for r in PR]),
        "statistics file": dict(statistics=str(tmp_path / "cov.safetensors")),
        "subspace file": dict(subspaces=tmp_path / "sub.safetensors"),
    }
    for label, kwargs in variants.items():
        got = get_sclora_model(tiny_model("tiny-llama")[0], _config(), beta=0.9, **kwargs).sclora_initial_adapter
        for key, value in ref_state.items():
            if ".lora_B." in key:  # compare subspaces through projectors (column signs may differ)
                p, r = got[key].double(), value.double()
                torch.testing.assert_close(p @ p.T, r @ r.T, atol=1e-5, rtol=0, msg=label)


def test_saved_config_runs_no_initialisation_on_load(tmp_path, monkeypatch):
    model, _ = tiny_model("tiny-llama")
    peft_model = get_sclora_model(model, _config(target_modules=["q_proj", "v_proj"]), finetune=FT, preserve=PR)
    _perturb(peft_model)
    trained = _logits(peft_model)
    peft_model.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "adapter_config.json").read_text())
    assert config["init_lora_weights"] is False
    assert not config.get("corda_config") and not config.get("eva_config")
    # Reload onto a model with the same residual weights: the saved weights are used as they are.
    import peft.tuners.lora.layer as lora_layer

    calls = []
    for init in ("pissa_init", "corda_init", "olora_init", "loftq_init", "orthogonal_init"):
        if hasattr(lora_layer.LoraLayer, init):
            monkeypatch.setattr(lora_layer.LoraLayer, init, lambda *a, _n=init, **k: calls.append(_n))
    residual_base = peft_model.base_model.model  # W_res lives here; unload it into a plain model
    plain = peft_model.unload()
    del residual_base
    again = PeftModel.from_pretrained(plain, tmp_path / "ckpt")
    assert calls == []
    torch.testing.assert_close(_logits(again), trained, atol=1e-5, rtol=1e-5)


def test_export_of_a_trained_model_loads_on_the_unmodified_base_with_stock_peft(tmp_path):
    model, _ = tiny_model("tiny-qwen2")  # q/k/v biases
    peft_model = get_sclora_model(model, _config(target_modules="all-linear"), finetune=FT, preserve=PR, beta=0.5)
    _perturb(peft_model)
    trained = _logits(peft_model)
    export_adapter(peft_model, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["init_lora_weights"] is True
    base, _ = tiny_model("tiny-qwen2")
    assert (_logits(base) - trained).abs().max() > 1e-3  # the perturbation is visible
    loaded = PeftModel.from_pretrained(base, tmp_path / "adapter")
    torch.testing.assert_close(_logits(loaded), trained, atol=1e-4, rtol=0)


def test_callback_writes_a_standard_lora_beside_each_checkpoint_and_at_the_end(tmp_path):
    from transformers import Trainer, TrainingArguments

    from sclora.callbacks import SCLoRAExportCallback

    model, _ = tiny_model("tiny-llama")
    peft_model = get_sclora_model(model, _config(), finetune=FT, preserve=PR)
    rows = [{"input_ids": r, "labels": r} for r in FT]

    def collate(batch):
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.tensor([b["input_ids"] + [0] * (width - len(b["input_ids"])) for b in batch])
        labels = torch.tensor([b["labels"] + [-100] * (width - len(b["labels"])) for b in batch])
        return {"input_ids": ids, "labels": labels, "attention_mask": (labels != -100).long()}

    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=4, save_steps=2, per_device_train_batch_size=4,
                             learning_rate=1e-2, report_to="none", use_cpu=True, logging_steps=1,
                             remove_unused_columns=False)
    trainer = Trainer(model=peft_model, args=args, train_dataset=rows, data_collator=collate,
                      callbacks=[SCLoRAExportCallback()])
    trainer.train()
    out = tmp_path / "out"
    for folder in (out / "checkpoint-2" / "sclora-adapter", out / "checkpoint-4" / "sclora-adapter",
                   out / "sclora-adapter"):
        assert json.loads((folder / "adapter_config.json").read_text())["r"] == 8, folder
    trained = _logits(peft_model.eval())
    base, _ = tiny_model("tiny-llama")
    assert (_logits(base) - trained).abs().max() > 1e-4
    loaded = PeftModel.from_pretrained(base, out / "sclora-adapter")
    torch.testing.assert_close(_logits(loaded), trained, atol=1e-4, rtol=0)


def test_bad_arguments_raise_clear_errors():
    model, _ = tiny_model("tiny-llama")
    with pytest.raises(SCLoRAError, match="exactly one source"):
        get_sclora_model(model, _config())
    with pytest.raises(SCLoRAError, match="beta"):
        get_sclora_model(model, _config(), finetune=FT, preserve=PR, beta=1.5)
    with pytest.raises(SCLoRAError, match="use_rslora"):
        get_sclora_model(model, _config(use_rslora=True), finetune=FT, preserve=PR)
    with pytest.raises(SCLoRAError, match="matches no linear layer"):
        get_sclora_model(model, _config(target_modules=["nothing_here"]), finetune=FT, preserve=PR)
    with pytest.raises(SCLoRAError, match="is a path"):
        get_sclora_model(model, _config(), finetune="train.jsonl", preserve=PR)
    with pytest.raises(SCLoRAError, match="empty sample"):
        get_sclora_model(model, _config(), finetune=[[5, 6], []], preserve=PR)
    assert not hasattr(model, "peft_config")  # nothing was wrapped by a failed call


def test_trl_example_leaves_an_adapter_that_stock_peft_loads_on_the_unmodified_base(tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    cmd = [sys.executable, str(ROOT / "examples" / "sft_trl.py"), "--model", "tiny-llama", "--finetune", "knowledge",
           "--preserve", "math", "--beta", "0.9", "--rank", "4", "--steps", "4", "--max-samples", "16",
           "--max-length", "128", "--lr", "5e-3", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "trained 4 steps" in run.stdout
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["init_lora_weights"] is True
    assert (out / "trainer" / "checkpoint-4" / "sclora-adapter" / "adapter_model.safetensors").is_file()
    ref = load_file(str(out / "reference_logits.safetensors"))
    base, _ = tiny_model("tiny-llama")
    with torch.no_grad():
        untouched = base(input_ids=ref["input_ids"]).logits
    assert (untouched - ref["logits"]).abs().max() > 1e-3  # training changed the model
    loaded = PeftModel.from_pretrained(base, out / "adapter")  # stock PEFT, unmodified base
    with torch.no_grad():
        logits = loaded(input_ids=ref["input_ids"]).logits
    torch.testing.assert_close(logits, ref["logits"], atol=1e-4, rtol=0)
