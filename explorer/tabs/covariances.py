"""Tab 2, Covariance spectra: collect C+ and C− once per session, then look at them per module."""

from __future__ import annotations

import time

import pandas as pd

import gradio as gr

from sclora import figures
from sclora.errors import SCLoRAError, check
from sclora.statistics import StoppedError
from sclora.subspace import DEFAULT_BETAS, spectra

from .. import shared
from ..common import require_data, session_for, teaching, user_error, while_preparing
from ..session import Session

INTRO = r"""
For every adapted linear layer $h = W_0 x$ the frozen model runs once over each dataset. Per sample $s$
the layer's outputs are summed over its tokens, $v_s = \sum_t h_t$, and the **uncentered** covariance is
$$C^{\pm} = \frac{1}{N}\sum_{s=1}^{N} v_s v_s^\top .$$
SC-LoRA ranks output directions by $\Delta\mathrm{Cov}(\beta) = (1-\beta)\,C^+ - \beta\,C^-$. The spectra show
how concentrated each dataset's energy is; $\Delta\mathrm{Cov}$ has negative eigenvalues, plotted as $|\lambda|$
in a second colour. The heatmap shows, per layer and module, the share of $C^-$ energy that the SC-LoRA
subspace of rank $r$ would touch, $e^-(\beta) = \mathrm{tr}(Q^\top C^- Q)/\mathrm{tr}(C^-)$ (lower is more preserving).
Statistics are computed once per session; moving β or r never runs the model again.
"""

SWEEP_BETAS = list(DEFAULT_BETAS)  # the β grid of the curves (the sliders step on it)
DEFAULT_RANK = 8
RANK_MAX = 128  # the rank sliders' maximum
HEATMAP_METRICS = {"e− (share of C− energy touched)": "preserve_energy",
                   "e+ (share of C+ energy captured)": "finetune_energy"}


def statistics_for(session: Session):
    """The session's statistics re-attached to the shared, read-only base model (a shallow copy)."""
    check(session.statistics is not None, "Compute the covariances first (tab 'Covariance spectra').")
    return shared.attached(session.statistics, session.model_name)


def compute(session: Session, progress=None) -> str:
    """The statistics for the session's data (shared by every session with the same data); a status line."""
    require_data(session)
    stop = session.new_job()
    started = time.perf_counter()
    stats = shared.statistics(session.model_name, session.data, session.keep_alive(progress), stop.is_set)
    with session.lock:
        session.statistics, session.extra_sweeps, session.output_directions = stats, {}, {}
    seconds = time.perf_counter() - started
    return (f"{len(stats.modules)} modules, {stats.counts['finetune']['samples']} + "
            f"{stats.counts['preserve']['samples']} samples ({stats.counts['finetune']['tokens']} + "
            f"{stats.counts['preserve']['tokens']} tokens), ready in {seconds:.1f} s; stored {stats.nbytes() / 2**20:.1f} "
            f"MiB (all output covariances would take {stats.output_nbytes() / 2**20:.1f} MiB).")


def sweep_ranks(stats) -> list[int]:
    """Every rank the sliders offer that every module can take: 1 .. min(RANK_MAX, smallest d_out)."""
    return list(range(1, min(RANK_MAX, min(m.d_out for m in stats.modules)) + 1))


def sweep(session: Session, rank: int, betas, progress=None) -> pd.DataFrame:
    """``tradeoff`` rows of every module at ``rank`` for ``betas``.

    The grid (``SWEEP_BETAS``) is one shared table, computed once per server for these statistics;
    a β off the grid is a small shared table of its own. One eigensolve per (module, β) gives every
    rank, so moving the rank slider never solves again, and the statistics are never recomputed.
    """
    rank = int(rank)
    stats = statistics_for(session)
    ranks = sweep_ranks(stats)
    check(rank in ranks, f"Rank {rank} is not available here: choose 1 to {ranks[-1]} (the smallest adapted "
          f"layer has {min(m.d_out for m in stats.modules)} outputs).")
    wanted = [float(b) for b in dict.fromkeys(betas)]
    tables = []
    if any(_on_grid(b) for b in wanted):
        tables.append(shared.sweep(session.model_name, session.data, session.statistics, SWEEP_BETAS, ranks,
                                   session.keep_alive(progress), session.stop.is_set))
    for beta in (b for b in wanted if not _on_grid(b)):
        with session.lock:
            table = session.extra_sweeps.get(round(beta, 9))
        if table is None:
            table = shared.sweep(session.model_name, session.data, session.statistics, [beta], ranks,
                                 session.keep_alive(progress), session.stop.is_set)
            with session.lock:
                session.extra_sweeps[round(beta, 9)] = table
        tables.append(table)
    rows = [t[(t["rank"] == rank) & t.beta.round(9).isin([round(b, 9) for b in wanted])] for t in tables]
    return pd.concat(rows, ignore_index=True)


def _on_grid(beta: float) -> bool:
    return any(abs(beta - b) < 1e-9 for b in SWEEP_BETAS)


def precompute_sweep(session: Session) -> None:
    """Start the shared β grid in the background (no wait), so the β tab answers at once."""
    shared.sweep(session.model_name, session.data, session.statistics, SWEEP_BETAS, sweep_ranks(session.statistics),
                 wait=False)


def layers_and_kinds(session: Session) -> tuple[list[int], list[str]]:
    mods = session.statistics.modules
    return sorted({m.layer for m in mods}), list(dict.fromkeys(m.kind for m in mods))


def module_name(session: Session, layer: int, kind: str) -> str:
    for m in session.statistics.modules:
        if m.layer == int(layer) and m.kind == kind:
            return m.name
    raise SCLoRAError(f"No adapted module {kind!r} in layer {layer}.")


def spectra_figure(session: Session, layer: int, kind: str, beta: float):
    stats = statistics_for(session)
    name = module_name(session, layer, kind)
    return figures.spectra_figure(spectra(stats, name, float(beta)), name, float(beta))


def heatmap_figure(session: Session, beta: float, rank: int, metric: str):
    check(metric in HEATMAP_METRICS, f"Unknown heatmap metric {metric!r}.")
    table = sweep(session, rank, [float(beta)])
    table = table[(table.beta - float(beta)).abs() < 1e-9]
    return figures.module_heatmap(table, HEATMAP_METRICS[metric],
                                  f"{metric}, rank {int(rank)}, β = {float(beta):g}", colorbar=metric.split(" ")[0])


def on_compute(key, layer, kind, beta, rank, metric, progress=gr.Progress()):
    """Handler of 'Compute covariances' (API: /covariances); says how far shared work is meanwhile."""
    session = session_for(key)
    try:
        for status, done in while_preparing(lambda report: compute(session, report), progress):
            if done is None:
                yield status, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        status = done
        layers, kinds = layers_and_kinds(session)
        layer = int(layer) if layer is not None and int(layer) in layers else layers[len(layers) // 2]
        kind = kind if kind in kinds else kinds[0]
        spectra_fig = spectra_figure(session, layer, kind, beta)
        # The heatmap needs the β table (an eigensolve per module and β), so it is drawn on request;
        # the shared β grid starts in the background meanwhile (instant when it is cached).
        heatmap = figures.empty_figure("Click 'Draw heatmap' (one eigensolve per module)")
        precompute_sweep(session)
        yield (status, gr.update(choices=layers, value=layer), gr.update(choices=kinds, value=kind),
               spectra_fig, heatmap)
    except StoppedError as exc:
        gr.Warning(str(exc))
        yield (str(exc), gr.skip(), gr.skip(), gr.skip(), gr.skip())
    except SCLoRAError as exc:
        raise user_error(exc) from exc


def on_spectra(key, layer, kind, beta):
    session = session_for(key)
    if session.statistics is None or layer is None or not kind:
        return gr.skip()
    try:
        return spectra_figure(session, layer, kind, beta)
    except SCLoRAError as exc:
        raise user_error(exc) from exc


def on_heatmap(key, beta, rank, metric):
    session = session_for(key)
    if session.statistics is None:
        return gr.skip()
    try:
        return heatmap_figure(session, beta, rank, metric)
    except SCLoRAError as exc:
        raise user_error(exc) from exc


def on_stop(key):
    session_for(key).stop.set()
    return "Stopping…"


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-covariances")
    with gr.Row():
        button = gr.Button("Compute covariances", variant="primary", elem_id="covariances-button")
        stop = gr.Button("Stop", variant="stop", elem_id="covariances-stop")
    status = gr.Markdown("Not computed yet.", elem_id="covariances-status")
    with gr.Row():
        layer = gr.Dropdown([], label="Layer", elem_id="spectra-layer", allow_custom_value=True)
        kind = gr.Dropdown([], label="Module", elem_id="spectra-kind", allow_custom_value=True)
        beta = gr.Slider(0, 1, value=0.9, step=0.1, label="β for ΔCov and the heatmap", elem_id="spectra-beta")
    spectra_plot = gr.Plot(label="Spectra", elem_id="spectra-plot")
    with gr.Row():
        rank = gr.Slider(1, RANK_MAX, value=DEFAULT_RANK, step=1, label="Rank r for the heatmap", elem_id="heatmap-rank")
        metric = gr.Dropdown(list(HEATMAP_METRICS), value=list(HEATMAP_METRICS)[0], label="Heatmap value",
                             elem_id="heatmap-metric")
        heatmap_button = gr.Button("Draw heatmap", elem_id="heatmap-button")
    heatmap = gr.Plot(label="Layer × module", elem_id="heatmap-plot")

    event = button.click(on_compute, [state, layer, kind, beta, rank, metric],
                         [status, layer, kind, spectra_plot, heatmap], api_name="covariances",
                         concurrency_id="covariances", concurrency_limit=32)
    stop.click(on_stop, state, status, cancels=[event], queue=False, api_visibility="private")
    for trigger in (layer.input, kind.input):
        trigger(on_spectra, [state, layer, kind, beta], spectra_plot, api_visibility="private")
    beta.release(on_spectra, [state, layer, kind, beta], spectra_plot, api_visibility="private")
    heatmap_button.click(on_heatmap, [state, beta, rank, metric], heatmap, api_name="heatmap")
    for trigger in (rank.release, metric.input):
        trigger(on_heatmap, [state, beta, rank, metric], heatmap, api_visibility="private")
    return {"event": event}
