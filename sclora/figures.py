"""Plotly figures from library objects (no Gradio): what the explorer and the docs show.

Every function takes plain library results (lists, tensors, pandas tables from ``sclora.subspace``
and ``sclora.compare``) and returns a ``plotly.graph_objects.Figure`` whose hover text shows the
values. Nothing here computes covariances or subspaces; the aggregations are the library's
(``tradeoff_totals``).

ΔCov(β) = (1−β)C+ − βC− has negative eigenvalues, which a log axis cannot show. The spectra plot
draws |λ| on a log axis and tells the sign by colour: one trace for λ > 0 and one for λ < 0, the
hover giving the signed value. Exact zeros are left out (they have no logarithm).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .errors import check
from .subspace import tradeoff_totals

# One colour per method, the same in every plot.
METHOD_COLORS = {
    "lora": "#636efa", "pissa": "#ef553b", "milora": "#ab63fa", "corda-kpm": "#ffa15a",
    "corda-ipm": "#19d3f3", "sclora": "#00cc96", "base": "#444444",
}
SIDE_COLORS = {"finetune": "#1f77b4", "preserve": "#d62728", "reward": "#2ca02c"}
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), hovermode="closest",
               legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))


def _values(x) -> list[float]:
    """A tensor, array or sequence as a list of Python floats."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    if hasattr(x, "tolist"):
        x = x.tolist()
    return [float(v) for v in x]


def empty_figure(message: str) -> go.Figure:
    """A blank figure with a note in the middle (before anything was computed)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#888"))
    fig.update_layout(**_LAYOUT, xaxis=dict(visible=False), yaxis=dict(visible=False), height=300)
    return fig


# --------------------------------------------------------------------------- data


def token_length_histogram(lengths: Mapping[str, Sequence[int]], max_length: int | None = None) -> go.Figure:
    """Overlaid histograms of token lengths per set, with the truncation limit as a dashed line."""
    check(len(lengths) > 0, "token_length_histogram needs at least one set of lengths.")
    fig = go.Figure()
    colors = list(SIDE_COLORS.values())
    for i, (name, values) in enumerate(lengths.items()):
        values = [int(v) for v in values]
        fig.add_trace(go.Histogram(x=values, name=f"{name} (n={len(values)})", opacity=0.6, nbinsx=40,
                                   marker_color=colors[i % len(colors)],
                                   hovertemplate="%{x} tokens: %{y} samples<extra>" + name + "</extra>"))
    if max_length is not None:
        fig.add_vline(x=max_length, line_dash="dash", line_color="#555",
                      annotation_text=f"max length {max_length}", annotation_position="top right")
    fig.update_layout(**_LAYOUT, barmode="overlay", title="Token length per sample (formatted, before truncation)",
                      xaxis_title="tokens", yaxis_title="samples", height=360)
    return fig


# --------------------------------------------------------------------------- covariances


def spectra_figure(eigenvalues: Mapping[str, Sequence[float]], module: str, beta: float,
                   top: int | None = None) -> go.Figure:
    """Eigenvalues of C+, C− and ΔCov(β) (descending), log y; ΔCov's sign shown by colour.

    ``eigenvalues`` is what ``sclora.subspace.spectra`` returns: keys finetune, preserve, delta.
    ``top`` keeps only the first ``top`` eigenvalues of each.
    """
    for key in ("finetune", "preserve", "delta"):
        check(key in eigenvalues, f"spectra_figure needs eigenvalues for {key!r}.")
    fig = go.Figure()
    names = {"finetune": "C+ (fine-tune)", "preserve": "C− (preserve)"}
    for key in ("finetune", "preserve"):
        vals = _values(eigenvalues[key])[:top]
        idx = [i + 1 for i, v in enumerate(vals) if v > 0]
        fig.add_trace(go.Scatter(x=idx, y=[vals[i - 1] for i in idx], mode="lines+markers", name=names[key],
                                 marker=dict(size=4, color=SIDE_COLORS[key]), line=dict(color=SIDE_COLORS[key]),
                                 hovertemplate="i=%{x}<br>λ=%{y:.4g}<extra>" + names[key] + "</extra>"))
    delta = _values(eigenvalues["delta"])[:top]
    for sign, color, label in ((1, "#2ca02c", "ΔCov(β), λ > 0"), (-1, "#ff7f0e", "ΔCov(β), |λ| of λ < 0")):
        idx = [i + 1 for i, v in enumerate(delta) if v * sign > 0]
        fig.add_trace(go.Scatter(
            x=idx, y=[abs(delta[i - 1]) for i in idx], mode="markers", name=label,
            marker=dict(size=6, color=color, symbol="circle" if sign > 0 else "x"),
            customdata=[delta[i - 1] for i in idx],
            hovertemplate="i=%{x}<br>λ=%{customdata:.4g}<extra>ΔCov(β)</extra>"))
    fig.update_layout(**_LAYOUT, title=f"Spectra of {module} (β = {beta:g}); |λ| on a log axis, sign by colour",
                      xaxis_title="eigenvalue index (descending; ΔCov by algebraic value)",
                      yaxis_title="eigenvalue", yaxis_type="log", height=420)
    return fig


def module_heatmap(table: pd.DataFrame, value: str, title: str, colorbar: str | None = None) -> go.Figure:
    """Layer × module-kind heatmap of ``table[value]`` (one row per module with ``layer`` and ``kind``)."""
    for col in ("layer", "kind", value):
        check(col in table.columns, f"module_heatmap: the table has no column {col!r}.")
    check(len(table) > 0, "module_heatmap: the table is empty.")
    grid = table.pivot_table(index="layer", columns="kind", values=value, aggfunc="mean", sort=False)
    grid = grid.sort_index()
    fig = go.Figure(go.Heatmap(
        z=grid.values.tolist(), x=[str(c) for c in grid.columns], y=[int(i) for i in grid.index],
        colorscale="Viridis", colorbar=dict(title=colorbar or value),
        hovertemplate="layer %{y}, %{x}<br>" + (colorbar or value) + " = %{z:.4f}<extra></extra>"))
    fig.update_layout(**_LAYOUT, title=title, xaxis_title="module", yaxis_title="layer", yaxis_dtick=1,
                      height=max(300, 24 * len(grid) + 160))
    return fig


# --------------------------------------------------------------------------- β trade-off


def energy_curves(table: pd.DataFrame, beta: float, title: str = "All adapted modules") -> go.Figure:
    """e+(β), e−(β) (left axis) and the reward (right axis) over β, with markers at the current β.

    ``table`` is a ``sclora.subspace.tradeoff`` table (per module and β); totals are the library's
    trace-weighted ``tradeoff_totals``. The current ``beta`` should be one of the table's β values.
    """
    check(len(table) > 0, "energy_curves: the trade-off table is empty.")
    totals = tradeoff_totals(table).sort_values("beta")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    series = (("finetune_energy", "e+(β): fine-tune energy captured", SIDE_COLORS["finetune"], False),
              ("preserve_energy", "e−(β): preserve energy touched", SIDE_COLORS["preserve"], False),
              ("reward", "reward Σ top-r eigenvalues of ΔCov(β)", SIDE_COLORS["reward"], True))
    current = totals[(totals.beta - beta).abs() < 1e-9]
    for col, name, color, secondary in series:
        fig.add_trace(go.Scatter(x=totals.beta.tolist(), y=totals[col].tolist(), mode="lines", name=name,
                                 line=dict(color=color, dash="dot" if secondary else "solid"),
                                 hovertemplate="β=%{x:.3g}<br>%{y:.4g}<extra>" + col + "</extra>"),
                      secondary_y=secondary)
        if len(current):
            fig.add_trace(go.Scatter(x=[beta], y=[float(current[col].iloc[0])], mode="markers", showlegend=False,
                                     marker=dict(size=12, color=color, line=dict(width=2, color="black")),
                                     hovertemplate="current β=%{x:.3g}<br>%{y:.4g}<extra>" + col + "</extra>"),
                          secondary_y=secondary)
    fig.add_vline(x=beta, line_dash="dash", line_color="#888")
    fig.update_layout(**_LAYOUT, title=f"{title}: energies and reward over β (current β = {beta:g})", height=420)
    fig.update_xaxes(title_text="β", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="share of energy", range=[0, 1.02], secondary_y=False)
    fig.update_yaxes(title_text="reward", secondary_y=True, showgrid=False)
    return fig


def per_layer_energy(table: pd.DataFrame, beta: float) -> go.Figure:
    """e+ and e− per layer at the current β (trace-weighted over the layer's modules)."""
    check(len(table) > 0, "per_layer_energy: the trade-off table is empty.")
    at = table[(table.beta - beta).abs() < 1e-9]
    check(len(at) > 0, f"per_layer_energy: the table has no rows at β = {beta:g}.")
    rows = []
    for layer, part in at.groupby("layer"):
        t = tradeoff_totals(part).iloc[0]
        rows.append((int(layer), float(t.finetune_energy), float(t.preserve_energy)))
    rows.sort()
    fig = go.Figure()
    for i, (col, name) in enumerate((("finetune", "e+ fine-tune"), ("preserve", "e− preserve"))):
        fig.add_trace(go.Scatter(x=[r[0] for r in rows], y=[r[1 + i] for r in rows], mode="lines+markers",
                                 name=name, line=dict(color=SIDE_COLORS[col]),
                                 hovertemplate="layer %{x}<br>%{y:.4f}<extra>" + name + "</extra>"))
    fig.update_layout(**_LAYOUT, title=f"Per layer at β = {beta:g}", xaxis_title="layer",
                      yaxis_title="share of energy", yaxis_range=[0, 1.02], height=360)
    return fig


def principal_angle_bars(angles: Mapping[str, Sequence[float]], module: str) -> go.Figure:
    """Grouped bars: principal angles (degrees) between SC-LoRA's subspace and each other method's."""
    check(len(angles) > 0, "principal_angle_bars needs at least one set of angles.")
    fig = go.Figure()
    for method, values in angles.items():
        vals = _values(values)
        fig.add_trace(go.Bar(x=list(range(1, len(vals) + 1)), y=vals, name=f"SC-LoRA vs {method}",
                             marker_color=METHOD_COLORS.get(method, None),
                             hovertemplate="angle %{x}: %{y:.2f}°<extra>" + method + "</extra>"))
    fig.update_layout(**_LAYOUT, barmode="group", title=f"Principal angles, {module} (0° shared, 90° orthogonal)",
                      xaxis_title="angle index (ascending)", yaxis_title="degrees", yaxis_range=[0, 90], height=360)
    return fig


# --------------------------------------------------------------------------- fine-tuning


def loss_curves(curves: Mapping[str, Sequence[tuple[int, float]]]) -> go.Figure:
    """Training loss per step, one line per run (label -> [(step, loss), ...])."""
    fig = go.Figure()
    for label, points in curves.items():
        method = label.split(" ")[0]
        fig.add_trace(go.Scatter(x=[int(p[0]) for p in points], y=[float(p[1]) for p in points],
                                 mode="lines+markers", name=label, marker=dict(size=4),
                                 line=dict(color=METHOD_COLORS.get(method)) if len(curves) <= len(METHOD_COLORS) else None,
                                 hovertemplate="step %{x}<br>loss %{y:.4f}<extra>" + label + "</extra>"))
    fig.update_layout(**_LAYOUT, title="Training loss (response tokens)", xaxis_title="step", yaxis_title="loss",
                      height=380)
    return fig


def tradeoff_scatter(table: pd.DataFrame, before: Mapping | None = None) -> go.Figure:
    """Measured trade-off: fine-tune loss vs preserve loss after training, one point per run.

    ``table`` is ``sclora.compare.runs_table``; runs of one method (its β values and learning rates)
    are joined by a line in fine-tune-loss order, and runs on the overall front get a black ring.
    ``before`` (the base model's evaluation) adds the starting point.
    """
    for col in ("label", "method", "finetune_loss_after", "preserve_loss_after"):
        check(col in table.columns, f"tradeoff_scatter: the table has no column {col!r}.")
    fig = go.Figure()
    for method, part in table.groupby("method", sort=False):
        part = part.sort_values("finetune_loss_after")
        front = part["on_front"].tolist() if "on_front" in part.columns else [False] * len(part)
        fig.add_trace(go.Scatter(
            x=part.finetune_loss_after.tolist(), y=part.preserve_loss_after.tolist(),
            mode="lines+markers", name=str(method), text=part.label.tolist(),
            line=dict(color=METHOD_COLORS.get(method), width=1.5),
            marker=dict(size=11, color=METHOD_COLORS.get(method),
                        line=dict(width=[2.5 if f else 0 for f in front], color="black")),
            hovertemplate="%{text}<br>fine-tune loss %{x:.4f}<br>preserve loss %{y:.4f}<extra></extra>"))
    if before:
        fig.add_trace(go.Scatter(x=[before["finetune_loss"]], y=[before["preserve_loss"]], mode="markers",
                                 name="base model", marker=dict(size=14, symbol="star", color=METHOD_COLORS["base"]),
                                 hovertemplate="base model<br>fine-tune loss %{x:.4f}<br>preserve loss %{y:.4f}"
                                               "<extra></extra>"))
    fig.update_layout(**_LAYOUT, title="Measured trade-off (lower-left is better; ringed = on the front)",
                      xaxis_title="fine-tune held-out loss after", yaxis_title="preserve held-out loss after",
                      height=440)
    return fig


# --------------------------------------------------------------------------- files


def write_figures(figs: Mapping[str, go.Figure], folder: str | Path, *, plotlyjs: str | bool = True,
                  png: bool = True) -> tuple[list[Path], str | None]:
    """``<name>.html`` for every figure and, when possible, ``<name>.png``; returns (paths, note).

    HTML always works (``plotlyjs=True`` inlines plotly.js so the file opens offline; "cdn" keeps it
    small). PNG needs the kaleido package and a Chrome or Chromium on the machine; without them the
    note says so and only HTML is written. Every file appears whole or not at all.
    """
    import os

    import plotly.io as pio

    from .files import atomic_file_write

    folder = Path(folder)
    paths = [atomic_file_write(folder / f"{name}.html",
                               lambda tmp, fig=fig, name=name: fig.write_html(tmp, include_plotlyjs=plotlyjs, full_html=True,
                                                                              div_id=name))
             for name, fig in figs.items()]
    if not png or not figs:
        return paths, None
    temps = [folder / f".{name}.png.tmp" for name in figs]
    try:
        pio.write_images(list(figs.values()), temps, format="png", scale=2)
        for tmp, name in zip(temps, figs):
            os.replace(tmp, folder / f"{name}.png")
            paths.append(folder / f"{name}.png")
        return paths, None
    except Exception as exc:  # noqa: BLE001 - any failure of the optional image export leaves the HTML
        return paths, (f"PNG not written ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                       "the HTML files are complete. PNG needs the kaleido package and Chrome or Chromium "
                       "(Debian: apt install chromium).")
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
