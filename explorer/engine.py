"""The app's single link to the library: the shared, read-only base models, GPU placement and the heavy work.

Base models are loaded once per process and never modified (adapters are built on copies);
everything a user makes lives in their session (``explorer.session``). The heavy computations
(statistics, evaluations, output directions, a fine-tune) are plain functions of a model name here;
``explorer.shared`` shares their results between sessions. On Hugging Face ZeroGPU, :func:`gpu` wraps
them in ``spaces.GPU`` (they run in a forked worker, so they take and return only what pickles);
elsewhere it returns the function unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from collections import OrderedDict
from pathlib import Path

try:  # ZeroGPU: must be imported before torch touches CUDA; absent locally.
    import spaces  # type: ignore
except ImportError:  # pragma: no cover - depends on the host
    spaces = None

from sclora import models
from sclora.compare import evaluate_data, run_one, side_by_side as answers_side_by_side
from sclora.errors import SCLoRAError, check
from sclora.inits import method_output_directions
from sclora.runs import write_run
from sclora.statistics import collect_statistics
from sclora.train import exact_patterns, target_names

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
    value = models.model_checksum(model)
    with _lock:
        _checksums[name] = value
    return value


# ---------------------------------------------------------------------- the heavy work


@gpu(duration=120)
def collect(model_name: str, finetune_ids, preserve_ids, progress=None, should_stop=None):
    """C+ and C− of every target module; returned detached from the model, on the CPU."""
    model, tokenizer = get_model(model_name)
    stats = collect_statistics(
        model, finetune_ids, preserve_ids, target_modules=exact_patterns(target_names(model)),
        pad_token_id=tokenizer.pad_token_id or 0, progress=progress, should_stop=should_stop, model_name=model_name)
    stats.attach_model(None)  # no session ever holds the base model
    return stats


@gpu(duration=120)
def evaluate_base(model_name: str, data, settings: dict) -> dict:
    """The base model on both held-out sets of ``data`` under ``settings`` (max_length, batch_size, max_eval, max_loss)."""
    model, tokenizer = get_model(model_name)
    return evaluate_data(model, tokenizer, data, max_length=settings["max_length"], batch_size=settings["batch_size"],
                         max_eval=settings["max_eval"], max_loss=settings.get("max_loss"))


@gpu(duration=60)
def output_directions(model_name: str, name: str, method: str, samples):
    """A method's output directions for one module (CorDA runs the model up to it)."""
    model, _ = get_model(model_name)
    return method_output_directions(model, name, method, samples)


@gpu(duration=120)
def side_by_side(model_name: str, adapters: dict, prompts: list[str], max_new_tokens: int):
    """Greedy answers to ``prompts``: a column for the base model, one per adapter folder (``sclora.compare``)."""
    model, tokenizer = get_model(model_name)
    return answers_side_by_side(model, tokenizer, adapters, prompts, max_new_tokens=max_new_tokens)


@gpu(duration=300)
def train_run(model_name: str, data, statistics, before: dict, method: str, beta: float | None, lr: float,
              settings: dict, out_dir: Path, should_stop):
    """One fine-tune from the shared base, written to ``out_dir``; yields ("step", StepInfo) as it trains, then
    ("run", RunRecord) without its model, or ("error", exception).

    ``before`` is the base model's evaluation and ``statistics`` (for SC-LoRA) the shared, detached ones. The
    run trains in a worker thread so that this generator can report every step; closing the generator stops
    it after its current step. Everything yielded is CPU data, so this can run inside ``spaces.GPU``.
    """
    events: queue.Queue = queue.Queue()
    closed = threading.Event()
    stop = lambda: closed.is_set() or should_stop()  # noqa: E731

    def work() -> None:
        try:
            model, tokenizer = get_model(model_name)
            stats = None if statistics is None else dataclasses.replace(statistics, _model=model)
            record = run_one(model, tokenizer, data, method=method, beta=beta, lr=lr, before=before, statistics=stats,
                             model_name=model_name, should_stop=stop, on_step=lambda info: events.put(("step", info)),
                             **{k: settings[k] for k in ("rank", "steps", "batch_size", "seed", "max_length",
                                                         "max_eval", "max_loss")})
            write_run(record, out_dir)
            record.model = None  # a full model copy per run would not fit many sessions
            check(models.model_checksum(model) == model_checksum(model_name),
                  "The base model's weights changed during a run: this is a bug, please report it.")
            events.put(("run", record))
        except BaseException as exc:  # handed to the caller, who shows it
            events.put(("error", exc))
        finally:
            events.put(("done",))

    worker = threading.Thread(target=work, name="sclora-finetune", daemon=True)
    worker.start()
    try:
        while (event := events.get())[0] != "done":
            yield event
    finally:
        closed.set()


__all__ = ["SCLoRAError", "gpu", "gpu_out_of_process", "get_model", "check_model_name", "model_choices", "set_default_model",
           "default_model_name", "model_checksum", "model_label", "local_models_allowed", "on_spaces", "collect",
           "evaluate_base", "output_directions", "side_by_side", "train_run"]
