"""The default walkthrough, prepared ahead: a room that arrives together finds it computed.

When the server starts, a background thread loads the default data (tab 1's defaults), then computes
the base model's evaluation, the runs of tab 4's default plan (with their statistics), tab 5's default
answers, the β grid and the principal angles of the module the β tab opens on through ``explorer.shared``, so they are kept on disk too: after a restart they are read back,
not computed. A session that asks for them meanwhile joins the computation and sees how far it is.
The runs are asked for one at a time, like a session's, so a room's other requests take turns with them.
``SCLORA_PREPARE=0`` turns this off.
"""

from __future__ import annotations

import os
import threading

from sclora.errors import SCLoRAError

from . import engine, shared
from .tabs import covariances, data, finetune, generations, subspace

_status = {"state": "idle", "error": None}


def enabled() -> bool:
    """On by default; off with SCLORA_PREPARE=0, and by default on ZeroGPU, where GPU time belongs to requests."""
    return os.environ.get("SCLORA_PREPARE", "0" if engine.gpu_out_of_process() else "1") != "0"


def prepare_defaults(model_name: str | None = None) -> None:
    """Compute (or read back) the default base evaluation, statistics, β grid and runs; blocks until done."""
    model_name = model_name or engine.default_model_name()
    _status.update(state="running", error=None)
    try:
        _, prepared = data.read_and_prepare(model_name, data.DEFAULT_FINETUNE, data.DEFAULT_PRESERVE,
                                            data.DEFAULT_SAMPLES, data.DEFAULT_LENGTH)
        settings = finetune.default_settings(data.DEFAULT_LENGTH)
        before = shared.base_evaluation(model_name, prepared, settings)
        # Tab 4's default plan first, in its order (the statistics just before its first SC-LoRA run): a room
        # that clicks Fine-tune at once sees its runs soonest. Then the β grid and the angles of tab 3.
        stats, folders = None, {}
        for method, beta, lr in finetune.default_plan():
            if method == "sclora" and stats is None:
                stats = shared.statistics(model_name, prepared)
            folder = shared.run(model_name, prepared, stats, before, method, beta, lr, settings)
            folders[finetune.run_label(method, beta, lr)] = folder / "adapter"
        # Tab 5's first view: its default prompts answered by the base model and the default runs.
        shared.side_by_side(model_name, folders, generations.default_prompts(), generations.DEFAULT_MAX_NEW_TOKENS)
        stats = stats or shared.statistics(model_name, prepared)
        shared.sweep(model_name, prepared, stats, covariances.SWEEP_BETAS, covariances.sweep_ranks(stats))
        # The β tab's first view: principal angles for the module it opens on (middle layer, first kind).
        layers = sorted({m.layer for m in stats.modules})
        first = next(m for m in stats.modules if m.layer == layers[len(layers) // 2] and m.kind == stats.modules[0].kind)
        for method, side in subspace.ANGLE_METHODS.items():
            shared.output_directions(model_name, prepared, first.name, method, side, subspace.CORDA_ANGLE_SAMPLES)
        _status.update(state="done")
    except SCLoRAError as exc:  # e.g. a launch model the default sets do not suit: sessions compute on demand
        _status.update(state="failed", error=str(exc))


def start(model_name: str | None = None) -> threading.Thread | None:
    """Prepare the defaults in a background thread (when enabled); returns the thread."""
    if not enabled():
        return None
    thread = threading.Thread(target=prepare_defaults, args=(model_name,), name="sclora-prepare", daemon=True)
    thread.start()
    return thread


def status() -> dict:
    return dict(_status)
