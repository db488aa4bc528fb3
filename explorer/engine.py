"""The app's single link to the library: the shared, read-only base model and helpers.

The base model is loaded once per process and never modified; everything a user makes lives
in their own session state.
"""

from __future__ import annotations

import threading

from sclora import models

_lock = threading.Lock()
_default_model = models.BUNDLED
_loaded: dict[str, tuple] = {}


def set_default_model(name: str) -> None:
    global _default_model
    _default_model = name


def default_model_name() -> str:
    return _default_model


def model_label(name: str | None = None) -> str:
    name = name or _default_model
    return models.BUNDLED_LABEL if name == models.BUNDLED else name


def get_model(name: str | None = None):
    """(model, tokenizer), loaded once per process and shared read-only by every session."""
    name = name or _default_model
    with _lock:
        if name not in _loaded:
            _loaded[name] = models.load_model(name)
        return _loaded[name]
