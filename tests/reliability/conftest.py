"""Fixtures for the reliability suite: an in-process CLI runner, a tiny model, a statistics file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ._util import CliResult

torch.set_num_threads(1)  # tiny models gain nothing from more threads, and parallel test runs share the cores

APP_TESTS = "test_app_sessions.py"


def pytest_collection_modifyitems(session, config, items):
    """When the app tests are selected: start their server now and run those tests last, so the
    server boots (about 15 s of CPU) while the other tests run."""
    app_items = [item for item in items if item.path.name == APP_TESTS]
    if app_items:
        from ._server import start_app

        start_app()
        items[:] = [item for item in items if item.path.name != APP_TESTS] + app_items


def pytest_sessionfinish(session, exitstatus):
    from ._server import stop_app

    stop_app()


@pytest.fixture
def cli(capsys):
    """Run ``python -m sclora ARGS`` in-process; returns exit code, stdout and stderr."""
    from sclora.cli import main

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse exits by itself
            code = exc.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer) of tiny-llama; tests that alter it take a deepcopy."""
    from sclora.models import tiny_model

    return tiny_model("tiny-llama")


@pytest.fixture(scope="session")
def data_files(tmp_path_factory):
    """A small fine-tune and preserve JSONL file."""
    root = tmp_path_factory.mktemp("data")
    ft, pr = root / "ft.jsonl", root / "pr.jsonl"
    ft.write_text("".join(json.dumps({"prompt": f"What is {i} plus 2?", "response": f"The answer is {i + 2}."}) + "\n"
                          for i in range(12)))
    pr.write_text("".join(json.dumps({"question": f"Capital number {i}?", "answer": "Paris"}) + "\n"
                          for i in range(12)))
    return ft, pr


@pytest.fixture(scope="session")
def cov_file(tiny, tmp_path_factory) -> Path:
    """A statistics file of tiny-llama (12 + 12 samples), as `sclora covariances` writes it."""
    from sclora.statistics import collect_statistics, save_statistics

    model, _ = tiny
    ft = [[5 + (i * j) % 200 for j in range(12)] for i in range(12)]
    pr = [[7 + (i + 3 * j) % 200 for j in range(10)] for i in range(12)]
    stats = collect_statistics(model, ft, pr, model_name="tiny-llama")
    return save_statistics(stats, tmp_path_factory.mktemp("stats") / "cov.safetensors")
