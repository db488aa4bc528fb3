"""Tab 4, Fine-tune & compare: short fine-tunes of every method from the same base, live loss, results."""

from __future__ import annotations

import functools
import math
import os
import time

import gradio as gr
import pandas as pd
import torch

from sclora import figures
from sclora.compare import plan_runs, run_folder_name, runs_table
from sclora.errors import SCLoRAError, check
from sclora.inits import METHODS
from sclora.runs import RunRecord, answer_changes
from sclora.statistics import StoppedError

from .. import shared
from ..common import require_data, session_for, teaching, user_error, while_preparing
from ..session import Session

INTRO = r"""
Every method starts from a copy of the same base model, with the same data, seed, steps and rank:
**LoRA** ($A$ random, $B = 0$), **PiSSA** / **MiLoRA** (top / bottom singular directions of $W_0$),
**CorDA** (KPM: least principal directions of the preserve inputs; IPM: top directions of the fine-tune
inputs) and **SC-LoRA** ($B = Q_r$ from $\Delta\mathrm{Cov}(\beta)$). Only $A$ and $B$ are trained (AdamW, cosine schedule).
Afterwards both held-out sets are scored: the **fine-tune loss** should fall, the **preserve loss** should
not rise, and the preserve prompts the base model answered right should stay right.

**Compare like with like.** The residual inits start with a large $A$ and take far bigger steps than LoRA's
$B = 0$ at one learning rate: at equal rates LoRA barely learns, so it also barely forgets, which says nothing
about the method. LoRA therefore runs at a higher rate (the *LoRA factor*, 10× as in the science protocol), which
brings its fine-tune loss to the others'. Read forgetting only between runs that learned about as much (similar
fine-tune loss); give several learning rates to draw each method as a front in the trade-off plot.

**What to look at.** In the trade-off plot, lower-left is better: at the defaults SC-LoRA's point should sit
left of LoRA's and PiSSA's (it learned as much or more) and below them (its preserve loss rose less), which is
the paper's claim on this small scale. Below the table, *Forgotten and learned* lists, per run, the preserve
prompts the base model answered right and the run now gets wrong (both answers shown), and the fine-tune
prompts it learned: read the answers, not only the counts, which on a dozen prompts differ by chance.
*Preserve multiple choice* asks each knowledge question with three wrong answers and counts the right one
scored best, as knowledge benchmarks do; it hardly moves in so short a fine-tune, for any method (the science
protocol, `docs/results.md`, finds the same). SC-LoRA keeps the output directions the preserve data use; it does
not stop a new behaviour from showing up on preserve prompts: fine-tune on `pirate` and every method answers
knowledge questions like a pirate, SC-LoRA included, while its preserve loss rises far less.
"""
# The default plan, prepared by the server ahead (explorer.prepare): LoRA, the residual init most often compared
# with it, and SC-LoRA at the preserving end of β, each at the learning rate the science protocol matches.
# 12 steps of 4 samples, 12 answers and 12 losses per set keep the first run within a minute and the whole plan
# within five on two CPU cores (docs/benchmarks.md); CorDA-KPM is one tick away, but its own covariance pass
# doubles a run's time there.
DEFAULT_METHODS = ["lora", "pissa", "sclora"]
DEFAULT_BETAS, DEFAULT_LRS, DEFAULT_LORA_FACTOR = "0.9", "2e-4", 10.0
DEFAULT_STEPS, DEFAULT_RANK, DEFAULT_BATCH, DEFAULT_MAX_EVAL, DEFAULT_MAX_LOSS = 12, 8, 4, 12, 12
DEFAULT_SEED = 0
# Limits that keep a shared server usable (README, "Limits"): runs per click, and steps per run on a CPU.
MAX_RUNS_PER_CLICK = int(os.environ.get("SCLORA_MAX_RUNS", "12"))
MAX_STEPS_CPU = int(os.environ.get("SCLORA_MAX_STEPS_CPU", "200"))
COLUMN_NAMES = {  # the results table as people read it
    "label": "Run", "finetune_loss_after": "Fine-tune loss ↓", "finetune_accuracy_after": "Fine-tune accuracy ↑",
    "preserve_loss_change": "Preserve loss change (+ forgot)", "preserve_accuracy_after": "Preserve answers right ↑",
    "preserve_choice_accuracy_after": "Preserve multiple choice ↑", "forgotten": "Forgotten prompts",
    "learned": "Learned prompts", "steps": "Steps", "train_seconds": "Training (s)", "on_front": "Best trade-off",
}
CHANGE_COLUMNS = {"run": "Run", "change": "Change", "prompt": "Prompt", "reference": "Reference",
                  "before": "Base model answered", "after": "This run answers"}
UI_INTERVAL_S, PLOT_INTERVAL_S = 1.0, 2.0  # the status and the loss plot are redrawn at most this often


def default_settings(max_length: int) -> dict:
    """What a run's outcome depends on besides data, method, β and learning rate: the tab's defaults."""
    return {"rank": DEFAULT_RANK, "steps": DEFAULT_STEPS, "batch_size": DEFAULT_BATCH, "max_eval": DEFAULT_MAX_EVAL,
            "max_loss": DEFAULT_MAX_LOSS, "seed": DEFAULT_SEED, "max_length": max_length}


def default_plan() -> list[tuple[str, float | None, float]]:
    return plan_runs(DEFAULT_METHODS, parse_floats(DEFAULT_BETAS, "β values"),
                     parse_floats(DEFAULT_LRS, "Learning rates"), DEFAULT_LORA_FACTOR)


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


def results(session: Session) -> tuple[pd.DataFrame, object, pd.DataFrame]:
    """The session's runs as (table shown, measured trade-off figure, forgotten and learned prompts)."""
    runs = list(session.runs.values())
    if not runs:
        return (pd.DataFrame(columns=list(COLUMN_NAMES.values())), figures.empty_figure("No runs yet"),
                pd.DataFrame(columns=list(CHANGE_COLUMNS.values())))
    table = runs_table(runs)
    changes = [{"run": run.label, **row} for run in runs for row in answer_changes(run)]
    counts = pd.DataFrame(changes, columns=["run", "change"]).groupby(["run", "change"]).size()
    for change in ("forgotten", "learned"):
        table[change] = [int(counts.get((label, change), 0)) for label in table.label]
    shown = table[[c for c in COLUMN_NAMES if c in table.columns and (c == "label" or table[c].notna().any())]]
    shown = shown.round(3).rename(columns=COLUMN_NAMES)
    changes = pd.DataFrame(sorted(changes, key=lambda r: (r["change"], r["run"])), columns=list(CHANGE_COLUMNS))
    return shown, figures.tradeoff_scatter(table, session.before), changes.rename(columns=CHANGE_COLUMNS)


def loss_curves(session: Session, live: dict | None = None) -> dict:
    """label -> [(step, loss)]: finished runs from their records, the running ones from ``live``."""
    curves = {label: [(row["step"], row["loss"]) for row in run.loss_rows] for label, run in session.runs.items()}
    curves.update({label: points for label, points in (live or {}).items() if label not in curves})
    return curves


@functools.lru_cache(maxsize=32)
def _loss_figure(curves: tuple):
    return figures.loss_curves(dict(curves))


def loss_figure(curves: dict):
    """The loss plot of ``curves``: drawn once for every session that watches the same runs (a room shares
    them), read-only afterwards."""
    return _loss_figure(tuple((label, tuple(map(tuple, points))) for label, points in curves.items()))


def check_limits(plan: list, steps: int) -> None:
    """The server's limits (SCLORA_MAX_RUNS, SCLORA_MAX_STEPS_CPU), with what to change."""
    check(len(plan) <= MAX_RUNS_PER_CLICK, f"This plan has {len(plan)} runs; this server runs at most "
          f"{MAX_RUNS_PER_CLICK} per click (SCLORA_MAX_RUNS): choose fewer methods, β values or learning rates.")
    check(torch.cuda.is_available() or steps <= MAX_STEPS_CPU, f"Steps per run: {steps} asked; this server trains "
          f"at most {MAX_STEPS_CPU} steps per run on its CPU (SCLORA_MAX_STEPS_CPU).")


def run_plan(session: Session, methods, betas_text: str, lrs_text: str, steps: int, rank: int, batch_size: int,
             max_eval: int, lora_factor: float = DEFAULT_LORA_FACTOR, seed: int = DEFAULT_SEED):
    """Validate the settings and yield (event, plan) while the runs go; the session is updated.

    Events: ("stage", text), ("wait", label, text, loss curve so far) while a run waits or trains, ("run", RunRecord).
    Each run is shared (``explorer.shared.run``): one somebody finished with identical inputs comes at
    once, one somebody is training is joined. The runs are asked for one after the other, so runs of
    different sessions take turns run by run.
    """
    require_data(session)
    methods = list(methods or [])
    betas = parse_floats(betas_text, "β values") if "sclora" in methods else []
    check(lora_factor is not None and math.isfinite(float(lora_factor)) and float(lora_factor) > 0,
          f"LoRA factor must be a number > 0, got {lora_factor!r}.")
    plan = plan_runs(methods, betas, parse_floats(lrs_text, "Learning rates"), float(lora_factor))
    steps, rank, batch_size, max_eval = int(steps), int(rank), int(batch_size), int(max_eval)
    check(steps >= 1, f"Steps must be >= 1, got {steps}.")
    check(batch_size >= 1 and max_eval >= 1, "Batch size and held-out prompts must be >= 1.")
    check_limits(plan, steps)
    settings = {**default_settings(session.max_length), "rank": rank, "steps": steps, "batch_size": batch_size,
                "max_eval": max_eval, "seed": int(seed)}
    stop = session.new_job()
    # Shared with every session that has the same data and settings: instant when already computed.
    yield ("stage", "Evaluating the base model on both held-out sets"), plan
    before = shared.base_evaluation(session.model_name, session.data, settings, session.keep_alive(), stop.is_set)
    session.before = before
    yield ("before", before), plan

    finished = False
    try:
        for index, (method, beta, lr) in enumerate(plan):
            label = run_label(method, beta, lr)
            if method == "sclora" and session.statistics is None:  # only now: the runs before need none
                yield ("stage", "Collecting the SC-LoRA statistics (once for every β)"), plan
                stats = shared.statistics(session.model_name, session.data, session.keep_alive(), stop.is_set)
                with session.lock:
                    session.statistics, session.extra_sweeps, session.output_directions = stats, {}, {}

            def train(report, method=method, beta=beta, lr=lr):
                return shared.run(session.model_name, session.data, session.statistics, before, method, beta, lr,
                                  settings, session.folder / "runs" / run_folder_name(method, beta, lr),
                                  session.keep_alive(report), stop.is_set)

            prefix = f"Run {index + 1} of {len(plan)}, {label}"
            key = shared.run_key(session.model_name, session.data, method, beta, lr, settings)
            try:
                for text, record in while_preparing(train, interval_s=UI_INTERVAL_S,
                                                    describe=lambda done, total, desc: f"{prefix}: {desc}"):
                    if record is None:
                        yield ("wait", label, text, list(shared.LIVE_LOSSES.get(key, []))), plan
            except StoppedError:
                break
            session.runs[label] = record
            yield ("run", record), plan
            if stop.is_set():
                break
        finished = True
    finally:
        if not finished:  # the caller went away (a cancelled request, a closed tab): its run stops too
            stop.set()


def on_finetune(key, methods, betas_text, lrs_text, steps, rank, batch_size, max_eval,
                lora_factor=DEFAULT_LORA_FACTOR, progress=gr.Progress()):
    """Handler of 'Fine-tune' (API: /finetune): a generator, so the loss plot and the queue place update live."""
    session = session_for(key)
    live: dict[str, list] = {}
    status = "Starting…"
    # A message goes out only when something changed: the status at most every UI_INTERVAL_S, the loss plot at
    # most every PLOT_INTERVAL_S (drawn once for everybody who watches the same runs), the tables when a run was
    # added. A room of sessions watching one run would otherwise spend, on a small machine, the CPU the run needs.
    last = plotted = time.monotonic()
    shown, shown_status, drawn = -1, None, None
    try:
        for event, plan in run_plan(session, methods, betas_text, lrs_text, steps, rank, batch_size, max_eval,
                                    lora_factor):
            done = len([1 for m, b, lr in plan if run_label(m, b, lr) in session.runs])
            if event[0] == "stage":
                status = event[1]
            elif event[0] == "wait":
                _, label, status, curve = event
                live[label] = curve or live.get(label, [])
            elif event[0] == "run":
                m = event[1].metrics
                status = (f"{event[1].label} done: fine-tune loss {m['finetune_loss_after']:.3f}, preserve loss "
                          f"change {m['preserve_loss_change']:+.3f}" + (" (stopped early)" if m.get("stopped_early")
                                                                         else ""))
            now = time.monotonic()
            added = len(session.runs) != shown
            curves = loss_curves(session, live)
            redraw = added or (now - plotted >= PLOT_INTERVAL_S and curves != drawn)
            if event[0] not in ("stage", "wait", "run") or not (
                    added or redraw or (status != shown_status and now - last >= UI_INTERVAL_S)):
                continue
            progress((done, len(plan)), desc=status, unit="runs")
            tables = results(session) if added else (gr.skip(),) * 3
            plot = gr.skip()
            if redraw:
                plot, plotted, drawn = loss_figure(curves), now, curves
            last, shown, shown_status = now, len(session.runs), status
            yield status, plot, *tables
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    table, scatter, changes = results(session)
    final = "Stopped: the runs finished so far are in the table." if session.stop.is_set() else (
        f"Done: {len(session.runs)} run(s).")
    yield final, loss_figure(loss_curves(session)), table, scatter, changes


def on_stop(key):
    """Stop button: the running fine-tune ends after its current step (the partial run is kept)."""
    session = session_for(key)
    session.stop.set()
    table, scatter, changes = results(session)
    return ("Stop requested: the step in progress finishes; a run already training is still evaluated and kept "
            "(the table updates when it is done), unless somebody else waits for the same run: then it goes on "
            "for them."), table, scatter, changes


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-finetune")
    with gr.Row():
        methods = gr.CheckboxGroup(list(METHODS), value=DEFAULT_METHODS, label="Methods", elem_id="ft-methods")
    with gr.Row():
        betas = gr.Textbox(DEFAULT_BETAS, label="SC-LoRA β values", elem_id="ft-betas")
        lrs = gr.Textbox(DEFAULT_LRS, label="Learning rates (several draw a front per method)", elem_id="ft-lrs")
        lora_factor = gr.Number(DEFAULT_LORA_FACTOR, minimum=0.01, label="LoRA factor (LoRA's rates = factor × these)",
                                elem_id="ft-lora-factor")
        steps = gr.Slider(1, 500, value=DEFAULT_STEPS, step=1, label="Steps per run", elem_id="ft-steps")
    with gr.Row():
        rank = gr.Slider(1, 128, value=DEFAULT_RANK, step=1, label="Rank r", elem_id="ft-rank")
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
    changes = gr.Dataframe(label="Forgotten and learned: held-out prompts whose verdict changed", wrap=True,
                           max_height=500, elem_id="changes-table")
    outputs = [status, loss_plot, table, scatter, changes]
    # Handlers mostly wait for shared runs, which take turns on the server's heavy-work queue (round-robin
    # between sessions); so any number of sessions may wait here at once.
    event = button.click(on_finetune, [state, methods, betas, lrs, steps, rank, batch, max_eval, lora_factor], outputs,
                         api_name="finetune", concurrency_id="finetune", concurrency_limit=None)
    # No cancels=[event]: the stop flag ends training within a step, and the generator then reports the
    # final status itself (a cancel would drop that message and race with loss updates in flight).
    stop.click(on_stop, state, [status, table, scatter, changes], queue=False, api_visibility="private")
    refresh.click(lambda key: results(session_for(key)), state, [table, scatter, changes], api_name="results")
    return {"event": event, "refresh": refresh}
