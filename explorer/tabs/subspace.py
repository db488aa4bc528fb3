"""Tab 3, Subspace & β trade-off: energies and reward over β, principal angles to other inits."""

from __future__ import annotations

import gradio as gr
from sclora import figures
from sclora.errors import SCLoRAError
from sclora.inits import method_output_basis
from sclora.subspace import principal_angles, sclora_subspace, subspace_warnings, tradeoff_totals

from .. import engine
from ..common import bullet_list, session_for, teaching, user_error
from ..session import Session
from .covariances import SWEEP_BETAS, layers_and_kinds, module_name, statistics_for, sweep

INTRO = r"""
**Theorem 1** of the paper: among $r$-dimensional output subspaces $S$, the reward
$$R(S) = (1-\beta)\,\mathbb{E}\|\Pi_S v^+\|^2 - \beta\,\mathbb{E}\|\Pi_S v^-\|^2$$
is maximised by the span $Q_r$ of the $r$ eigenvectors of $\Delta\mathrm{Cov}(\beta) = (1-\beta)C^+ - \beta C^-$ with the
largest eigenvalues; the reward is their sum. SC-LoRA starts the adapter there: $B = Q_r$, $A = Q_r^\top W_0$,
frozen residual $W_0 - BA$. The curves show the share of each dataset's energy that subspace captures,
$e^\pm(\beta) = \mathrm{tr}(Q_r^\top C^\pm Q_r)/\mathrm{tr}(C^\pm)$: β = 0 follows the fine-tune data, β → 1 avoids the
preserve data. Principal angles compare $Q_r$ with the output subspaces of PiSSA (top singular vectors
of $W_0$) and MiLoRA (bottom ones): 0° means shared directions, 90° orthogonal.
"""


def angles(session: Session, name: str, beta: float, rank: int) -> dict:
    """Principal angles (degrees) between SC-LoRA's Q_r and the PiSSA / MiLoRA output bases of one module."""
    stats = statistics_for(session)
    model, _ = engine.get_model(session.model_name)
    q = sclora_subspace(stats, name, beta, rank).basis
    limit = min(stats.module(name).d_in, stats.module(name).d_out)
    out = {}
    if rank <= limit:
        for method in ("pissa", "milora"):
            out[method] = principal_angles(q, method_output_basis(model, name, method, rank).double())
    return out


def update(session: Session, beta: float, rank: int, layer, kind) -> dict:
    """Everything the tab shows for (β, r); no forward pass."""
    beta, rank = float(beta), int(rank)
    stats = statistics_for(session)
    table = sweep(session, rank, SWEEP_BETAS + [beta])
    notes = subspace_warnings(stats, beta, rank)
    layers, kinds = layers_and_kinds(session)
    layer = int(layer) if layer not in (None, "") and int(layer) in layers else layers[len(layers) // 2]
    kind = kind if kind in kinds else kinds[0]
    name = module_name(session, layer, kind)
    ang = angles(session, name, beta, rank)
    at = table[(table.beta - beta).abs() < 1e-9]
    totals = tradeoff_totals(at).iloc[0]
    summary = (f"At β = {beta:g}, rank {rank}: the SC-LoRA subspaces capture **{totals.finetune_energy:.1%}** of the "
               f"fine-tune energy and touch **{totals.preserve_energy:.1%}** of the preserve energy "
               f"(all {at.module.nunique()} modules, trace-weighted). CorDA's subspaces depend on a separate "
               "forward pass and are not compared here.")
    return {
        "summary": summary + ("\n\n**Warnings**\n\n" + bullet_list(notes) if notes else ""),
        "warnings": notes,
        "totals": figures.energy_curves(table, beta),
        "per_layer": figures.per_layer_energy(table, beta),
        "angles": figures.principal_angle_bars(ang, name) if ang else figures.empty_figure(
            f"rank {rank} exceeds min(d_in, d_out) of {name}"),
        "table": table,
    }


def on_update(key, beta, rank, layer, kind):
    """Handler of the β slider, the rank and 'Update' (API: /tradeoff)."""
    session = session_for(key)
    try:
        out = update(session, beta, rank, layer, kind)
    except SCLoRAError as exc:
        raise user_error(exc) from exc
    for note in out["warnings"]:
        gr.Warning(note)
    return out["summary"], out["totals"], out["per_layer"], out["angles"]


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-subspace")
    with gr.Row():
        beta = gr.Slider(0, 1, value=0.9, step=0.1, label="β (0: learn, 1: preserve)", elem_id="tradeoff-beta")
        rank = gr.Slider(1, 128, value=8, step=1, label="Rank r", elem_id="tradeoff-rank")
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
    event = button.click(on_update, inputs, outputs, api_name="tradeoff")
    for trigger in (beta.release, rank.release):
        trigger(on_update, inputs, outputs, api_visibility="private")
    for trigger in (layer.input, kind.input):
        trigger(on_update, inputs, outputs, api_visibility="private")
    return {"event": event, "layer": layer, "kind": kind}
