"""Run records: everything one fine-tune produced, written as a folder a person can read.

```
RUN_DIR/
  config.json        all settings, library versions, seed, model, data fingerprints
  metrics.json       method, beta, rank, steps, lr, losses and accuracies before/after, train_seconds
  loss.csv           step,loss,lr
  generations.jsonl  one greedy answer per held-out prompt: set, prompt, reference, answer, correct
  adapter/           standard PEFT LoRA folder, loadable on the unmodified base model
```
The folder is written to a temporary sibling and renamed, so it is never seen half-written.
"""

from __future__ import annotations

import csv
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SCLoRAError, check
from .models import atomic_directory_write

RUN_FILES = ("config.json", "metrics.json", "loss.csv", "generations.jsonl")
# metrics.json always has these keys (accuracies are added where the set has an answer metric).
METRIC_KEYS = ("method", "beta", "rank", "steps", "lr", "seed", "finetune_loss_before", "finetune_loss_after",
               "preserve_loss_before", "preserve_loss_after", "train_seconds")


@dataclass
class RunRecord:
    """One fine-tune: its settings, measurements, loss curve, generations and (in memory) model."""

    config: dict
    metrics: dict
    loss_rows: list[dict] = field(default_factory=list)       # {"step", "loss", "lr"}
    generations: list[dict] = field(default_factory=list)     # {"set", "prompt", "reference", "answer", ...}
    model: Any = None          # the trained PeftModel; not serialised except as adapter/
    path: Path | None = None   # where write_run put it

    @property
    def label(self) -> str:
        """Short name for tables and plots: ``sclora β=0.9 lr=2e-04``."""
        m = self.metrics
        beta = f" β={m['beta']:g}" if m.get("beta") is not None else ""
        return f"{m['method']}{beta} lr={format_lr(m['lr'])}"


def format_lr(lr: float) -> str:
    """``2e-04``, ``1.5e-04``: short, and distinct for distinct learning rates."""
    import numpy as np

    return np.format_float_scientific(lr, trim="-", exp_digits=2)


def library_versions() -> dict:
    """Versions of the libraries that decide the numbers."""
    import peft
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__}


def run_metrics(*, method: str, beta: float | None, rank: int, steps: int, lr: float, seed: int,
                before: dict, after: dict, train_result, finetune_metric: str | None = None,
                preserve_metric: str | None = None) -> dict:
    """The metrics.json dict of one run from the evaluations before and after training."""
    m = {"method": method, "beta": beta, "rank": rank, "steps": train_result.steps_done, "steps_requested": steps,
         "lr": lr, "seed": seed, "stopped_early": train_result.stopped, "train_seconds": train_result.seconds,
         "trainable_params": train_result.trainable_params,
         "final_train_loss": train_result.losses[-1] if train_result.losses else None,
         "finetune_metric": finetune_metric, "preserve_metric": preserve_metric}
    for key in ("finetune_loss", "finetune_perplexity", "preserve_loss", "preserve_perplexity",
                "finetune_accuracy", "preserve_accuracy", "preserve_choice_accuracy"):
        if before.get(key) is None and after.get(key) is None:
            continue
        m[f"{key}_before"], m[f"{key}_after"] = before.get(key), after.get(key)
    m["preserve_loss_change"] = after["preserve_loss"] - before["preserve_loss"]
    if after.get("preserve_accuracy") is not None and before.get("preserve_accuracy") is not None:
        m["preserve_accuracy_change"] = after["preserve_accuracy"] - before["preserve_accuracy"]
    if after.get("preserve_choice_accuracy") is not None and before.get("preserve_choice_accuracy") is not None:
        m["preserve_choice_accuracy_change"] = after["preserve_choice_accuracy"] - before["preserve_choice_accuracy"]
    return m


def answer_changes(record: RunRecord) -> list[dict]:
    """The held-out prompts whose answer changed verdict in this run, base model against the run.

    One row per prompt: ``change`` is "forgotten" (a preserve prompt the base answered right and the run
    gets wrong) or "learned" (a fine-tune prompt the base got wrong and the run answers right), with
    set, prompt, reference, ``before`` (the base's answer) and ``after`` (the run's).
    """
    before = {(r["set"].removeprefix("before:"), r["prompt"]): r for r in record.generations
              if r["set"].startswith("before:")}
    rows = []
    for r in record.generations:
        base = before.get((r["set"], r["prompt"]))
        if base is None or r["set"].startswith("before:"):
            continue
        if r["set"] == "preserve" and base["correct"] and not r["correct"]:
            change = "forgotten"
        elif r["set"] == "finetune" and not base["correct"] and r["correct"]:
            change = "learned"
        else:
            continue
        rows.append({"change": change, "set": r["set"], "prompt": r["prompt"], "reference": r.get("reference"),
                     "before": base["answer"], "after": r["answer"]})
    return rows


def _json_default(obj):
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _clean(value):
    """JSON has no NaN/Inf: write them as null rather than produce an unreadable file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(_clean(obj), indent=2, default=_json_default, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def write_run(record: RunRecord, out_dir: str | Path, *, adapter: bool = True) -> Path:
    """Write ``record`` to ``out_dir`` atomically (replacing an older run there); returns the folder.

    ``adapter/`` is written when ``adapter`` is True and the record holds its model.
    """
    missing = [k for k in METRIC_KEYS if k not in record.metrics]
    check(not missing, f"Run metrics lack the keys {missing}: build them with run_metrics().")
    out = Path(out_dir)
    check(not out.is_file(), f"Run folder {str(out)!r} is an existing file: choose a folder path.")

    def write(tmp: Path) -> None:
        _dump(tmp / "config.json", {**record.config, "versions": record.config.get("versions") or library_versions()})
        _dump(tmp / "metrics.json", record.metrics)
        with open(tmp / "loss.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["step", "loss", "lr"])
            writer.writeheader()
            writer.writerows({k: row[k] for k in ("step", "loss", "lr")} for row in record.loss_rows)
        with open(tmp / "generations.jsonl", "w", encoding="utf-8") as f:
            for row in record.generations:
                f.write(json.dumps(_clean(row), default=_json_default, ensure_ascii=False) + "\n")
        if adapter and record.model is not None:
            from .export import export_adapter

            export_adapter(record.model, tmp / "adapter")

    atomic_directory_write(out, write)
    record.path = out
    return out


def read_run(folder: str | Path) -> RunRecord:
    """Load a run folder written by :func:`write_run` (without its model)."""
    folder = Path(folder)
    for name in ("config.json", "metrics.json"):
        check((folder / name).is_file(), f"{str(folder)!r} is not a run folder: it has no {name}.")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        rows = []
        if (folder / "loss.csv").is_file():
            with open(folder / "loss.csv", newline="", encoding="utf-8") as f:
                rows = [{"step": int(r["step"]), "loss": float(r["loss"]), "lr": float(r["lr"])}
                        for r in csv.DictReader(f)]
        gens = []
        if (folder / "generations.jsonl").is_file():
            gens = [json.loads(line) for line in (folder / "generations.jsonl").read_text(encoding="utf-8").splitlines()
                    if line.strip()]
    except (ValueError, KeyError) as exc:
        raise SCLoRAError(f"Run folder {str(folder)!r} is damaged: {exc}") from exc
    return RunRecord(config=config, metrics=metrics, loss_rows=rows, generations=gens, path=folder)
