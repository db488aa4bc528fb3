"""A ``transformers.TrainerCallback`` that keeps a standard LoRA beside every checkpoint.

A Trainer (or TRL's ``SFTTrainer``) saves an SC-LoRA model's adapter as it trains it: an adapter
for the residual weights W_res, useless on the original model. :class:`SCLoRAExportCallback`
writes, at every save, ``<checkpoint>/sclora-adapter/`` and, at the end of training,
``<output_dir>/sclora-adapter/``: standard LoRA folders (rank 2r, ``init_lora_weights=True``) that
load with ``PeftModel.from_pretrained(unmodified_base, folder)``. Only the main process writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import TrainerCallback

EXPORT_DIR = "sclora-adapter"


def _unwrap(model):
    """The PeftModel inside DDP / accelerate wrappers."""
    while not hasattr(model, "sclora_method") and hasattr(model, "module"):
        model = model.module
    return model


class SCLoRAExportCallback(TrainerCallback):
    """Write a standard LoRA for the unmodified base beside each checkpoint and at the end.

    Args:
        final_dir: where ``on_train_end`` writes (default ``<output_dir>/sclora-adapter``).
    """

    def __init__(self, final_dir: str | os.PathLike | None = None):
        self.final_dir = final_dir
        self.written: list[Path] = []

    def _export(self, model, folder: Path) -> None:
        from .errors import check
        from .export import export_adapter

        model = _unwrap(model)
        check(model is not None and getattr(model, "sclora_method", None) is not None,
              "SCLoRAExportCallback needs the model made by sclora.get_sclora_model (or sclora.inits.init_adapters).")
        self.written.append(export_adapter(model, folder))

    def on_save(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self._export(model, checkpoint / EXPORT_DIR)
        return control

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero:
            self._export(model, Path(self.final_dir or Path(args.output_dir) / EXPORT_DIR))
        return control
