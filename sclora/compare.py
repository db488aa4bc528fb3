"""Many fine-tunes from one base model, measured the same way, and generations side by side.

``compare`` trains every (method, β, learning rate) with identical data, seed, steps and rank,
each from a fresh copy of the same base model (the base is checksummed and never altered), and
returns one pandas table plus each run's :class:`~sclora.runs.RunRecord`. Statistics for SC-LoRA
are collected once and reused for every β; the "before" metrics are measured once on the base.

Residual inits (PiSSA, MiLoRA, CorDA, SC-LoRA) start with a large A and take much bigger effective
steps than LoRA at the same learning rate, so compare over several learning rates and read each
method as a front (fine-tune loss vs preserve loss), not as one point.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from .errors import SCLoRAError, check
from .evaluate import DEFAULT_MAX_EVAL, METRIC_RULES, evaluate
from .models import model_checksum
from .runs import RunRecord, library_versions, run_metrics, write_run
from .train import build_adapter, exact_patterns, finetune, target_names, validate_beta, validate_lr, validate_rank

Event = Callable[[str, dict], None]


# --------------------------------------------------------------------------- data


@dataclass
class PreparedData:
    """The splits and token ids every run of a comparison shares."""

    finetune_train: object      # Examples
    finetune_heldout: object
    preserve_train: object
    preserve_heldout: object
    train: object               # TokenizedExamples of finetune_train (loss on responses)
    finetune_ids: list[list[int]]   # all tokens of each fine-tune sample (statistics, CorDA-IPM)
    preserve_ids: list[list[int]]   # all tokens of each preserve sample (statistics, CorDA-KPM)
    finetune_metric: str | None
    preserve_metric: str | None
    fingerprints: dict = field(default_factory=dict)
    split_seed: int = 0
    # Per held-out preserve prompt: [right answer, *wrong answers] (multiple-choice scoring), where known.
    preserve_choices: list[list[str]] | None = None


def bundled_name(examples) -> str | None:
    """The name of the bundled dataset ``examples`` were read from (matched by name or path), else None."""
    from .data import BUNDLED_DATASETS

    source = str(getattr(examples, "source", "") or "")
    for name, ds in BUNDLED_DATASETS.items():
        if source == name or source == str(ds.path) or Path(source).name == Path(str(ds.path)).name:
            return name
    return None


def default_metric(examples) -> str | None:
    """The answer metric of a bundled dataset, else None."""
    from .data import BUNDLED_DATASETS

    name = bundled_name(examples)
    metric = BUNDLED_DATASETS[name].metric if name else None
    return metric if metric in METRIC_RULES else None


def heldout_choices(examples, heldout) -> list[list[str]] | None:
    """Multiple choices for every held-out prompt when ``examples`` are a bundled set that has them, else None."""
    from .data import bundled_choices
    from .tokens import qa_pairs

    name = bundled_name(examples)
    table = bundled_choices(name) if name else {}
    prompts = [p for p, _ in qa_pairs(heldout)] if table else []
    return [table[p] for p in prompts] if prompts and all(p in table for p in prompts) else None


def prepare_data(finetune_examples, preserve_examples, tokenizer, *, heldout: float = 0.2, split_seed: int = 0,
                 max_samples: int = 256, max_length: int = 256, finetune_metric: str | None = None,
                 preserve_metric: str | None = None) -> PreparedData:
    """Split both sets (seeded), tokenize the fine-tune train part, and cap samples for statistics.

    ``max_samples`` caps the samples used for statistics and CorDA (the paper uses 256 of each);
    training uses the whole train part.
    """
    from .data import split_examples
    from .tokens import tokenize_examples

    check(isinstance(max_samples, int) and max_samples >= 1, f"Parameter 'max_samples' must be >= 1, got {max_samples!r}.")
    check(isinstance(max_length, int) and max_length >= 8, f"Parameter 'max_length' must be >= 8, got {max_length!r}.")
    ft_train, ft_held = split_examples(finetune_examples, heldout=heldout, seed=split_seed)
    pr_train, pr_held = split_examples(preserve_examples, heldout=heldout, seed=split_seed)
    train = tokenize_examples(ft_train, tokenizer, max_length=max_length, loss_on="response")
    ft_all = tokenize_examples(ft_train, tokenizer, max_length=max_length, loss_on="all")
    pr_all = tokenize_examples(pr_train, tokenizer, max_length=max_length, loss_on="all")
    for name, metric in (("finetune_metric", finetune_metric), ("preserve_metric", preserve_metric)):
        check(metric is None or metric in METRIC_RULES,
              f"Parameter '{name}' must be one of {', '.join(METRIC_RULES)} or None, got {metric!r}.")
    return PreparedData(
        finetune_train=ft_train, finetune_heldout=ft_held, preserve_train=pr_train, preserve_heldout=pr_held,
        train=train, finetune_ids=ft_all.input_ids[:max_samples], preserve_ids=pr_all.input_ids[:max_samples],
        finetune_metric=finetune_metric if finetune_metric is not None else default_metric(finetune_examples),
        preserve_metric=preserve_metric if preserve_metric is not None else default_metric(preserve_examples),
        fingerprints={"finetune": getattr(finetune_examples, "fingerprint", None),
                      "preserve": getattr(preserve_examples, "fingerprint", None)},
        split_seed=split_seed, preserve_choices=heldout_choices(preserve_examples, pr_held),
    )


def evaluate_data(model, tokenizer, data: PreparedData, *, max_length: int = 256, batch_size: int = 8,
                  max_eval: int = DEFAULT_MAX_EVAL, max_loss: int | None = None) -> dict:
    """:func:`sclora.evaluate.evaluate` on both held-out sets of ``data``, with its metrics and choices."""
    return evaluate(model, tokenizer, data.finetune_heldout, data.preserve_heldout,
                    finetune_metric=data.finetune_metric, preserve_metric=data.preserve_metric,
                    max_length=max_length, batch_size=batch_size, max_eval=max_eval, max_loss=max_loss,
                    preserve_choices=data.preserve_choices)


# --------------------------------------------------------------------------- one run


@contextmanager
def merged(peft_model):
    """The adapter added into its layers' weights while inside, taken out again after: plain linear layers
    evaluate about a fifth faster on a CPU than a base layer plus its A and B (the weights come back equal to
    float rounding, and the adapter's A and B, all that is exported, are untouched)."""
    peft_model.merge_adapter()
    try:
        yield peft_model
    finally:
        peft_model.unmerge_adapter()



def run_one(base_model, tokenizer, data: PreparedData, *, method: str, beta: float | None, rank: int, steps: int,
            lr: float, before: dict, alpha: float | None = None, target_modules=None, statistics=None,
            batch_size: int = 8, grad_accum: int = 1, seed: int = 0, max_length: int = 256,
            max_eval: int = DEFAULT_MAX_EVAL, max_loss: int | None = None, model_name: str = "", on_step=None,
            should_stop=None,
            progress=None) -> RunRecord:
    """Initialise ``method`` on a copy of the base, fine-tune, evaluate after, and return the record.

    ``before`` is the base model's evaluation (identical for every init: all start at the base).
    """
    started = time.perf_counter()
    peft_model = build_adapter(base_model, method, rank=rank, alpha=alpha, beta=beta if method == "sclora" else None,
                               target_modules=target_modules, finetune_ids=data.finetune_ids,
                               preserve_ids=data.preserve_ids, statistics=statistics, seed=seed,
                               pad_token_id=tokenizer.pad_token_id or 0, progress=progress, should_stop=should_stop)
    init_seconds = time.perf_counter() - started
    result = finetune(peft_model, data.train, steps=steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
                      seed=seed, pad_id=tokenizer.pad_token_id or 0, on_step=on_step, should_stop=should_stop)
    with merged(peft_model):
        after = evaluate_data(peft_model, tokenizer, data, max_length=max_length, batch_size=batch_size,
                              max_eval=max_eval, max_loss=max_loss)
    beta = beta if method == "sclora" else None
    metrics = run_metrics(method=method, beta=beta, rank=rank, steps=steps, lr=lr, seed=seed, before=before,
                          after=after, train_result=result, finetune_metric=data.finetune_metric,
                          preserve_metric=data.preserve_metric)
    metrics["init_seconds"] = init_seconds
    config = {
        "model": model_name or getattr(base_model, "name_or_path", ""),
        "method": method, "beta": beta, "rank": rank, "alpha": alpha if alpha is not None else rank,
        "target_modules": target_modules, "steps": steps, "lr": lr, "batch_size": batch_size,
        "grad_accum": grad_accum, "seed": seed, "max_length": max_length, "max_eval": max_eval,
        "max_loss": max_loss,
        "optimizer": "AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay=0)",
        "schedule": "cosine with linear warmup, warmup_ratio=0.03", "max_grad_norm": 1.0,
        "device": str(next(base_model.parameters()).device),
        "data": {"finetune": str(getattr(data.finetune_train, "source", "")),
                 "preserve": str(getattr(data.preserve_train, "source", "")),
                 "fingerprints": data.fingerprints, "split_seed": data.split_seed, "heldout_split": "seeded, "
                 "same for every run", "finetune_train": len(data.train.input_ids),
                 "finetune_heldout": len(data.finetune_heldout), "preserve_heldout": len(data.preserve_heldout),
                 "statistics_samples": [len(data.finetune_ids), len(data.preserve_ids)],
                 "truncated_train": data.train.n_truncated,
                 "finetune_metric": data.finetune_metric, "preserve_metric": data.preserve_metric},
        "versions": library_versions(),
    }
    gens = [{"set": "before:" + r["set"], **{k: v for k, v in r.items() if k != "set"}} for r in before.get("answers", [])]
    gens += after["answers"]
    return RunRecord(config=config, metrics=metrics, loss_rows=result.loss_rows(), generations=gens, model=peft_model)


# --------------------------------------------------------------------------- many runs


@dataclass
class CompareResult:
    table: object                   # pandas.DataFrame, one row per run
    runs: list[RunRecord]
    before: dict                    # the base model's evaluation
    stopped: bool = False


def plan_runs(methods, betas, lrs, lora_lr_factor: float = 1.0) -> list[tuple[str, float | None, float]]:
    """(method, β or None, lr) for every run: SC-LoRA once per β, the others once, each at every lr.

    LoRA runs at ``lora_lr_factor`` × each learning rate: the residual inits start with a large A and take
    far bigger effective steps than LoRA's B = 0 at one rate, so a fair comparison gives LoRA higher rates
    (the science protocol uses 10×, which matches their fine-tune losses on the bundled sets).
    """
    from .inits import METHODS

    check(len(methods) > 0, "Parameter 'methods' is empty: give at least one method.")
    for m in methods:
        check(m in METHODS, f"Unknown method {m!r} in 'methods': choose from {', '.join(METHODS)}.")
    check(len(set(methods)) == len(methods), "Parameter 'methods' lists a method twice.")
    check(len(lrs) > 0, "Give at least one learning rate.")
    check(len(set(lrs)) == len(lrs), f"The learning rates {list(lrs)} list a value twice.")
    check(len(set(betas)) == len(betas), f"The betas {list(betas)} list a value twice.")
    for lr in lrs:
        validate_lr(lr)
    check(isinstance(lora_lr_factor, (int, float)) and math.isfinite(lora_lr_factor) and lora_lr_factor > 0,
          f"The LoRA learning-rate factor must be a number > 0, got {lora_lr_factor!r}.")
    if "sclora" in methods:
        check(len(betas) > 0, "Method 'sclora' needs at least one beta.")
        for b in betas:
            validate_beta(b)
    return [(m, b, lr * lora_lr_factor if m == "lora" else lr)
            for m in methods for b in (betas if m == "sclora" else [None]) for lr in lrs]


TABLE_COLUMNS = ["label", "method", "beta", "lr", "rank", "steps", "seed", "finetune_loss_before", "finetune_loss_after",
                 "preserve_loss_before", "preserve_loss_after", "preserve_loss_change", "finetune_accuracy_before",
                 "finetune_accuracy_after", "preserve_accuracy_before", "preserve_accuracy_after",
                 "preserve_accuracy_change", "preserve_choice_accuracy_before", "preserve_choice_accuracy_after",
                 "preserve_choice_accuracy_change", "train_seconds", "on_front", "run_dir"]


def mark_front(table, x: str = "finetune_loss_after", y: str = "preserve_loss_after"):
    """Add ``on_front``: True for runs no other run beats on both ``x`` and ``y`` (lower is better)."""
    pts = list(zip(table[x], table[y]))
    table["on_front"] = [
        not any((a2 <= a and b2 <= b) and (a2 < a or b2 < b) for a2, b2 in pts) for a, b in pts
    ]
    return table


def runs_table(runs: list[RunRecord]):
    """One row per run with the columns of :data:`TABLE_COLUMNS` (missing accuracies are NaN)."""
    import pandas as pd

    rows = []
    for r in runs:
        row = {c: r.metrics.get(c) for c in TABLE_COLUMNS}
        row["label"], row["run_dir"] = r.label, str(r.path) if r.path else None
        rows.append(row)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if len(table):
        table = mark_front(table)
    return table


def run_folder_name(method: str, beta: float | None, lr: float) -> str:
    """``sclora-beta0.9-lr2e-04``: unique for distinct (method, β, lr)."""
    from .runs import format_lr

    beta_part = f"-beta{beta:g}" if beta is not None else ""
    return f"{method}{beta_part}-lr{format_lr(lr)}"


def compare(base_model, tokenizer, finetune, preserve, *, methods, betas=(0.5, 0.9), lrs=(2e-4,),
            lora_lr_factor: float = 1.0, rank: int = 8,
            steps: int = 50, batch_size: int = 8, seed: int = 0, alpha: float | None = None, target_modules=None,
            max_samples: int = 256, max_length: int = 256, heldout: float = 0.2, max_eval: int = DEFAULT_MAX_EVAL,
            max_loss: int | None = None,
            finetune_metric: str | None = None, preserve_metric: str | None = None, model_name: str = "",
            out_dir: str | Path | None = None, keep_models: bool = False, on_event: Event | None = None,
            should_stop=None) -> CompareResult:
    """Fine-tune every (method, β, lr) from the same base and data; one table plus the run records.

    ``finetune`` / ``preserve`` are ``Examples`` (split here, seeded, identically for every run); LoRA runs at
    ``lora_lr_factor`` × each learning rate (:func:`plan_runs`).
    With ``out_dir``, each run is written to ``out_dir/<method>[-beta<β>]-lr<lr>/`` and the table
    to ``out_dir/summary.csv``. Trained models are dropped after each run unless ``keep_models``.
    ``on_event(kind, info)`` reports "stage" (desc), "progress" (done, total, desc: statistics),
    "run_start" (index, total, name, method, beta, lr), "step" (name, info: StepInfo) and "run_done"
    (index, total, name, record);
    ``should_stop()`` ends the comparison cleanly (the runs finished so far are returned).
    Raises :class:`SCLoRAError` if the base model's weights change at any point.
    """
    validate_rank(rank)
    plan = plan_runs(list(methods), list(betas), list(lrs), lora_lr_factor)
    emit = on_event or (lambda kind, info: None)
    stop = should_stop or (lambda: False)
    checksum = model_checksum(base_model)

    emit("stage", {"desc": "Preparing data"})
    data = prepare_data(finetune, preserve, tokenizer, heldout=heldout, split_seed=0, max_samples=max_samples,
                        max_length=max_length, finetune_metric=finetune_metric, preserve_metric=preserve_metric)
    emit("stage", {"desc": "Evaluating the base model"})
    before = evaluate_data(base_model, tokenizer, data, max_length=max_length, batch_size=batch_size,
                           max_eval=max_eval, max_loss=max_loss)
    statistics = None
    if any(m == "sclora" for m, _, _ in plan):
        from .statistics import StoppedError, collect_statistics

        emit("stage", {"desc": "Collecting SC-LoRA statistics (once for every β)"})
        try:
            statistics = collect_statistics(
                base_model, data.finetune_ids, data.preserve_ids,
                target_modules=exact_patterns(target_names(base_model, target_modules)),
                pad_token_id=tokenizer.pad_token_id or 0, should_stop=stop, model_name=model_name,
                progress=lambda done, total, desc: emit("progress", {"done": done, "total": total, "desc": desc}))
        except StoppedError:
            return CompareResult(table=runs_table([]), runs=[], before=before, stopped=True)

    runs: list[RunRecord] = []
    stopped = False
    for index, (method, beta, lr) in enumerate(plan):
        if stop():
            stopped = True
            break
        name = run_folder_name(method, beta, lr)
        emit("run_start", {"index": index, "total": len(plan), "name": name, "method": method, "beta": beta, "lr": lr})
        record = run_one(base_model, tokenizer, data, method=method, beta=beta, rank=rank, steps=steps, lr=lr,
                         before=before, alpha=alpha, target_modules=target_modules, statistics=statistics,
                         batch_size=batch_size, seed=seed, max_length=max_length, max_eval=max_eval,
                         max_loss=max_loss, model_name=model_name, should_stop=stop,
                         on_step=lambda info, name=name: emit("step", {"name": name, "info": info}))
        _check_unchanged(base_model, checksum, f"after run {name}")
        if out_dir is not None:
            write_run(record, Path(out_dir) / name)
        if not keep_models:
            record.model = None  # each run holds a full model copy; free it
        runs.append(record)
        emit("run_done", {"index": index, "total": len(plan), "name": name, "record": record})
        stopped = stopped or record.metrics.get("stopped_early", False)

    table = runs_table(runs)
    if out_dir is not None:
        _write_summary(table, before, Path(out_dir))
    return CompareResult(table=table, runs=runs, before=before, stopped=stopped)


def _check_unchanged(model, checksum: str, when: str) -> None:
    if model_checksum(model) != checksum:
        raise SCLoRAError(f"The base model's weights changed {when}: this is a bug, please report it. "
                          "Reload the model before further runs.")


def _write_summary(table, before: dict, out_dir: Path) -> None:
    """summary.csv and before.json (base model metrics), each written atomically."""
    import json

    from .files import atomic_file_write

    atomic_file_write(out_dir / "summary.csv", lambda tmp: table.to_csv(tmp, index=False))
    summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in before.items() if k != "answers"}
    atomic_file_write(out_dir / "before.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2) + "\n"))


# --------------------------------------------------------------------------- side by side


def load_adapter(base_model, folder: str | Path):
    """A PEFT model: a copy of ``base_model`` with the adapter in ``folder`` (a run folder or adapter folder)."""
    from peft import PeftModel

    folder = Path(folder)
    if (folder / "adapter" / "adapter_config.json").is_file():
        folder = folder / "adapter"
    check((folder / "adapter_config.json").is_file(),
          f"{str(folder)!r} is not an adapter folder: it has no adapter_config.json.")
    check((folder / "adapter_model.safetensors").is_file(), f"{str(folder)!r} has no adapter_model.safetensors "
          "(pickled adapter_model.bin files are never loaded: they could run code).")
    try:
        return PeftModel.from_pretrained(copy.deepcopy(base_model), str(folder)).eval()
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        raise SCLoRAError(f"Could not load the adapter in {str(folder)!r} on this model: {exc}") from exc


def adapter_label(folder: str | Path) -> str:
    """A column name for an adapter folder: the run folder's name (not 'adapter')."""
    path = Path(folder).resolve()
    return path.parent.name if path.name == "adapter" else path.name


def side_by_side(base_model, tokenizer, adapters: dict, prompts: list[str], *, max_new_tokens: int = 64,
                 batch_size: int = 8):
    """Greedy answers to ``prompts``: one column for the base model, one per adapter.

    ``adapters`` maps a label to a ``PeftModel`` or to an adapter/run folder (loaded on a copy
    of ``base_model``, which is never changed).
    """
    import pandas as pd

    from .generation import generate

    check(isinstance(prompts, list) and len(prompts) > 0, "Give at least one prompt.")
    check("prompt" not in adapters and "base" not in adapters,
          "Adapter labels 'prompt' and 'base' are reserved: rename the adapter.")
    table = {"prompt": prompts, "base": generate(base_model, tokenizer, prompts, max_new_tokens, batch_size)}
    for label, adapter in adapters.items():
        model = load_adapter(base_model, adapter) if isinstance(adapter, (str, Path)) else adapter
        table[label] = generate(model, tokenizer, prompts, max_new_tokens, batch_size)
    return pd.DataFrame(table)


# --------------------------------------------------------------------------- inputs for the CLI and the app


def examples_from(spec: str, *, what: str = "data"):
    """``Examples`` from a file path or a bundled dataset name (``math``, ``knowledge``, ...)."""
    import os

    from .data import BUNDLED_DATASETS, bundled_dataset, load_examples

    check(isinstance(spec, str) and spec.strip(), f"Give the {what}: a file path or a bundled dataset name "
          f"({', '.join(BUNDLED_DATASETS)}).")
    if spec in BUNDLED_DATASETS and not os.path.exists(spec):
        return bundled_dataset(spec)
    check(os.path.isfile(spec), f"The {what} {spec!r} is neither a file nor a bundled dataset "
          f"({', '.join(BUNDLED_DATASETS)}).")
    return load_examples(spec)


def read_prompts(path: str | Path) -> list[str]:
    """Prompts from a file: a .txt file gives one prompt per non-empty line; other formats their prompts
    (prompt/response and chat records) or texts (text records), via ``data.load_examples``."""
    from .data import load_examples
    from .text import is_invisible, normalise_text
    from .tokens import qa_pairs

    path = Path(path)
    check(path.is_file(), f"Prompts file {str(path)!r} does not exist.")
    if path.suffix.lower() in (".txt", ".text"):
        try:
            lines = path.read_text(encoding="utf-8-sig").split("\n")
        except UnicodeDecodeError as exc:
            raise SCLoRAError(f"Prompts file {str(path)!r} is not UTF-8 text (byte {exc.start}).") from exc
        prompts, problems = [], []
        for number, line in enumerate(lines, start=1):
            if not is_invisible(line):  # the text normalisation of data files (NFC, no control characters)
                prompt = normalise_text(line.strip(), f"Prompts file {str(path)!r} line {number}", "prompt", problems)
                prompts.append(prompt)
        if problems:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise SCLoRAError(problems[0] + more)
    else:
        examples = load_examples(path)
        prompts = ([r["text"] for r in examples.records] if examples.shape == "text"
                   else [p for p, _ in qa_pairs(examples)])
    check(len(prompts) > 0, f"Prompts file {str(path)!r} has no prompts.")
    return prompts
