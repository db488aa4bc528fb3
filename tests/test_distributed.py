"""Statistics over two processes (torchrun, gloo on CPU) equal those of one process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from sclora.cli import main
from sclora.distributed import collect_statistics_distributed, rank_and_world, shard
from sclora.models import tiny_model
from sclora.statistics import load_statistics
from sclora.subspace import sclora_subspace


def _covariances_args(n: int, out) -> list[str]:
    return ["covariances", "--model", "tiny-llama", "--finetune", "math", "--preserve", "knowledge",
            "--max-samples", str(n), "--max-length", "24", "--batch-size", "4", "--device", "cpu", "--out", str(out)]


def _torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "sclora", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)


def _projector(stats, name: str, beta: float, rank: int) -> torch.Tensor:
    q = sclora_subspace(stats, name, beta, rank).basis  # float64
    return q @ q.T


# 12 samples: every statistic is a factor (N <= d) gathered row-wise; 80 samples: each rank's 40 rows
# would be a factor but the global N exceeds d = 65, so the ranks all-reduce covariances instead.
@pytest.mark.parametrize("n", [12, 80])
def test_two_gloo_processes_give_the_subspaces_of_one_process(tmp_path, n):
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    assert main(_covariances_args(n, one)) == 0
    run = _torchrun(_covariances_args(n, two))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "from 2 processes" in run.stdout and run.stdout.count("->") == 1  # only rank 0 reports and writes
    model, _ = tiny_model("tiny-llama")
    a, b = load_statistics(one, model), load_statistics(two, model)
    assert a.counts == b.counts and a.fingerprints == b.fingerprints and a.factored == b.factored
    assert bool(a.factored["finetune"]) == (n <= 64)
    for name in a.module_names:
        for beta in (0.0, 0.5, 0.9):
            diff = (_projector(a, name, beta, 4) - _projector(b, name, beta, 4)).abs().max().item()
            assert diff < 1e-8, (name, beta, diff)


def test_shard_gives_every_sample_to_exactly_one_rank():
    items = list(range(11))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(x for p in parts for x in p) == items
    assert parts[0] == [0, 3, 6, 9]


def test_without_a_process_group_collection_is_the_plain_one():
    assert rank_and_world() == (0, 1)
    model, _ = tiny_model("tiny-llama")
    stats = collect_statistics_distributed(model, [[5, 6, 7]] * 3, [[8, 9]] * 2)
    assert stats.counts["finetune"] == {"samples": 3, "tokens": 9}


def test_fewer_samples_than_processes_is_a_clear_error(tmp_path):
    run = _torchrun(_covariances_args(1, tmp_path / "x.safetensors"))
    assert run.returncode != 0
    assert "fewer than the 2 processes" in run.stderr
    assert not (tmp_path / "x.safetensors").exists()



WORKER = '''
import sys, torch, torch.distributed as dist
from peft import LoraConfig
from safetensors.torch import save_file
from sclora import get_sclora_model
from sclora.distributed import init_from_environment, finish
from sclora.models import tiny_model

init_from_environment()
g = torch.Generator().manual_seed(0)
ids = [torch.randint(5, 250, (int(n),), generator=g).tolist() for n in torch.randint(4, 20, (22,), generator=g)]
model, _ = tiny_model("tiny-llama")
peft_model = get_sclora_model(model, LoraConfig(r=4, lora_alpha=4, task_type="CAUSAL_LM"),
                              finetune=ids[:12], preserve=ids[12:], beta=0.5)
tag = f"rank{dist.get_rank()}" if dist.is_initialized() else "single"
save_file({k: v.contiguous() for k, v in peft_model.sclora_initial_adapter.items()}, f"{sys.argv[1]}/{tag}.safetensors")
finish()
'''


def test_get_sclora_model_under_torchrun_gives_every_rank_the_one_process_adapter(tmp_path):
    from safetensors.torch import load_file

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    single = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=240)
    assert single.returncode == 0, single.stderr[-3000:]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          str(script), str(tmp_path)], capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    ref = load_file(str(tmp_path / "single.safetensors"))
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1)]
    for key, value in ref.items():
        assert torch.equal(ranks[0][key], ranks[1][key]), key  # both ranks start from the same adapter
        if ".lora_B." in key:  # B = Q: compare the subspaces through projectors
            a, b = ranks[0][key].double(), value.double()
            assert (a @ a.T - b @ b.T).abs().max().item() < 1e-5, key
