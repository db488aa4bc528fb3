"""Tab 3, Subspace & β trade-off: energies and reward over β, principal angles to other inits."""

from __future__ import annotations

import gradio as gr
from sclora import figures
from sclora.errors import SCLoRAError
from sclora.subspace import principal_angles, sclora_subspace, subspace_warnings, tradeoff_totals

from .. import shared
from ..common import bullet_list, session_for, teaching, user_error, while_preparing
from ..session import Session
from . import covariances
from .covariances import DEFAULT_RANK, RANK_MAX, SWEEP_BETAS, layers_and_kinds, module_name, statistics_for, sweep

INTRO = r"""
**Theorem 1** of the paper: among $r$-dimensional output subspaces $S$, the reward
$$R(S) = (1-\beta)\,\mathbb{E}\|\Pi_S v^+\|^2 - \beta\,\mathbb{E}\|\Pi_S v^-\|^2$$
is maximised by the span $Q_r$ of the $r$ eigenvectors of $\Delta\mathrm{Cov}(\beta) = (1-\beta)C^+ - \beta C^-$ with the
largest eigenvalues; the reward is their sum. SC-LoRA starts the adapter there: $B = Q_r$, $A = Q_r^\top W_0$,
frozen residual $W_0 - BA$. The curves show the share of each dataset's energy that subspace captures,
$e^\pm(\beta) = \mathrm{tr}(Q_r^\top C^\pm Q_r)/\mathrm{tr}(C^\pm)$: β = 0 follows the fine-tune data, β → 1 avoids the
preserve data. Principal angles compare $Q_r$ with the output subspaces (the span of the initial $B$) of PiSSA (top left
singular vectors of $W_0$), MiLoRA (bottom ones) and CorDA (left singular vectors of $W_0 C_{in}$, with $C_{in}$ the
layer's input covariance: KPM keeps the smallest on the preserve data, IPM the largest on the fine-tune data;
here from the first 64 samples of each set, so that a new module takes seconds): 0° means shared directions,
90° orthogonal.
"""


ANGLE_METHODS = {"pissa": None, "milora": None, "corda-kpm": "preserve_ids", "corda-ipm": "finetune_ids"}
# CorDA's input covariance for the angles comes from the first samples of each set only: every
# new module costs partial forward passes, and 64 samples keep that to seconds on a CPU.
CORDA_ANGLE_SAMPLES = 64


def angles(session: Session, name: str, beta: float, rank: int, progress=None) -> dict:
    """Principal angles (degrees) between SC-LoRA's Q_r and the PiSSA, MiLoRA and CorDA output bases of one module.

    The other methods' directions do not depend on β or r: they are computed once per module and data
    for the whole server (CorDA's take partial forward passes over the first ``CORDA_ANGLE_SAMPLES`` of each set).
    """
    stats = statistics_for(session)
    q = sclora_subspace(stats, name, beta, rank).basis
    out = {}
    for i, (method, side) in enumerate(ANGLE_METHODS.items()):
        key = (name, method)
        if key not in session.output_directions:
            if progress is not None:
                progress(i, len(ANGLE_METHODS), f"{method} directions of {name}")
            session.output_directions[key] = shared.output_directions(session.model_name, session.data, name, method,
                                                                      side, CORDA_ANGLE_SAMPLES, session.keep_alive())
        directions = session.output_directions[key]
        if rank <= directions.shape[1]:
            out[method] = principal_angles(q, directions[:, :rank])
    return out


def update(session: Session, beta: float, rank: int, layer, kind, progress=None) -> dict:
    """Everything the tab shows for (β, r); no forward pass but CorDA's, the first time a module is shown."""
    beta, rank = float(beta), int(rank)
    stats = statistics_for(session)
    table = sweep(session, rank, SWEEP_BETAS + [beta], progress)
    notes = subspace_warnings(stats, beta, rank)
    layers, kinds = layers_and_kinds(session)
    layer = int(layer) if layer not in (None, "") and int(layer) in layers else layers[len(layers) // 2]
    kind = kind if kind in kinds else kinds[0]
    name = module_name(session, layer, kind)
    ang = angles(session, name, beta, rank, progress)
    session.shown_tradeoff = (table, beta)
    at = table[(table.beta - beta).abs() < 1e-9]
    totals = tradeoff_totals(at).iloc[0]
    summary = (f"At β = {beta:g}, rank {rank}: the SC-LoRA subspaces capture **{totals.finetune_energy:.1%}** of the "
               f"fine-tune energy and touch **{totals.preserve_energy:.1%}** of the preserve energy "
               f"(all {at.module.nunique()} modules, trace-weighted).")
    return {
        "summary": summary + ("\n\n**Warnings**\n\n" + bullet_list(notes) if notes else ""),
        "warnings": notes,
        "totals": figures.energy_curves(table, beta),
        "per_layer": figures.per_layer_energy(table, beta),
        "angles": figures.principal_angle_bars(ang, name) if ang else figures.empty_figure(
            f"rank {rank} exceeds min(d_in, d_out) of {name}"),
        "table": table,
    }


def on_update(key, beta, rank, layer, kind, progress=gr.Progress()):
    """Handler of the β slider, the rank and 'Update' (API: /tradeoff); says how far shared work is meanwhile."""
    session = session_for(key)

    def work(report):
        if session.statistics is None and session.data is not None:
            covariances.compute(session, report)  # shared: instant when anyone (or the server) computed them
        return update(session, beta, rank, layer, kind, report)

    try:
        for status, out in while_preparing(work, progress):
            if out is None:
                yield status, gr.skip(), gr.skip(), gr.skip()
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    for note in out["warnings"]:
        if note not in session.shown_warnings:  # a toast once per session; the summary always lists it
            session.shown_warnings.add(note)
            gr.Warning(note)
    yield out["summary"], out["totals"], out["per_layer"], out["angles"]


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-subspace")
    with gr.Row():
        beta = gr.Slider(0, 1, value=0.9, step=0.1, label="β (0: learn, 1: preserve)", elem_id="tradeoff-beta")
        rank = gr.Slider(1, RANK_MAX, value=DEFAULT_RANK, step=1, label="Rank r", elem_id="tradeoff-rank")
    with gr.Row():
        layer = gr.Dropdown([], label="Layer for the principal angles", allow_custom_value=True,
                            elem_id="angles-layer")
        kind = gr.Dropdown([], label="Module for the principal angles", allow_custom_value=True,
                           elem_id="angles-kind")
        button = gr.Button("Update", variant="primary", elem_id="tradeoff-button")
    summary = gr.Markdown(elem_id="tradeoff-summary")
    totals = gr.Plot(label="Energies and reward over β", elem_id="tradeoff-plot")
    with gr.Row():
        per_layer = gr.Plot(label="Per layer", elem_id="tradeoff-layers-plot")
        angle_plot = gr.Plot(label="Principal angles", elem_id="angles-plot")
    inputs = [state, beta, rank, layer, kind]
    outputs = [summary, totals, per_layer, angle_plot]
    event = button.click(on_update, inputs, outputs, api_name="tradeoff", concurrency_id="tradeoff",
                         concurrency_limit=32)
    for trigger in (beta.release, rank.release, layer.input, kind.input):
        trigger(on_update, inputs, outputs, api_visibility="private", concurrency_id="tradeoff")
    return {"event": event, "layer": layer, "kind": kind}
