"""sclora.figures: every builder returns a Plotly figure with the data, hover values and markers it promises."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from sclora import figures
from sclora.errors import SCLoRAError


def _sweep(betas=(0.0, 0.5, 1.0)) -> pd.DataFrame:
    """A tradeoff()-shaped table: 2 layers x 2 kinds, energies falling with β."""
    rows = []
    for layer in (0, 1):
        for kind in ("q_proj", "down_proj"):
            for b in betas:
                rows.append(dict(module=f"model.layers.{layer}.{kind}", layer=layer, kind=kind, beta=b,
                                 finetune_energy=0.9 - 0.4 * b, preserve_energy=0.5 - 0.45 * b, reward=10 - 9 * b,
                                 finetune_trace=1.0 + layer, preserve_trace=2.0))
    return pd.DataFrame(rows)


def test_token_length_histogram_has_one_trace_per_set_and_the_limit():
    fig = figures.token_length_histogram({"fine-tune": [10, 20, 30], "preserve": [5, 6]}, max_length=25)
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["histogram", "histogram"]
    assert list(fig.data[0].x) == [10, 20, 30] and "n=3" in fig.data[0].name
    assert any(s.x0 == 25 for s in fig.layout.shapes)
    with pytest.raises(SCLoRAError):
        figures.token_length_histogram({})


def test_spectra_plots_abs_value_with_sign_by_colour_on_log_axis():
    eig = {"finetune": torch.tensor([4.0, 1.0, 0.0]), "preserve": torch.tensor([3.0, 2.0, 1e-3]),
           "delta": torch.tensor([2.0, 0.5, 0.0, -0.25, -3.0])}
    fig = figures.spectra_figure(eig, "m", 0.5)
    assert fig.layout.yaxis.type == "log"
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["C+ (fine-tune)"].y) == [4.0, 1.0]  # the zero is dropped (no log)
    pos, neg = by_name["ΔCov(β), λ > 0"], by_name["ΔCov(β), |λ| of λ < 0"]
    assert list(pos.y) == [2.0, 0.5] and list(pos.x) == [1, 2]
    assert list(neg.y) == [0.25, 3.0] and list(neg.x) == [4, 5]
    assert list(neg.customdata) == [-0.25, -3.0]  # hover shows the signed value
    assert "customdata" in neg.hovertemplate


def test_module_heatmap_pivots_layers_by_kind():
    table = _sweep((0.5,))
    fig = figures.module_heatmap(table, "preserve_energy", "t")
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.y) == [0, 1]
    assert set(heat.x) == {"q_proj", "down_proj"}
    assert heat.z[0][0] == pytest.approx(0.5 - 0.45 * 0.5)
    with pytest.raises(SCLoRAError, match="no column"):
        figures.module_heatmap(table.drop(columns="kind"), "preserve_energy", "t")


def test_energy_curves_mark_the_current_beta_with_library_totals():
    table = _sweep()
    fig = figures.energy_curves(table, 0.5)
    lines = [t for t in fig.data if t.mode == "lines"]
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(lines) == 3 and len(markers) == 3
    assert all(list(m.x) == [0.5] for m in markers)
    # trace-weighted fine-tune energy at β=0.5 is 0.7 for every module, so the total is 0.7
    assert markers[0].y[0] == pytest.approx(0.7)
    assert markers[2].y[0] == pytest.approx(4 * (10 - 4.5))  # reward summed over 4 modules
    assert any(s.x0 == 0.5 for s in fig.layout.shapes)


def test_per_layer_energy_one_point_per_layer():
    fig = figures.per_layer_energy(_sweep(), 1.0)
    assert list(fig.data[0].x) == [0, 1]
    assert fig.data[1].y[0] == pytest.approx(0.05)
    with pytest.raises(SCLoRAError, match="no rows"):
        figures.per_layer_energy(_sweep(), 0.3)


def test_principal_angle_bars_group_by_method():
    fig = figures.principal_angle_bars({"pissa": torch.tensor([1.0, 80.0]), "milora": [10.0, 89.0]}, "m")
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert list(fig.data[0].y) == [1.0, 80.0] and fig.layout.barmode == "group"


def test_loss_curves_one_line_per_run():
    fig = figures.loss_curves({"lora lr=2e-04": [(1, 3.0), (2, 2.5)], "sclora β=0.9 lr=2e-04": [(1, 2.9)]})
    assert len(fig.data) == 2 and list(fig.data[0].y) == [3.0, 2.5]


def test_tradeoff_scatter_joins_each_method_in_loss_order_and_rings_the_front():
    table = pd.DataFrame({
        "label": ["a", "b", "c"], "method": ["lora", "lora", "sclora"],
        "finetune_loss_after": [2.0, 1.0, 1.5], "preserve_loss_after": [1.0, 3.0, 1.2],
        "on_front": [True, True, True],
    })
    fig = figures.tradeoff_scatter(table, {"finetune_loss": 3.0, "preserve_loss": 0.9})
    lora = next(t for t in fig.data if t.name == "lora")
    assert list(lora.x) == [1.0, 2.0] and lora.mode == "lines+markers"
    assert list(lora.text) == ["b", "a"]
    assert list(lora.marker.line.width) == [2.5, 2.5]
    base = next(t for t in fig.data if t.name == "base model")
    assert list(base.x) == [3.0]
    with pytest.raises(SCLoRAError):
        figures.tradeoff_scatter(table.drop(columns="method"))


def test_empty_figure_is_a_figure():
    assert isinstance(figures.empty_figure("nothing"), go.Figure)
