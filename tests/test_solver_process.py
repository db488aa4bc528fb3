"""The β table solved in spawned solver processes: the same table as in this thread, stoppable, with a fallback."""

import time

import pytest
import torch

from sclora.models import tiny_model
from sclora.modules import TargetModule
from sclora.solver_process import SolverProcesses, tradeoff_in_workers
from sclora.statistics import SIDES, Group, Statistics, StoppedError, collect_statistics
from sclora.subspace import tradeoff

BETAS, RANKS = [0.1, 0.5, 0.9], [1, 2, 4, 8]  # β where the subspace is unique (see test_subspace)


def _ids(seed, n, vocab=256):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, vocab, (int(torch.randint(4, 16, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


@pytest.fixture(scope="module")
def stats():
    model, _ = tiny_model("tiny-llama")  # input- and output-side groups, stored as samples
    return collect_statistics(model, _ids(0, 40), _ids(1, 30))


@pytest.fixture(scope="module")
def solver():
    solver = SolverProcesses(processes=2)
    yield solver
    solver.close()


def _slow_statistics(modules=40, samples=200, width=500) -> Statistics:
    """Output-side sample factors big enough that a table takes seconds (a stop lands mid-way)."""
    g = torch.Generator().manual_seed(0)
    names = [f"m{i}" for i in range(modules)]
    return Statistics(
        model_name="synthetic", aggregate="sample",
        modules=[TargetModule(n, "proj", i, width, width) for i, n in enumerate(names)],
        groups=[Group(n, [n], "output") for n in names],
        matrices={side: {n: torch.randn(samples, width, generator=g, dtype=torch.float64) for n in names}
                  for side in SIDES},
        counts={side: {"samples": samples, "tokens": samples} for side in SIDES},
        factored={side: list(names) for side in SIDES})


def test_solver_processes_give_the_in_thread_table(stats, solver):
    here = tradeoff(stats, RANKS, BETAS, dtype=torch.float32)
    there = solver.tradeoff(stats, RANKS, BETAS, torch.float32)
    assert list(there.columns) == list(here.columns) and len(there) == len(here)
    for column in ("module", "layer", "kind", "beta", "rank"):
        assert (there[column] == here[column]).all()
    for column in ("finetune_energy", "preserve_energy", "reward", "finetune_trace", "preserve_trace"):
        assert torch.allclose(torch.tensor(there[column].values), torch.tensor(here[column].values),
                              rtol=1e-5, atol=1e-6), column
    seen = []
    solver.tradeoff(stats, RANKS, BETAS, torch.float32, progress=lambda done, total, desc: seen.append((done, total)))
    assert seen[-1] == (len(stats.modules), len(stats.modules))  # progress adds up the workers' modules
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_stop_returns_promptly_and_fresh_workers_take_the_next_table(stats, solver):
    solver.start()
    before = solver.pids()
    stop_asked = []

    def should_stop():
        return bool(stop_asked)

    def progress(done, total, desc):
        stop_asked.append(time.monotonic())  # stop once the solve is under way

    with pytest.raises(StoppedError):
        solver.tradeoff(_slow_statistics(), RANKS, BETAS, torch.float32, progress, should_stop)
    assert time.monotonic() - stop_asked[0] < 2.0
    assert not solver.alive  # killed mid-solve
    table = solver.tradeoff(stats, RANKS, BETAS, torch.float32)
    assert len(table) == len(stats.modules) * len(BETAS) * len(RANKS)
    assert set(solver.pids()).isdisjoint(before)


def test_workers_that_do_not_start_fall_back_to_this_thread(stats, caplog):
    solver = SolverProcesses(processes=1, start_timeout_s=0.0)  # never ready in time
    try:
        value = tradeoff_in_workers(stats, RANKS, BETAS, torch.float32, solver=solver, fallback=lambda: "here")
    finally:
        solver.close()
    assert value == "here" and "instead of in solver processes" in caplog.text


def test_shares_shrink_to_single_modules_so_workers_finish_together():
    from sclora.solver_process import _shares

    names = [f"m{i}" for i in range(210)]
    shares = _shares(names, 2)
    assert [n for share in shares for n in share] == names  # every module once, in order (the table's order)
    sizes = [len(share) for share in shares]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1 and sizes[-2:] == [1, 1]
    assert _shares(["a"], 4) == [["a"]] and _shares([], 2) == [[]]
