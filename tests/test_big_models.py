"""Big-model options of `covariances`: --dtype, --device-map auto, and the memory it announces and measures."""

from __future__ import annotations

import re

import pytest
import torch

from sclora.cli import main
from sclora.models import load_model, tiny_model
from sclora.statistics import collect_statistics, load_statistics, predicted_nbytes, stored_widths


def _args(model: str, n: int, out, *extra: str) -> list[str]:
    return ["covariances", "--model", model, "--finetune", "math", "--preserve", "knowledge", "--max-samples", str(n),
            "--max-length", "24", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """tiny-llama saved as an ordinary model folder (what from_pretrained and device maps load)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    model, tok = tiny_model("tiny-llama")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("n", [8, 80])  # factors (N <= d) and covariances (N > d = 65)
def test_predicted_memory_is_what_the_statistics_take(n):
    model, _ = tiny_model("tiny-llama")
    g = torch.Generator().manual_seed(n)
    ids = [torch.randint(5, 250, (12,), generator=g).tolist() for _ in range(n)]
    stats = collect_statistics(model, ids, ids[: n // 2])
    predicted = predicted_nbytes(stored_widths(model), {"finetune": n, "preserve": n // 2})
    assert predicted == stats.nbytes()


def test_covariances_prints_the_memory_it_needs_before_and_the_peak_after(tmp_path, capsys):
    assert main(_args("tiny-llama", 80, tmp_path / "c.safetensors", "--device", "cpu")) == 0
    out = capsys.readouterr().out.splitlines()
    before = next(i for i, line in enumerate(out) if line.startswith("memory: the statistics need about"))
    predicted = next(i for i, line in enumerate(out) if line.startswith("predicted: about"))
    after = next(i for i, line in enumerate(out) if line.startswith("memory: measured peak"))
    written = next(i for i, line in enumerate(out) if " modules, 80 + 80 samples" in line)
    assert before < predicted < written < after and "on this device" in out[predicted]
    need = float(re.search(r"about ([\d.]+) MiB", out[before]).group(1))
    assert need == pytest.approx(load_statistics(tmp_path / "c.safetensors").nbytes() / 2**20, abs=0.06)
    assert float(re.search(r"peak ([\d.]+) MiB", out[after]).group(1)) > need


def test_bfloat16_weights_with_device_map_auto_give_float64_statistics(tiny_folder, tmp_path, capsys):
    model, _ = load_model(str(tiny_folder), dtype=torch.bfloat16, device_map="auto")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert main(_args(str(tiny_folder), 16, tmp_path / "bf16.safetensors", "--dtype", "bfloat16",
                      "--device-map", "auto")) == 0
    assert main(_args(str(tiny_folder), 16, tmp_path / "fp32.safetensors", "--device", "cpu")) == 0
    assert "measured peak" in capsys.readouterr().out
    low, ref = load_statistics(tmp_path / "bf16.safetensors"), load_statistics(tmp_path / "fp32.safetensors")
    assert low.counts == ref.counts
    for key, value in ref.matrices["finetune"].items():
        got = low.matrices["finetune"][key]
        assert got.dtype == torch.float64
        assert (got - value).norm() / value.norm() < 0.05  # bfloat16 activations, float64 sums


def test_device_and_device_map_exclude_each_other(tmp_path, capsys):
    assert main(_args("tiny-llama", 4, tmp_path / "x.safetensors", "--device", "cpu", "--device-map", "auto")) == 2
    assert "--device and --device-map" in capsys.readouterr().err
