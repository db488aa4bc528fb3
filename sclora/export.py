"""Export a trained adapter as a standard PEFT LoRA folder for the unmodified base model.

A residual init (PiSSA, MiLoRA, CorDA, SC-LoRA) trains on W_res = W0 - s·B0·A0, so its adapter alone
is meaningless on W0. After training (B, A) the model computes

    W_res + s·B·A = W0 + s·(B·A - B0·A0) = W0 + s·[B | B0]·[A ; -A0]

which is a rank-2r LoRA on W0 with the same scaling s (alpha and r both doubled). This is the
identity behind PEFT's ``save_pretrained(path_initial_model_for_weight_conversion=...)``; doing it
here needs no second adapter loaded into the live model and treats SC-LoRA and MiLoRA, which PEFT
does not know, like the others. Plain LoRA is saved as it is.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import torch

from .errors import SCLoRAError, check
from .files import atomic_file_write
from .inits import ADAPTER, RESIDUAL_METHODS, adapter_state
from .models import atomic_directory_write

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"


def _residual_to_lora(state: dict[str, torch.Tensor], initial: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """[B | -B0], [A ; A0]: the rank-2r LoRA equal to B·A - B0·A0 (same scaling)."""
    check(set(state) == set(initial), "The model's adapter does not match its recorded initial adapter "
          "(different modules): was it re-created after initialisation?")
    out = {}
    for key, value in state.items():
        init = initial[key].to(device=value.device, dtype=value.dtype)
        check(init.shape == value.shape, f"Adapter tensor {key} changed shape since initialisation.")
        if ".lora_A." in key:
            out[key] = torch.cat([value, init], dim=0)   # (2r, d_in)
        elif ".lora_B." in key:
            out[key] = torch.cat([value, -init], dim=1)  # (d_out, 2r)
        else:
            raise SCLoRAError(f"Cannot convert adapter tensor {key}: only lora_A/lora_B are supported.")
    return out


def _export_config(peft_model, residual: bool):
    """A copy of the adapter's config for a standard LoRA on the unmodified base (rank 2r if residual)."""
    config = copy.deepcopy(peft_model.peft_config[ADAPTER])
    check(not config.use_rslora and not config.rank_pattern and not config.alpha_pattern,
          "Export supports one rank and alpha for all modules, without rsLoRA.")
    if residual:
        config.r *= 2
        config.lora_alpha *= 2  # s = alpha / r is unchanged
    config.init_lora_weights = True
    config.corda_config = None
    config.inference_mode = True
    if not config.base_model_name_or_path:
        config.base_model_name_or_path = getattr(peft_model.base_model.model, "name_or_path", None) or None
    return config


def export_adapter(peft_model, out_dir: str | os.PathLike) -> Path:
    """Write ``peft_model``'s adapter to ``out_dir`` as a standard PEFT LoRA folder and return its path.

    The folder (``adapter_config.json`` + ``adapter_model.safetensors``) loads with
    ``PeftModel.from_pretrained(unmodified_base, out_dir)``. Residual inits made by
    ``sclora.inits.init_adapters`` are converted to rank 2r. The model and its config are not
    modified. An existing ``out_dir`` is replaced only if it is an earlier adapter export (or empty).
    """
    from safetensors.torch import save_file

    check(hasattr(peft_model, "peft_config") and ADAPTER in getattr(peft_model, "peft_config", {}),
          "export_adapter needs a PEFT model with a 'default' LoRA adapter (from sclora.inits.init_adapters).")
    method = getattr(peft_model, "sclora_method", None)
    out = Path(out_dir)
    if out.exists():
        check(out.is_dir(), f"Export folder {str(out)!r} is a file.")
        entries = {p.name for p in out.iterdir()}
        check(not entries or CONFIG_NAME in entries,
              f"Export folder {str(out)!r} already exists and is not an adapter folder; choose a new or empty folder.")

    state = {k: v.detach() for k, v in adapter_state(peft_model).items()}
    residual = method in RESIDUAL_METHODS
    if residual:
        initial = getattr(peft_model, "sclora_initial_adapter", None)
        check(initial is not None, f"The {method} model has no recorded initial adapter; export needs it to "
              "convert the residual adapter to a standard LoRA.")
        state = _residual_to_lora(state, initial)
    elif method is None:
        init = peft_model.peft_config[ADAPTER].init_lora_weights
        check(init in (True, False, "gaussian"), f"This adapter was initialised with {init!r} and was not made by "
              "sclora.inits.init_adapters: its initial weights are unknown, so it cannot be converted.")
    config = _export_config(peft_model, residual)
    tensors = {k: v.to("cpu").contiguous() for k, v in state.items()}

    def write(tmp: Path) -> None:
        config.save_pretrained(str(tmp))
        metadata = {"format": "pt", "sclora_method": str(method or "lora"), "sclora_rank": str(config.r)}
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata=metadata)

    return atomic_directory_write(out, write)


def read_export_metadata(folder: str | os.PathLike) -> dict:
    """The exported config as a dict plus the method recorded in the weights file."""
    from safetensors import safe_open

    folder = Path(folder)
    check((folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file(),
          f"{str(folder)!r} is not an adapter folder: it needs {CONFIG_NAME} and {WEIGHTS_NAME}.")
    info = json.loads((folder / CONFIG_NAME).read_text())
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        info["sclora_method"] = (f.metadata() or {}).get("sclora_method")
    return info


def zip_folder(folder: str | os.PathLike, zip_path: str | os.PathLike) -> Path:
    """Zip the regular files directly inside ``folder`` (names without directories), atomically."""
    folder, zip_path = Path(folder), Path(zip_path)
    check(folder.is_dir(), f"Cannot zip {str(folder)!r}: it is not a folder.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())
    check(files, f"Cannot zip {str(folder)!r}: it has no files.")

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, arcname=path.name)

    atomic_file_write(zip_path, write)
    return zip_path
