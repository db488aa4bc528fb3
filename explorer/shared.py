"""Results every session of this server shares: computed once per set of inputs, kept in memory and on disk.

A room of people mostly asks for the same things (the default data, the default β grid). Each result
is keyed by everything that determines it (``sclora.cache``): the model and its weights' checksum,
fingerprints of the token ids, and the settings. Identical inputs share one read-only result;
different inputs never meet, so no session sees another's uploads or runs. Concurrent identical
requests wait for one computation, and heavy computations take turns (``SCLORA_HEAVY_JOBS``, default 1).

Disk: ``$SCLORA_RESULTS_CACHE`` (default ``$SCLORA_CACHE/results``; ``off`` for memory only), capped at
``SCLORA_RESULTS_DISK_MB`` (default 20,000); memory at ``SCLORA_RESULTS_MEMORY_MB`` (default 2,048).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from sclora import models
from sclora.cache import Codec, ResultCache, WorkQueue, result_key
from sclora.models import atomic_directory_write
from sclora.runs import read_run
from sclora.statistics import fingerprint_ids, load_statistics, save_statistics
from sclora.solver_process import SOLVER, tradeoff_in_workers
from sclora.subspace import tradeoff

from . import engine
from .session import StopFlag


def results_dir() -> Path | None:
    value = os.environ.get("SCLORA_RESULTS_CACHE", "")
    if value.lower() == "off":
        return None
    return Path(value) if value else models.cache_dir() / "results"


def _megabytes(name: str, default: int) -> int:
    return int(float(os.environ.get(name, default)) * 2**20)


RESULTS = ResultCache(results_dir(), max_memory_bytes=_megabytes("SCLORA_RESULTS_MEMORY_MB", 2048),
                      max_disk_bytes=_megabytes("SCLORA_RESULTS_DISK_MB", 20_000),
                      work=WorkQueue(int(os.environ.get("SCLORA_HEAVY_JOBS", "1"))))

# Python objects that are cheap to rebuild and have no file format of their own (the bundled sets, read and
# tokenized): memory only, still one computation per key when a room asks at once.
MEMORY = ResultCache(None, max_memory_bytes=_megabytes("SCLORA_RESULTS_MEMORY_MB", 2048) // 8)
OBJECT = Codec("", save=None, load=None, nbytes=lambda value: 8 << 20)  # a rough size: these are few and small

STATISTICS = Codec(".safetensors", save=lambda stats, path: save_statistics(stats, path),
                   load=lambda path: load_statistics(path), nbytes=lambda stats: stats.nbytes())
TABLE = Codec(".parquet", save=lambda table, path: table.to_parquet(path, index=False),
              load=pd.read_parquet, nbytes=lambda table: int(table.memory_usage(deep=True).sum()))
TENSOR = Codec(".safetensors", save=lambda t, path: save_file({"value": t.contiguous()}, str(path)),
               load=lambda path: load_file(str(path))["value"], nbytes=lambda t: t.numel() * t.element_size())


def _store_run(folder: Path, path: Path) -> None:
    shutil.copytree(folder, path, dirs_exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)  # the run's own temporary folder


def _link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows it (a room's sessions share a run's files read-only), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _finished(folder: Path) -> bool:
    return not json.loads((Path(folder) / "metrics.json").read_text()).get("stopped_early")


# A run: its folder (record + standard LoRA adapter), moved into the cache; one stopped early is never kept.
RUN = Codec("", save=_store_run, load=lambda path: path, nbytes=lambda path: 0, keep_stored=True, storable=_finished)
JSON = Codec(".json", save=lambda value, path: path.write_text(json.dumps(value)),
             load=lambda path: json.loads(path.read_text()), nbytes=lambda value: len(json.dumps(value)))

SWEEP_DTYPE = torch.float32  # the β table is only plotted (see sclora.subspace.tradeoff)


def solver_process_on() -> bool:
    """Solve β tables in solver processes (``sclora.solver_process``) on a CPU; ``SCLORA_SOLVER_PROCESS=off``: not."""
    return os.environ.get("SCLORA_SOLVER_PROCESS", "on").lower() != "off" and not torch.cuda.is_available()


# ---------------------------------------------------------------------- keys


def model_fields(model_name: str) -> dict:
    return {"model": model_name, "weights": engine.model_checksum(model_name)}


def statistics_fields(model_name: str, data) -> dict:
    return {**model_fields(model_name), "finetune": fingerprint_ids(data.finetune_ids),
            "preserve": fingerprint_ids(data.preserve_ids), "modules": "all-linear", "aggregate": "sample"}


def sweep_fields(model_name: str, data, betas: list[float], ranks: list[int]) -> dict:
    return {**statistics_fields(model_name, data), "betas": [round(float(b), 9) for b in betas],
            "ranks": [int(r) for r in ranks], "dtype": str(SWEEP_DTYPE)}


def heldout_fields(model_name: str, data) -> dict:
    """Everything a base-model evaluation depends on besides its settings."""
    def records(examples) -> str:
        text = json.dumps(examples.records, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    return {**model_fields(model_name), "finetune_heldout": records(data.finetune_heldout),
            "preserve_heldout": records(data.preserve_heldout), "finetune_metric": data.finetune_metric,
            "preserve_metric": data.preserve_metric}


def run_fields(model_name: str, data, method: str, beta: float | None, lr: float, settings: dict) -> dict:
    """Everything a fine-tune's outcome depends on: data (statistics, training and held-out), init, schedule."""
    return {**statistics_fields(model_name, data), **heldout_fields(model_name, data),
            "train": fingerprint_ids(data.train.input_ids), "train_labels": fingerprint_ids(data.train.labels),
            "method": method, "beta": beta, "lr": float(lr),
            **{k: settings.get(k) for k in ("rank", "steps", "batch_size", "max_eval", "max_loss", "seed", "max_length")}}


# ---------------------------------------------------------------------- stop flags that cross processes


@contextmanager
def crossing_stop(should_stop):
    """A picklable stop check that follows ``should_stop`` (ZeroGPU workers get their arguments pickled).

    In process it is ``should_stop`` itself; out of process a file flag, set by a watcher thread.
    """
    if not engine.gpu_out_of_process():
        yield should_stop
        return
    folder = Path(tempfile.mkdtemp(prefix="sclora-stop-"))
    flag, done = StopFlag(folder), threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if should_stop():
                flag.set()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield flag.is_set
    finally:
        done.set()
        flag.path.unlink(missing_ok=True)
        folder.rmdir()


def _picklable(progress):
    """Progress reaches a ZeroGPU worker only when it pickles; a shared computation's does not."""
    return None if engine.gpu_out_of_process() else progress


# ---------------------------------------------------------------------- the shared stages


def _shared(kind: str, fields: dict, codec: Codec, compute, progress, should_stop, wait: bool):
    """The shared result, waiting for it; or, with ``wait=False``, only making sure it is being computed (None)."""
    if not wait:
        RESULTS.start(kind, fields, codec, compute)
        return None
    return RESULTS.get_or_compute(kind, fields, codec, compute, progress=progress, should_stop=should_stop)


def memoized(kind: str, fields: dict, compute):
    """``compute()`` once per key for the whole server, in memory (see MEMORY)."""
    return MEMORY.get_or_compute(kind, fields, OBJECT, lambda report, stop: compute(), heavy=False)


def statistics(model_name: str, data, progress=None, should_stop=None, wait: bool = True):
    """C+ and C− of every target module for ``data`` (detached from the model): computed once per server."""
    def compute(report, stop):
        with crossing_stop(stop) as stop_check:
            return engine.collect(model_name, data.finetune_ids, data.preserve_ids, _picklable(report), stop_check)

    if solver_process_on():
        SOLVER.start()  # the β grid follows the statistics: the processes start meanwhile

    return _shared("statistics", statistics_fields(model_name, data), STATISTICS, compute, progress, should_stop, wait)


def attached(stats, model_name: str):
    """A shallow copy of shared statistics that can derive output covariances from the read-only base model."""
    model, _ = engine.get_model(model_name)
    return dataclasses.replace(stats, _model=model)


@contextmanager
def one_thread_off_the_main_thread():
    """One intra-op thread while eigensolves run in a worker thread, then the count is restored.

    torch's CPU eigensolver runs several times slower in a thread other than the main one when it may use
    several threads than with one (the β table takes about twice as long). Heavy work takes turns
    (``RESULTS.work``), so the process-wide count drops only while one table is solved; light requests
    running meanwhile are slower for that long, not wrong.
    """
    before = torch.get_num_threads()
    if threading.current_thread() is threading.main_thread() or before == 1 or torch.cuda.is_available():
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def solve_table(stats, ranks: list[int], betas: list[float], progress=None, should_stop=None):
    """The β table: in the solver processes on a CPU (their eigensolves run in a main thread, at full speed),
    else, or when they fail, in this thread."""
    def in_this_thread():
        with one_thread_off_the_main_thread():
            return tradeoff(stats, ranks, betas, progress=progress, dtype=SWEEP_DTYPE)

    if not solver_process_on():
        return in_this_thread()
    return tradeoff_in_workers(stats, ranks, betas, SWEEP_DTYPE, progress, should_stop, fallback=in_this_thread)


def sweep(model_name: str, data, stats, betas: list[float], ranks: list[int], progress=None, should_stop=None,
          wait: bool = True):
    """The β table (every rank in ``ranks``) for ``betas``: computed once per server.

    ``wait=False`` only makes sure it is computed or being computed (and returns None).
    """
    def compute(report, stop):
        return solve_table(attached(stats, model_name), ranks, betas, progress=report, should_stop=stop)

    return _shared("sweep", sweep_fields(model_name, data, betas, ranks), TABLE, compute, progress, should_stop, wait)


def output_directions(model_name: str, data, name: str, method: str, samples_side: str | None, samples: int,
                      progress=None):
    """A baseline's output directions of one module (CorDA: from the first ``samples`` of one set)."""
    ids = getattr(data, samples_side)[:samples] if samples_side else None
    fields = {**model_fields(model_name), "module": name, "method": method,
              "samples": fingerprint_ids(ids) if ids else None}
    return RESULTS.get_or_compute("directions", fields, TENSOR,
                                  lambda report, stop: engine.output_directions(model_name, name, method, ids),
                                  progress=progress)


EVALUATION_SETTINGS = ("max_length", "batch_size", "max_eval", "max_loss")


def base_evaluation(model_name: str, data, settings: dict, progress=None, should_stop=None) -> dict:
    """The base model's held-out evaluation under ``settings`` (max_length, batch_size, max_eval, max_loss)."""
    fields = {**heldout_fields(model_name, data), **{k: settings.get(k) for k in EVALUATION_SETTINGS}}
    return RESULTS.get_or_compute("evaluation", fields, JSON,
                                  lambda report, stop: engine.evaluate_base(model_name, data, settings),
                                  progress=progress, should_stop=should_stop)


# ---------------------------------------------------------------------- runs

# The loss curve of every run training now, by result key: whoever waits for a run draws it live.
LIVE_LOSSES: dict[str, list[tuple[int, float]]] = {}


def run_key(model_name: str, data, method: str, beta: float | None, lr: float, settings: dict) -> str:
    return result_key("run", run_fields(model_name, data, method, beta, lr, settings))


def run(model_name: str, data, statistics, before: dict, method: str, beta: float | None, lr: float, settings: dict,
        out_dir: Path | None = None, progress=None, should_stop=None):
    """One fine-tune, trained once per server for identical inputs, its record copied to ``out_dir``
    (None: returns the shared, read-only folder of the finished run instead).

    ``before`` is :func:`base_evaluation` of the same settings, ``statistics`` the shared ones (SC-LoRA).
    Everyone who asks for the same run waits for one training (``LIVE_LOSSES`` has its curve meanwhile) and
    a finished run is kept on disk for later requests. Runs take turns with the other heavy work, first come
    first served: a session that asks for its runs one after the other gets round-robin with everyone else.
    A run stopped early (its caller pressed Stop and nobody else waits for it) is handed back, never kept.
    """
    fields = run_fields(model_name, data, method, beta, lr, settings)
    key = result_key("run", fields)

    def compute(report, stop):
        folder = Path(tempfile.mkdtemp(prefix="sclora-run-"))
        LIVE_LOSSES[key] = []
        try:
            with crossing_stop(stop) as stop_check:
                for event in engine.train_run(model_name, data, statistics if method == "sclora" else None, before,
                                              method, beta, lr, settings, folder, stop_check):
                    if event[0] == "step":
                        info = event[1]
                        LIVE_LOSSES[key].append((info.step, info.loss))
                        report(info.step, info.total_steps, f"step {info.step}/{info.total_steps}, loss {info.loss:.4f}")
                    elif event[0] == "error":
                        raise event[1]
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            LIVE_LOSSES.pop(key, None)
        return folder

    folder = RESULTS.get_or_compute("run", fields, RUN, compute, progress=progress, should_stop=should_stop,
                                    finish_on_stop=True)
    if out_dir is None:
        return folder if _finished(folder) else None
    atomic_directory_write(Path(out_dir), lambda tmp: shutil.copytree(folder, tmp, dirs_exist_ok=True,
                                                                      copy_function=_link_or_copy))
    if not _finished(folder):  # never kept: nobody else has it
        shutil.rmtree(folder, ignore_errors=True)
    return read_run(out_dir)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def side_by_side(model_name: str, adapters: dict, prompts: list[str], max_new_tokens: int, progress=None):
    """Greedy answers of the base model and each adapter folder (label -> folder): once per server for the same
    adapters (by the checksum of their weights), labels, prompts and length."""
    fields = {**model_fields(model_name), "prompts": list(prompts), "max_new_tokens": int(max_new_tokens),
              "adapters": {label: _file_digest(Path(folder) / "adapter_model.safetensors")
                           for label, folder in adapters.items()}}
    return RESULTS.get_or_compute("generations", fields, TABLE, lambda report, stop: engine.side_by_side(
        model_name, {label: str(folder) for label, folder in adapters.items()}, list(prompts), int(max_new_tokens)),
        progress=progress)
