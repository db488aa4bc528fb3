"""Export: every method's trained adapter reloads on the unmodified base with the same logits."""

from __future__ import annotations

import copy
import json
import zipfile

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file

from sclora.errors import SCLoRAError
from sclora.export import export_adapter, read_export_metadata, zip_folder
from sclora.inits import METHODS, RESIDUAL_METHODS, init_adapters
from sclora.models import tiny_model
from sclora.modules import find_target_modules

from test_inits import checksum, random_subspaces, token_lists  # tests/ is on sys.path (rootdir conftest)

RANK = 4
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def perturb(pm, seed: int = 0, size: float = 0.05) -> None:
    """Stand-in for training: move every lora_A/lora_B away from its initial value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if p.requires_grad:
                p.add_(size * torch.randn(p.shape, generator=g))


def logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


@pytest.fixture(scope="module", params=("tiny-llama", "tiny-qwen2", "tiny-gpt2"))
def tiny(request):
    model, _ = tiny_model(request.param)
    ids = torch.randint(5, 250, (2, 10), generator=torch.Generator().manual_seed(1))
    return request.param, model, ids


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_on_a_fresh_base(tiny, method, tmp_path):
    arch, model, ids = tiny
    pm = init_adapters(model, method, rank=RANK, alpha=2 * RANK, subspaces=random_subspaces(model),
                       finetune_ids=token_lists(1), preserve_ids=token_lists(2))
    perturb(pm)
    trained = logits(pm, ids)
    assert (trained - logits(model, ids)).abs().max() > 1e-3  # the "training" really changed the model
    config_before = pm.peft_config["default"].to_dict()
    adapter_before = {n: p.detach().clone() for n, p in pm.named_parameters()}

    folder = export_adapter(pm, tmp_path / "adapter")

    # the export changes neither the model nor its config
    assert pm.peft_config["default"].to_dict() == config_before
    assert all(torch.equal(p, adapter_before[n]) for n, p in pm.named_parameters())
    assert sorted(p.name for p in folder.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no temporary folder left behind

    config = json.loads((folder / "adapter_config.json").read_text())
    r = 2 * RANK if method in RESIDUAL_METHODS else RANK
    assert config["r"] == r and config["lora_alpha"] == 2 * r  # scaling alpha/r unchanged
    assert config["init_lora_weights"] is True
    assert set(config["target_modules"]) == {t.name for t in find_target_modules(model)}
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    for key, value in tensors.items():
        assert value.shape[0 if ".lora_A." in key else 1] == r
    assert read_export_metadata(folder)["sclora_method"] == method

    fresh, _ = tiny_model(arch)
    assert checksum(fresh) == checksum(model)
    reloaded = PeftModel.from_pretrained(fresh, folder)
    assert (logits(reloaded, ids) - trained).abs().max() <= 1e-4
    # loading a standard LoRA leaves the base weights as they were (no residual)
    assert torch.equal(reloaded.get_base_model().lm_head.weight, model.lm_head.weight)
    for t in find_target_modules(model):
        base_layer = reloaded.base_model.model.get_submodule(t.name).get_base_layer()
        assert torch.equal(base_layer.weight, model.get_submodule(t.name).weight)


@pytest.mark.filterwarnings("ignore:Could not find a config file:UserWarning")  # PEFT's own Hub lookup
@pytest.mark.filterwarnings("ignore:(PiSSA|CorDA) changes the base weights:UserWarning")
@pytest.mark.filterwarnings("ignore:`corda_config` specified but will be ignored:UserWarning")
@pytest.mark.parametrize("method", ["pissa", "corda-ipm"])
def test_agrees_with_peft_own_conversion(method, tmp_path):
    """PEFT's save_pretrained(path_initial_model_for_weight_conversion=...) writes the same adapter."""
    model, _ = tiny_model("tiny-llama")
    pm = init_adapters(model, method, rank=RANK, finetune_ids=token_lists(1))
    pm.save_pretrained(str(tmp_path / "initial"), save_embedding_layers=False)
    perturb(pm)
    pm.save_pretrained(str(tmp_path / "peft"), save_embedding_layers=False,
                       path_initial_model_for_weight_conversion=str(tmp_path / "initial"))
    ours = export_adapter(pm, tmp_path / "ours")
    theirs, mine = load_file(str(tmp_path / "peft" / "adapter_model.safetensors")), load_file(str(ours / "adapter_model.safetensors"))
    assert theirs.keys() == mine.keys()
    for key in mine:
        torch.testing.assert_close(mine[key], theirs[key], atol=1e-6, rtol=0)
    peft_config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    our_config = json.loads((ours / "adapter_config.json").read_text())
    assert (our_config["r"], our_config["lora_alpha"]) == (peft_config["r"], peft_config["lora_alpha"])


def test_reexport_replaces_an_earlier_export(tmp_path):
    model, _ = tiny_model("tiny-llama")
    pm = init_adapters(model, "sclora", rank=RANK, subspaces=random_subspaces(model))
    first = load_file(str(export_adapter(pm, tmp_path / "a") / "adapter_model.safetensors"))
    perturb(pm, seed=5)
    second = load_file(str(export_adapter(pm, tmp_path / "a") / "adapter_model.safetensors"))
    key = next(iter(first))
    assert not torch.equal(first[key], second[key])


def test_export_errors(tmp_path):
    model, _ = tiny_model("tiny-llama")
    pm = init_adapters(model, "lora", rank=RANK)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(SCLoRAError, match="not an adapter folder"):
        export_adapter(pm, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(SCLoRAError, match="is a file"):
        export_adapter(pm, tmp_path / "file")
    with pytest.raises(SCLoRAError, match="needs a PEFT model"):
        export_adapter(model, tmp_path / "x")

    # A residual PEFT model not made by init_adapters: its initial adapter is unknown.
    names = [t.name for t in find_target_modules(model)]
    raw = get_peft_model(copy.deepcopy(model), LoraConfig(r=RANK, target_modules=names, init_lora_weights="pissa"))
    with pytest.raises(SCLoRAError, match="cannot be converted"):
        export_adapter(raw, tmp_path / "y")
    pm = init_adapters(model, "milora", rank=RANK)
    del pm.sclora_initial_adapter
    with pytest.raises(SCLoRAError, match="no recorded initial adapter"):
        export_adapter(pm, tmp_path / "z")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_plain_peft_lora_exports_as_is(tmp_path):
    model, _ = tiny_model("tiny-gpt2")
    names = [t.name for t in find_target_modules(model)]
    raw = get_peft_model(copy.deepcopy(model), LoraConfig(r=RANK, target_modules=names, fan_in_fan_out=True))
    perturb(raw)
    ids = torch.randint(5, 250, (1, 6), generator=torch.Generator().manual_seed(2))
    folder = export_adapter(raw, tmp_path / "plain")
    assert json.loads((folder / "adapter_config.json").read_text())["r"] == RANK
    fresh, _ = tiny_model("tiny-gpt2")
    assert (logits(PeftModel.from_pretrained(fresh, folder), ids) - logits(raw, ids)).abs().max() <= 1e-5


def test_zip_folder_holds_only_the_folder_files(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"\x00" * 10)
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text("no")
    (tmp_path / "sibling.txt").write_text("no")
    out = zip_folder(folder, tmp_path / "zips" / "adapter.zip")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["adapter_config.json", "adapter_model.safetensors"]
        assert zf.read("adapter_model.safetensors") == b"\x00" * 10
    assert [p.name for p in (tmp_path / "zips").iterdir()] == ["adapter.zip"]
    with pytest.raises(SCLoRAError, match="not a folder"):
        zip_folder(tmp_path / "missing", tmp_path / "m.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SCLoRAError, match="no files"):
        zip_folder(tmp_path / "empty", tmp_path / "e.zip")
