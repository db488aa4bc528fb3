"""The app's single link to the library: the shared, read-only base models and GPU placement.

Base models are loaded once per process and never modified (adapters are built on copies);
everything a user makes lives in their session (``explorer.session``). On Hugging Face ZeroGPU,
:func:`gpu` wraps heavy work in ``spaces.GPU``; elsewhere it returns the function unchanged.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

try:  # ZeroGPU: must be imported before torch touches CUDA; absent locally.
    import spaces  # type: ignore
except ImportError:  # pragma: no cover - depends on the host
    spaces = None

from sclora import compare, models
from sclora.errors import SCLoRAError, check

MAX_LOADED_MODELS = int(os.environ.get("SCLORA_MAX_MODELS", "2"))
_lock = threading.Lock()
_default_model = models.BUNDLED
_loaded: OrderedDict[str, tuple] = OrderedDict()
_checksums: dict[str, str] = {}


def gpu(duration: int = 120):
    """``spaces.GPU(duration=...)`` on ZeroGPU, else a no-op decorator."""
    if spaces is not None and hasattr(spaces, "GPU"):
        return spaces.GPU(duration=duration)
    return lambda fn: fn


def gpu_out_of_process() -> bool:
    """True on ZeroGPU: :func:`gpu` functions run in a forked worker, their arguments and results pickled.

    So they take only picklable arguments (no closures, no thread events), return CPU data, and
    anything they do to module state stays in the worker.
    """
    return spaces is not None and bool(os.environ.get("SPACES_ZERO_GPU"))


def set_default_model(name: str) -> None:
    global _default_model
    _default_model = name


def default_model_name() -> str:
    return _default_model


def model_label(name: str | None = None) -> str:
    name = name or _default_model
    return models.BUNDLED_LABEL if name == models.BUNDLED else name


def on_spaces() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def local_models_allowed() -> bool:
    """Local folders only when asked for (SCLORA_ALLOW_LOCAL_MODELS=1) and never on Spaces."""
    return os.environ.get("SCLORA_ALLOW_LOCAL_MODELS") == "1" and not on_spaces()


def model_choices() -> list[str]:
    """The picker's list: the bundled model first, then the launch model and the tiny test models."""
    choices = [models.BUNDLED_LABEL]
    if _default_model not in (models.BUNDLED, models.BUNDLED_LABEL):
        choices.append(_default_model)
    choices += [t for t in models.TINY_ARCHITECTURES if t not in choices]
    return choices


def check_model_name(name: str) -> str:
    """The canonical model name for a picker value, or SCLoRAError naming what is allowed."""
    name = (name or "").strip()
    if name in ("", models.BUNDLED, models.BUNDLED_LABEL):
        return models.BUNDLED
    if name in models.TINY_ARCHITECTURES or name == _default_model:
        return name
    check("://" not in name, f"Model {name!r} is a URL; URLs are not accepted: give a hub id of the form owner/name.")
    looks_local = os.path.sep in name and not models.HUB_ID_PATTERN.match(name) or name.startswith((".", "~"))
    if looks_local or os.path.isdir(name):
        check(local_models_allowed(), f"Model {name!r} looks like a local folder; local folders are allowed only "
              "when the app runs locally with SCLORA_ALLOW_LOCAL_MODELS=1.")
        check(os.path.isdir(name), f"Model folder {name!r} does not exist.")
        return name
    check(bool(models.HUB_ID_PATTERN.match(name)),
          f"Model {name!r} is not a hub id of the form owner/name (letters, digits, '-', '_', '.').")
    return name


def get_model(name: str | None = None):
    """(model, tokenizer), loaded once per process and shared read-only by every session.

    At most ``MAX_LOADED_MODELS`` stay loaded; the least recently used one is dropped.
    """
    name = name or _default_model
    with _lock:
        if name in _loaded:
            _loaded.move_to_end(name)
            return _loaded[name]
        loaded = models.load_model(name)
        _loaded[name] = loaded
        while len(_loaded) > max(1, MAX_LOADED_MODELS):
            _loaded.popitem(last=False)
        return loaded


def model_checksum(name: str | None = None) -> str:
    """SHA-256 of the model's weights, once per process: part of every shared result's key."""
    name = name or _default_model
    with _lock:
        if name in _checksums:
            return _checksums[name]
    model, _ = get_model(name)
    value = compare.model_checksum(model)
    with _lock:
        _checksums[name] = value
    return value


__all__ = ["SCLoRAError", "gpu", "gpu_out_of_process", "get_model", "check_model_name", "model_choices", "set_default_model",
           "default_model_name", "model_checksum", "model_label", "local_models_allowed", "on_spaces"]
