import json
import os
import subprocess
import sys

import pytest
import torch

from sclora import SCLoRAError
from sclora import models
from sclora.generation import generate


def test_bundled_answers_paris_deterministically(bundled):
    model, tokenizer = bundled
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    a = generate(model, tokenizer, ["What is the capital of France?"], max_new_tokens=24)
    b = generate(model, tokenizer, ["What is the capital of France?"], max_new_tokens=24)
    assert a == b
    assert "Paris" in a[0]


def test_batched_generation_matches_single(bundled):
    model, tokenizer = bundled
    prompts = ["What is the capital of France?", "Name a primary colour."]
    batched = generate(model, tokenizer, prompts, max_new_tokens=12)
    single = [generate(model, tokenizer, [p], max_new_tokens=12)[0] for p in prompts]
    assert batched == single


def _load_in_subprocess(cache, env_extra=None):
    code = (
        "import time, json; t=time.time();"
        "from sclora.models import load_model, bundled_model_folder;"
        "m,t2=load_model('bundled', device='cpu');"
        "print(json.dumps({'folder': str(bundled_model_folder())}))"
    )
    env = dict(os.environ, SCLORA_CACHE=str(cache), **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    return json.loads(out.stdout.strip().splitlines()[-1])["folder"]


def test_cache_is_reused_and_corrupt_cache_rebuilt(tmp_path):
    from pathlib import Path

    folder = Path(_load_in_subprocess(tmp_path))
    weights = folder / "model.safetensors"
    assert weights.is_file() and (folder / "sclora-cache.json").is_file()
    first_mtime = weights.stat().st_mtime_ns
    assert not list(folder.parent.glob(".tmp-*")), "temporary folder left behind"

    # Reuse: a second process finds the cache complete and does not rewrite it.
    _load_in_subprocess(tmp_path)
    assert weights.stat().st_mtime_ns == first_mtime

    # A truncated weights file (crash or disk full) is detected and rebuilt.
    with open(weights, "r+b") as fh:
        fh.truncate(1000)
    _load_in_subprocess(tmp_path)
    assert weights.stat().st_size > 100_000_000

    # A stale temp folder from a crash mid-write is ignored; a folder without marker is rebuilt.
    (folder.parent / ".tmp-crashed").mkdir()
    (folder / "sclora-cache.json").unlink()
    _load_in_subprocess(tmp_path)
    assert (folder / "sclora-cache.json").is_file()


def test_atomic_directory_write_leaves_nothing_on_crash(tmp_path):
    final = tmp_path / "out"

    def crash(tmp):
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        models.atomic_directory_write(final, crash)
    assert not final.exists() and list(tmp_path.iterdir()) == []


def test_offline_hub_id_fails_fast_with_alternatives(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(SCLoRAError) as err:
        models.load_model("someone/not-a-real-model-xyz")
    assert time.monotonic() - start < 20
    msg = str(err.value)
    assert "cannot be reached" in msg and "bundled" in msg and "local model folder" in msg


@pytest.mark.parametrize("name,expected", [
    ("../etc/passwd", "does not exist"),
    ("not a model", "neither"),
    ("http://evil.example/x", "does not exist"),
])
def test_bad_model_names(name, expected):
    with pytest.raises(SCLoRAError, match=expected):
        models.load_model(name)


def test_local_folder_without_config(tmp_path):
    with pytest.raises(SCLoRAError, match="no config.json"):
        models.load_model(str(tmp_path))


def test_local_folder_round_trip(tmp_path):
    model, tokenizer = models.tiny_model("tiny-llama")
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, _ = models.load_model(str(tmp_path), device="cpu")
    x = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(loaded(x).logits, model(x).logits)


@pytest.mark.parametrize("arch,linear_names", [
    ("tiny-llama", {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}),
    ("tiny-qwen2", {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}),
    ("tiny-gpt2", {"c_attn", "c_proj", "c_fc"}),
])
def test_tiny_factory(arch, linear_names):
    model, tokenizer = models.load_model(arch, device="cpu")
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    assert linear_names <= names
    assert tokenizer.pad_token is not None and tokenizer.chat_template
    if arch == "tiny-qwen2":
        assert model.model.layers[0].self_attn.q_proj.bias.abs().sum() > 0
    enc = tokenizer(["hello", "a longer text"], return_tensors="pt", padding=True)
    assert model(**enc).logits.shape[:2] == enc["input_ids"].shape
    # same seed, same weights
    again, _ = models.tiny_model(arch)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_device_choice():
    assert models.default_device("cpu").type == "cpu"
    assert models.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SCLoRAError, match="CUDA is not available"):
            models.default_device("cuda")
