"""Tab 6, Export: a trained adapter as a standard PEFT LoRA zip, its run record, the plots, a snippet."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from sclora import figures
from sclora.compare import runs_table
from sclora.errors import SCLoRAError, check
from sclora.export import read_export_metadata, zip_folder
from sclora.models import BUNDLED, BUNDLED_HUB_ID

from ..common import session_for, teaching, user_error
from ..session import Session

INTRO = r"""
Residual inits (PiSSA, MiLoRA, CorDA, SC-LoRA) train $A, B$ on a modified base $W_{res} = W_0 - sB_0A_0$, so the
adapter is converted for the **unmodified** base: $W_{res} + sBA = W_0 + s\,[B \mid B_0]\,[A ; -A_0]$, a standard LoRA
of rank $2r$ that `PeftModel.from_pretrained` loads on the original model. LoRA itself is saved as it is.
The run record holds the settings (`config.json`), measurements (`metrics.json`), the loss curve and the
held-out generations.
"""


def snippet(session: Session, label: str, info: dict) -> str:
    model = BUNDLED_HUB_ID if session.model_name in ("", BUNDLED) else session.model_name
    return (
        "from peft import PeftModel\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f"base = AutoModelForCausalLM.from_pretrained({model!r})\n"
        f"tokenizer = AutoTokenizer.from_pretrained({model!r})\n"
        f"# the unzipped adapter of {label} (method {info.get('sclora_method')}, LoRA rank {info.get('r')})\n"
        "model = PeftModel.from_pretrained(base, \"adapter\")\n"
        "messages = [{\"role\": \"user\", \"content\": \"What is 12 + 30?\"}]\n"
        "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\")\n"
        "print(tokenizer.decode(model.generate(ids, max_new_tokens=48)[0, ids.shape[1]:], "
        "skip_special_tokens=True))\n"
    )


def write_plots(session: Session, folder: Path) -> tuple[list[Path], str | None]:
    """The session's plots as standalone HTML (plotly.js inlined, so they open offline) and PNG
    where Chromium is available; returns the files and a note when PNG was skipped."""
    figs = {}
    if session.runs:
        figs["measured_tradeoff"] = figures.tradeoff_scatter(runs_table(list(session.runs.values())), session.before)
        figs["loss_curves"] = figures.loss_curves(
            {label: [(row["step"], row["loss"]) for row in run.loss_rows] for label, run in session.runs.items()})
    if session.shown_tradeoff is not None:
        table, beta = session.shown_tradeoff
        figs[f"energy_curves_rank{int(table['rank'].iloc[0])}"] = figures.energy_curves(table, beta)
    return figures.write_figures(figs, folder)


def export(session: Session, label: str) -> dict:
    """Zips of the adapter, the run record and the plots for run ``label``, plus a loading snippet."""
    check(bool(session.runs), "You have no trained runs yet: fine-tune first.")
    check(label in session.runs, f"You have no run named {label!r}; choose one of {', '.join(session.runs)}.")
    run = session.runs[label]
    check(run.path is not None and (run.path / "adapter").is_dir(), f"Run {label!r} has no saved adapter.")
    out = session.folder / "exports"
    name = run.path.name
    adapter_zip = zip_folder(run.path / "adapter", out / f"{name}-adapter.zip")
    record_zip = zip_folder(run.path, out / f"{name}-record.zip")
    plots_dir = out / "plots"
    shutil.rmtree(plots_dir, ignore_errors=True)
    _, note = write_plots(session, plots_dir)
    plots_zip = zip_folder(plots_dir, out / "plots.zip")
    info = read_export_metadata(run.path / "adapter")
    return {"adapter": str(adapter_zip), "record": str(record_zip), "plots": str(plots_zip),
            "snippet": snippet(session, label, info), "note": note}


def on_export(key, label):
    """Handler of 'Export' (API: /export)."""
    try:
        out = export(session_for(key), label)
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    if out["note"]:
        gr.Warning(out["note"])
    return out["adapter"], out["record"], out["plots"], out["snippet"]


def refresh_choices(key):
    labels = list(session_for(key).runs)
    return gr.update(choices=labels, value=labels[-1] if labels else None)


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-export")
    with gr.Row():
        run = gr.Dropdown([], label="Run", allow_custom_value=True, elem_id="export-run")
        button = gr.Button("Export", variant="primary", elem_id="export-button")
    with gr.Row():
        adapter = gr.File(label="Adapter (standard PEFT LoRA, zip)", elem_id="export-adapter")
        record = gr.File(label="Run record (zip)", elem_id="export-record")
        plots = gr.File(label="Plots (HTML and PNG, zip)", elem_id="export-plots")
    code = gr.Code(language="python", label="Load it with PEFT", elem_id="export-snippet")
    event = button.click(on_export, [state, run], [adapter, record, plots, code], api_name="export")
    return {"event": event, "run": run}
