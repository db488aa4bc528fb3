"""Tab 4, Fine-tune & compare: short fine-tunes of every method from the same base, live loss, results."""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time

import gradio as gr
import pandas as pd

from sclora import figures
from sclora.compare import model_checksum, plan_runs, run_folder_name, run_one, runs_table
from sclora.errors import SCLoRAError, check
from sclora.evaluate import evaluate
from sclora.inits import METHODS
from sclora.runs import RunRecord, write_run

from .. import engine, shared
from ..common import require_data, session_for, teaching, user_error
from ..session import Session

INTRO = r"""
Every method starts from a copy of the same base model, with the same data, seed, steps and rank:
**LoRA** ($A$ random, $B = 0$), **PiSSA** / **MiLoRA** (top / bottom singular directions of $W_0$),
**CorDA** (KPM: least principal directions of the preserve inputs; IPM: top directions of the fine-tune
inputs) and **SC-LoRA** ($B = Q_r$ from $\Delta\mathrm{Cov}(\beta)$). Only $A$ and $B$ are trained (AdamW, cosine schedule).
Afterwards both held-out sets are scored: the **fine-tune loss** should fall, the **preserve loss** should
not rise (forgetting $= L^-_{\text{after}} - L^-_{\text{before}}$). Residual inits take bigger effective steps than LoRA at
the same learning rate, so give several learning rates and compare the **fronts**, not single points.
"""
DEFAULT_METHODS = ["lora", "pissa", "milora", "corda-kpm", "sclora"]
DEFAULT_BATCH, DEFAULT_MAX_EVAL = 8, 16
SHOWN_COLUMNS = ["label", "finetune_loss_after", "preserve_loss_after", "preserve_loss_change",
                 "finetune_accuracy_after", "preserve_accuracy_after", "train_seconds", "steps", "on_front"]
UI_INTERVAL_S = 0.5  # the loss plot is redrawn at most this often


def parse_floats(text: str, what: str) -> list[float]:
    """'0.5, 0.9' -> [0.5, 0.9]; an error names the field."""
    values = []
    for part in (p.strip() for p in str(text or "").replace(";", ",").split(",")):
        if not part:
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise SCLoRAError(f"{what}: {part!r} is not a number (give comma-separated numbers, e.g. 0.5, 0.9).")
    check(values and all(math.isfinite(v) for v in values), f"{what}: give at least one finite number.")
    return values


def run_label(method: str, beta: float | None, lr: float) -> str:
    """The label the run's record will carry (sclora.runs.RunRecord.label)."""
    return RunRecord(config={}, metrics={"method": method, "beta": beta, "lr": lr}).label


def results(session: Session) -> tuple[pd.DataFrame, object]:
    """The session's runs as (table shown, measured trade-off figure)."""
    runs = list(session.runs.values())
    if not runs:
        return pd.DataFrame(columns=SHOWN_COLUMNS), figures.empty_figure("No runs yet")
    table = runs_table(runs)
    shown = table[SHOWN_COLUMNS].copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = shown[col].round(4)
    return shown, figures.tradeoff_scatter(table, session.before)


def loss_curves(session: Session, live: dict | None = None) -> dict:
    """label -> [(step, loss)]: finished runs from their records, the running ones from ``live``."""
    curves = {label: [(row["step"], row["loss"]) for row in run.loss_rows] for label, run in session.runs.items()}
    curves.update({label: points for label, points in (live or {}).items() if label not in curves})
    return curves


@engine.gpu(duration=120)
def evaluate_base(model_name: str, data, settings: dict) -> dict:
    """The base model on both held-out sets (GPU work on ZeroGPU)."""
    model, tokenizer = engine.get_model(model_name)
    return evaluate(model, tokenizer, data.finetune_heldout, data.preserve_heldout,
                    finetune_metric=data.finetune_metric, preserve_metric=data.preserve_metric,
                    max_length=settings["max_length"], batch_size=settings["batch_size"], max_eval=settings["max_eval"])


@engine.gpu(duration=600)
def train_stream(model_name: str, data, statistics, before, plan, settings: dict, out_root, should_stop,
                 on_record=None):
    """Run ``plan`` in a worker thread and yield its events: ("stage", text), ("step", label, StepInfo),
    ("run", RunRecord), ("error", exception).

    ``before`` is the base model's evaluation and ``statistics`` (needed for SC-LoRA) the shared ones.
    Everything yielded is CPU data (run records without their model; adapters are on disk in
    ``out_root``), so this can run inside ``spaces.GPU``. Closing the generator stops the worker
    after its current step. Each run takes a turn on the server's heavy-work queue.
    """
    events: queue.Queue = queue.Queue()
    closed = threading.Event()
    stop = lambda: closed.is_set() or should_stop()  # noqa: E731

    def work() -> None:
        try:
            model, tokenizer = engine.get_model(model_name)
            checksum = model_checksum(model)
            stats = None if statistics is None else dataclasses.replace(statistics, _model=model)
            for method, beta, lr in plan:
                if stop():
                    break
                label = run_label(method, beta, lr)
                waiting = lambda done, total, desc, label=label: events.put(("stage", f"{label}: {desc}"))  # noqa: E731
                with shared.RESULTS.work.turn(waiting, stop):
                    events.put(("stage", f"Training {label}"))
                    record = run_one(model, tokenizer, data, method=method, beta=beta, rank=settings["rank"],
                                     steps=settings["steps"], lr=lr, before=before, statistics=stats,
                                     batch_size=settings["batch_size"], seed=settings["seed"],
                                     max_length=settings["max_length"], max_eval=settings["max_eval"],
                                     model_name=model_name, should_stop=stop,
                                     on_step=lambda info, label=label: events.put(("step", label, info)))
                write_run(record, out_root / run_folder_name(method, beta, lr))
                record.model = None  # a full model copy per run would not fit many sessions
                if on_record is not None:
                    on_record(record)
                events.put(("run", record))
            check(model_checksum(model) == checksum, "The base model's weights changed during the runs: "
                  "this is a bug, please report it.")
        except BaseException as exc:  # handed to the caller, who shows it
            events.put(("error", exc))
        finally:
            events.put(("done",))

    worker = threading.Thread(target=work, name="sclora-finetune", daemon=True)
    worker.start()
    try:
        while True:
            event = events.get()
            if event[0] == "done":
                break
            yield event
    finally:
        closed.set()


def run_plan(session: Session, methods, betas_text: str, lrs_text: str, steps: int, rank: int, batch_size: int,
             max_eval: int, seed: int = 0):
    """Validate the settings and yield (event, ...) tuples while the runs go; the session is updated."""
    require_data(session)
    methods = list(methods or [])
    betas = parse_floats(betas_text, "β values") if "sclora" in methods else []
    lrs = parse_floats(lrs_text, "Learning rates")
    plan = plan_runs(methods, betas, lrs)
    steps, rank, batch_size, max_eval = int(steps), int(rank), int(batch_size), int(max_eval)
    check(steps >= 1, f"Steps must be >= 1, got {steps}.")
    check(batch_size >= 1 and max_eval >= 1, "Batch size and held-out prompts must be >= 1.")
    settings = {"rank": rank, "steps": steps, "batch_size": batch_size, "max_eval": max_eval, "seed": int(seed),
                "max_length": session.max_length}
    stop = session.new_job()
    out_root = session.folder / "runs"
    # Shared with every session that has the same data and settings: instant when already computed.
    yield ("stage", "Evaluating the base model on both held-out sets"), plan
    before = shared.base_evaluation(session.model_name, session.data, settings, session.keep_alive(), stop.is_set)
    session.before = {**before, "_settings": (max_eval, batch_size)}
    if session.statistics is None and any(m == "sclora" for m, _, _ in plan):
        yield ("stage", "Collecting the SC-LoRA statistics (once for every β)"), plan
        stats = shared.statistics(session.model_name, session.data, session.keep_alive(), stop.is_set)
        with session.lock:
            session.statistics, session.extra_sweeps, session.output_directions = stats, {}, {}
    yield ("before", before), plan

    def keep(record: RunRecord) -> None:
        session.runs[record.label] = record

    # Runs someone finished with identical data and settings are shared (copied into the asking session).
    to_train = []
    for method, beta, lr in plan:
        record = shared.cached_run(session.model_name, session.data, method, beta, lr, settings,
                                   out_root / run_folder_name(method, beta, lr))
        if record is None:
            to_train.append((method, beta, lr))
        else:
            keep(record)
            yield ("run", record), plan

    # In process, on_record keeps a run even when the caller stops reading (cancel); in a ZeroGPU worker
    # it could not reach the browser session's runs, so there the "run" events alone deliver the records.
    events = train_stream(session.model_name, session.data, session.statistics, before, to_train, settings, out_root,
                          stop.is_set, on_record=None if engine.gpu_out_of_process() else keep) if to_train else ()
    for event in events:
        session.touch()
        if event[0] == "run":
            keep(event[1])
            shared.keep_run(session.model_name, session.data, settings, event[1])
        elif event[0] == "error":
            raise event[1]
        yield event, plan


def on_finetune(key, methods, betas_text, lrs_text, steps, rank, batch_size, max_eval, progress=gr.Progress()):
    """Handler of 'Fine-tune' (API: /finetune): a generator, so the loss plot updates live."""
    session = session_for(key)
    curves: dict[str, list] = {}
    status, last = "Starting…", 0.0
    try:
        total_steps, done_steps = None, 0
        for event, plan in run_plan(session, methods, betas_text, lrs_text, steps, rank, batch_size, max_eval):
            total_steps = len(plan) * int(steps)
            if event[0] == "stage":
                status = event[1]
                progress((done_steps, total_steps), desc=status)
            elif event[0] == "step":
                _, label, info = event
                curves.setdefault(label, []).append((info.step, info.loss))
                done_steps += 1
                if time.monotonic() - last < UI_INTERVAL_S:
                    continue  # throttled: per-step updates would keep the page too busy to click Stop
                progress((done_steps, total_steps), desc=f"{label}: step {info.step}/{info.total_steps}")
                status = f"{label}: step {info.step}/{info.total_steps}, loss {info.loss:.4f}"
            elif event[0] == "run":
                m = event[1].metrics
                status = (f"{event[1].label} done: fine-tune loss {m['finetune_loss_after']:.4f}, preserve loss "
                          f"{m['preserve_loss_after']:.4f}" + (" (stopped early)" if m.get("stopped_early") else ""))
            else:
                continue
            last = time.monotonic()
            table, scatter = results(session)
            yield status, figures.loss_curves(loss_curves(session, curves)), table, scatter
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    table, scatter = results(session)
    final = "Stopped: the runs finished so far are in the table." if session.stop.is_set() else (
        f"Done: {len(session.runs)} run(s).")
    yield final, figures.loss_curves(loss_curves(session)), table, scatter


def on_stop(key):
    """Stop button: the running fine-tune ends after its current step (the partial run is kept)."""
    session = session_for(key)
    session.stop.set()
    table, scatter = results(session)
    return ("Stop requested: the step in progress finishes; a run already training is still evaluated and kept "
            "(the table updates when it is done). Statistics being collected are dropped."), table, scatter


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-finetune")
    with gr.Row():
        methods = gr.CheckboxGroup(list(METHODS), value=DEFAULT_METHODS, label="Methods", elem_id="ft-methods")
    with gr.Row():
        betas = gr.Textbox("0.5, 0.9", label="SC-LoRA β values", elem_id="ft-betas")
        lrs = gr.Textbox("2e-4", label="Learning rates (several draw a front per method)", elem_id="ft-lrs")
        steps = gr.Slider(1, 500, value=30, step=1, label="Steps per run", elem_id="ft-steps")
    with gr.Row():
        rank = gr.Slider(1, 128, value=8, step=1, label="Rank r", elem_id="ft-rank")
        batch = gr.Slider(1, 64, value=DEFAULT_BATCH, step=1, label="Batch size", elem_id="ft-batch")
        max_eval = gr.Slider(1, 128, value=DEFAULT_MAX_EVAL, step=1, label="Held-out prompts answered (accuracy)",
                             elem_id="ft-max-eval")
    with gr.Row():
        button = gr.Button("Fine-tune", variant="primary", elem_id="finetune-button")
        stop = gr.Button("Stop", variant="stop", elem_id="finetune-stop")
        refresh = gr.Button("Refresh results", elem_id="finetune-refresh")
    status = gr.Markdown(elem_id="finetune-status")
    loss_plot = gr.Plot(label="Training loss", elem_id="loss-plot")
    table = gr.Dataframe(label="Results (held-out, after training)", wrap=True, elem_id="results-table")
    scatter = gr.Plot(label="Measured trade-off", elem_id="tradeoff-scatter")
    event = button.click(on_finetune, [state, methods, betas, lrs, steps, rank, batch, max_eval],
                         [status, loss_plot, table, scatter], api_name="finetune", concurrency_id="heavy",
                         concurrency_limit=1)
    # No cancels=[event]: the stop flag ends training within a step, and the generator then reports the
    # final status itself (a cancel would drop that message and race with loss updates in flight).
    stop.click(on_stop, state, [status, table, scatter], queue=False, api_visibility="private")
    refresh.click(lambda key: results(session_for(key)), state, [table, scatter], api_visibility="private")
    return {"event": event, "refresh": refresh}
