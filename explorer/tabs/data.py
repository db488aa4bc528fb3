"""Tab 1, Model & data: pick the model and the fine-tune (D+) and preserve (D−) sets, validate, preview."""

from __future__ import annotations

import json
import os
import statistics as stats_lib
from dataclasses import replace

import gradio as gr
import pandas as pd

from sclora import figures
from sclora.compare import examples_from, prepare_data
from sclora.data import BUNDLED_DATASETS, DataValidationError, load_examples
from sclora.errors import SCLoRAError, check
from sclora.tokens import tokenize_example

from .. import engine, shared
from ..common import bullet_list, session_for, teaching, user_error
from ..session import Session

UPLOAD = "upload"
# The default walkthrough: what the tab starts with, and what the server prepares ahead (explorer.prepare).
DEFAULT_FINETUNE, DEFAULT_PRESERVE, DEFAULT_SAMPLES, DEFAULT_LENGTH = "math", "knowledge", 256, 256
FILE_TYPES = [".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt", ".parquet"]
PREVIEW_ROWS = 8

INTRO = r"""
SC-LoRA needs two datasets: $D^+$, the task to **learn** (fine-tune set), and $D^-$, the behaviour to
**keep** (preserve set). Each set is split (seeded) into a train part and a held-out part (20 %);
the first $N$ train samples of each set feed the covariance statistics (the paper uses $N = 256$),
the whole fine-tune train part feeds training, and the held-out parts measure learning and forgetting.

Files: JSONL, JSON, CSV, TSV, TXT or Parquet with `text`, `prompt`+`response` (or Alpaca/QA aliases)
or chat `messages`. An invalid file is rejected with every problem listed (file, line, field).
"""


def resolve_spec(choice: str, upload: str | None, role: str) -> str:
    """A bundled dataset name or the uploaded file's path."""
    if choice == UPLOAD:
        check(bool(upload), f"Choose a file to upload for the {role} set, or pick a bundled set.")
        return upload
    check(choice in BUNDLED_DATASETS, f"Unknown {role} dataset {choice!r}: pick one of "
          f"{', '.join(BUNDLED_DATASETS)} or '{UPLOAD}'.")
    return choice


def _examples(spec: str, role: str):
    if spec in BUNDLED_DATASETS and not os.path.exists(spec):
        return examples_from(spec, what=f"{role} data")
    return load_examples(spec, name=os.path.basename(spec))


def preview_table(examples, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first records as a table (chat messages as JSON text)."""
    out = [{k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in r.items()}
           for r in examples.records[:rows]]
    return pd.DataFrame(out)


def token_lengths(examples, tokenizer) -> list[int]:
    """Token length of every formatted sample before truncation (the library's tokenisation)."""
    return [len(tokenize_example(r, tokenizer)[0]) for r in examples.records]


def read_and_prepare(model_name: str, finetune_spec: str, preserve_spec: str, max_samples: int, max_length: int,
                     max_records: int = 0) -> tuple[dict, object]:
    """Both sets read and validated ({role: Examples}) and the PreparedData every later stage uses."""
    _, tokenizer = engine.get_model(model_name)
    sets = {}
    for role, spec in (("fine-tune", finetune_spec), ("preserve", preserve_spec)):
        ex = _examples(spec, role)
        if max_records > 0 and len(ex) > max_records:
            ex = replace(ex, records=ex.records[:max_records],
                         warnings=ex.warnings + [f"only the first {max_records} of {len(ex)} records are used"])
        sets[role] = ex
    data = prepare_data(sets["fine-tune"], sets["preserve"], tokenizer, max_samples=max_samples, max_length=max_length)
    return sets, data


def load(session: Session, model_choice: str, finetune_spec: str, preserve_spec: str, max_samples: int,
         max_length: int, max_records: int = 0) -> dict:
    """Load the model and both sets into ``session``; returns what the tab shows.

    ``max_records`` > 0 keeps only the first records of each set (quick tests and demos).
    Raises DataValidationError (with every problem) or SCLoRAError.
    """
    model_name = engine.check_model_name(model_choice)
    max_samples, max_length, max_records = int(max_samples), int(max_length), int(max_records or 0)
    _, tokenizer = engine.get_model(model_name)
    def read() -> tuple[dict, object, dict]:
        sets, data = read_and_prepare(model_name, finetune_spec, preserve_spec, max_samples, max_length, max_records)
        return sets, data, {role: token_lengths(ex, tokenizer) for role, ex in sets.items()}

    if all(spec in BUNDLED_DATASETS and not os.path.exists(spec) for spec in (finetune_spec, preserve_spec)):
        # The bundled sets never change: a room loading the defaults reads and tokenizes them once.
        fields = {"model": model_name, "sets": [finetune_spec, preserve_spec], "samples": max_samples,
                  "length": max_length, "records": max_records}
        sets, data, lengths = shared.memoized("bundled_data", fields, read)
    else:
        sets, data, lengths = read()
    changed = (session.model_name != model_name or session.data is None or session.max_length != max_length
               or session.data.finetune_ids != data.finetune_ids or session.data.preserve_ids != data.preserve_ids)
    if changed:
        session.reset_data()
    session.model_name, session.max_length = model_name, max_length
    session.finetune, session.preserve, session.data = sets["fine-tune"], sets["preserve"], data
    lines = [f"**Model:** {engine.model_label(model_name)}"
             + ("" if changed else " (data unchanged: statistics and runs kept)")]
    splits = {"fine-tune": (data.finetune_train, data.finetune_heldout, data.finetune_ids, data.finetune_metric),
              "preserve": (data.preserve_train, data.preserve_heldout, data.preserve_ids, data.preserve_metric)}
    for role, ex in sets.items():
        train, held, ids, metric = splits[role]
        ls = lengths[role]
        lines.append(
            f"**{role}:** `{os.path.basename(ex.source)}`: format **{ex.format}**, shape **{ex.shape}**, "
            f"{len(ex)} records → {len(train)} train / {len(held)} held-out; {len(ids)} samples for the statistics; "
            f"tokens min {min(ls)}, median {stats_lib.median(ls):g}, max {max(ls)}, "
            f"{sum(n > max_length for n in ls)} truncated to {max_length}; answer metric: {metric or 'none (loss only)'}")
    warnings = [f"{role}: {w}" for role, ex in sets.items() for w in ex.warnings]
    return {
        "summary": "\n\n".join(lines),
        "problems": ("**Warnings**\n\n" + bullet_list(warnings)) if warnings else "No problems found.",
        "previews": (preview_table(sets["fine-tune"]), preview_table(sets["preserve"])),
        "histogram": figures.token_length_histogram(lengths, max_length),
        "warnings": warnings,
    }


def on_load(key, model_choice, ft_choice, ft_file, pr_choice, pr_file, max_samples, max_length, max_records,
            progress=gr.Progress()):
    """Handler of 'Load model & data' (API: /load_data)."""
    session = session_for(key)
    try:
        progress(0.1, desc="Loading the model")
        specs = resolve_spec(ft_choice, ft_file, "fine-tune"), resolve_spec(pr_choice, pr_file, "preserve")
        progress(0.4, desc="Reading and validating the data")
        out = load(session, model_choice, specs[0], specs[1], max_samples, max_length, max_records)
    except DataValidationError as exc:
        gr.Warning(f"{exc.source}: {len(exc.problems)} problem(s); nothing was loaded.")
        problems = f"**{exc.source}: nothing was loaded.**\n\n" + bullet_list(exc.problems)
        return session.key, "Data not loaded.", problems, None, None, figures.empty_figure("No data loaded")
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    for w in out["warnings"][:3]:
        gr.Warning(w)
    return (session.key, out["summary"], out["problems"], out["previews"][0], out["previews"][1], out["histogram"])


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-data")
    bundled = list(BUNDLED_DATASETS)
    with gr.Row():
        model = gr.Dropdown(engine.model_choices(), value=engine.model_choices()[0] if engine.default_model_name()
                            in ("bundled",) else engine.default_model_name(), allow_custom_value=True,
                            label="Model", elem_id="model-picker",
                            info="The bundled model works offline; a hub id owner/name where the hub is reachable"
                                 + ("; or a local folder" if engine.local_models_allowed() else "") + ".")
    with gr.Row():
        with gr.Column():
            ft_choice = gr.Dropdown(bundled + [UPLOAD], value=DEFAULT_FINETUNE, label="Fine-tune set D+ (learn)",
                                    elem_id="finetune-choice")
            ft_file = gr.File(label="…or upload a fine-tune file", file_types=FILE_TYPES, type="filepath",
                              elem_id="finetune-file")
        with gr.Column():
            pr_choice = gr.Dropdown(bundled + [UPLOAD], value=DEFAULT_PRESERVE, label="Preserve set D− (keep)",
                                    elem_id="preserve-choice")
            pr_file = gr.File(label="…or upload a preserve file", file_types=FILE_TYPES, type="filepath",
                              elem_id="preserve-file")
    with gr.Row():
        max_samples = gr.Slider(8, 1024, value=DEFAULT_SAMPLES, step=8, label="Samples per set for the statistics (N)",
                                elem_id="max-samples")
        max_length = gr.Slider(32, 1024, value=DEFAULT_LENGTH, step=32, label="Max tokens per sample", elem_id="max-length")
        max_records = gr.Number(0, precision=0, minimum=0, label="Use only the first records of each file (0 = all)",
                                elem_id="max-records")
    button = gr.Button("Load model & data", variant="primary", elem_id="load-data-button")
    summary = gr.Markdown(elem_id="data-summary")
    problems = gr.Markdown(elem_id="data-problems")
    with gr.Row():
        ft_preview = gr.Dataframe(label="Fine-tune preview", wrap=True, max_height=300, elem_id="finetune-preview")
        pr_preview = gr.Dataframe(label="Preserve preview", wrap=True, max_height=300, elem_id="preserve-preview")
    histogram = gr.Plot(label="Token lengths", elem_id="length-histogram")

    ft_file.upload(lambda: UPLOAD, None, ft_choice, api_visibility="private", queue=False)
    pr_file.upload(lambda: UPLOAD, None, pr_choice, api_visibility="private", queue=False)
    event = button.click(on_load, [state, model, ft_choice, ft_file, pr_choice, pr_file, max_samples, max_length,
                                   max_records],
                         [state, summary, problems, ft_preview, pr_preview, histogram], api_name="load_data",
                         concurrency_id="load", concurrency_limit=4)
    return {"event": event, "model": model}
