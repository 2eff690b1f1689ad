"""Plotly figures: one helper per kind of figure, used by every page that needs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

HEIGHT = 380
# Distinct, saturated colours for up to 20 categories (plotly's D3 then Dark24): pale pastels are hard
# to tell apart on a map of thousands of small points.
CATEGORY_COLOURS = px.colors.qualitative.D3 + px.colors.qualitative.Dark24


def _layout(figure: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                         legend=dict(orientation="h", y=-0.15))
    return figure


def loss_curves(history: dict) -> go.Figure:
    """Per-epoch loss and val_loss (mean binary cross-entropy per pixel)."""
    figure = go.Figure()
    for name in ("loss", "val_loss"):
        values = history.get(name) or []
        figure.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name))
    figure.update_xaxes(title="epoch", dtick=1 if len(history.get("loss") or []) <= 20 else None)
    figure.update_yaxes(title="loss per pixel")
    return _layout(figure, "Training loss")


def latent_map(table: pd.DataFrame, color: str, title: str, categorical: bool,
               fixed_colours: dict[str, str] | None = None) -> go.Figure:
    """The 2-D map as a WebGL scatter coloured by column ``color``; hover names index, cluster, score.
    ``fixed_colours`` pins the colours of some categories (e.g. grey for "no label")."""
    data = table.assign(**{color: table[color].astype(str)}) if categorical else table
    order = sorted(data[color].unique(), key=lambda v: (len(v), v)) if categorical else None
    figure = px.scatter(
        data, x="map_x", y="map_y", color=color, render_mode="webgl",
        category_orders={color: order} if categorical else None,
        color_continuous_scale="Viridis", custom_data=["index"], color_discrete_map=fixed_colours or {},
        color_discrete_sequence=CATEGORY_COLOURS,
        hover_data={"id": True, "index": True, "cluster": True, "anomaly_score": ":.3f", "map_x": False,
                    "map_y": False},
    )
    figure.update_traces(marker=dict(size=5, opacity=0.8))
    figure.update_layout(dragmode="lasso", xaxis=dict(showticklabels=False, title=""),
                         yaxis=dict(showticklabels=False, title=""))
    return _layout(figure, title, height=600)


def highlight(figure: go.Figure, indices) -> go.Figure:
    """Mark the points whose ``customdata[0]`` (image index) is in ``indices`` as selected, dimming
    the rest; no change when ``indices`` is empty."""
    chosen = np.asarray(sorted(indices), dtype=np.int64)
    if len(chosen):
        for trace in figure.data:
            points = np.asarray(trace.customdata)[:, 0].astype(np.int64)
            trace.selectedpoints = np.flatnonzero(np.isin(points, chosen)).tolist()
            trace.unselected = dict(marker=dict(opacity=0.15))
            trace.selected = dict(marker=dict(size=11, opacity=1.0))
    return figure


def with_marker(figure: go.Figure, x: float, y: float, name: str) -> go.Figure:
    """The figure with one large star at (x, y), named ``name`` beside it (an uploaded image on the map)."""
    figure.add_trace(go.Scatter(x=[x], y=[y], mode="markers+text", text=[name], textposition="top center", name=name,
                                marker=dict(symbol="star", size=20, color="#111111", line=dict(color="white", width=1.5)),
                                textfont=dict(size=14, color="#111111"), hoverinfo="name"))
    return figure


def histogram_with_threshold(values: np.ndarray, threshold: float, title: str, x_title: str) -> go.Figure:
    """A histogram of scores with a dashed vertical line at the flagging threshold."""
    figure = go.Figure(go.Histogram(x=values, nbinsx=60, marker_color="#4c78a8"))
    figure.add_vline(x=threshold, line_dash="dash", line_color="#e45756",
                     annotation_text="threshold", annotation_position="top right")
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title="images")
    return _layout(figure, title)


def score_scatter(x: np.ndarray, y: np.ndarray, flagged: np.ndarray, x_title: str, y_title: str,
                  title: str) -> go.Figure:
    """Two anomaly views against each other; flagged images in red."""
    frame = pd.DataFrame({x_title: x, y_title: y, "flag": np.where(flagged, "flagged", "normal"),
                          "index": np.arange(len(x))})
    figure = px.scatter(frame, x=x_title, y=y_title, color="flag", render_mode="webgl", hover_data=["index"],
                        color_discrete_map={"flagged": "#e45756", "normal": "#4c78a8"})
    figure.update_traces(marker=dict(size=4, opacity=0.7))
    return _layout(figure, title)


def bar_counts(names: list[str], counts: list[int], title: str, x_title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=[str(n) for n in names], y=counts, marker_color="#4c78a8", text=counts))
    figure.update_xaxes(title=x_title, type="category")
    figure.update_yaxes(title="images")
    return _layout(figure, title)


def heatmap(matrix: pd.DataFrame, title: str, number_format: str | bool = True) -> go.Figure:
    """Counts (or, with ``number_format`` such as ".2f", other numbers) with rows and columns named
    by the frame's index and columns."""
    figure = px.imshow(matrix, text_auto=number_format, color_continuous_scale="Blues", aspect="auto")
    figure.update_xaxes(title=matrix.columns.name, type="category", tickangle=-30)
    figure.update_yaxes(title=matrix.index.name, type="category")
    figure.update_traces(textfont_size=13)
    return _layout(figure, title, height=max(HEIGHT, 34 * len(matrix) + 160))


def k_selection(scores: pd.DataFrame, chosen_k: int, criterion: str) -> go.Figure:
    """The clusterer's own criterion (lower is better) and the silhouette against k, chosen k marked."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Scatter(x=scores["k"], y=scores["criterion"], name=f"{criterion} (lower is better)",
                                mode="lines+markers"))
    figure.add_trace(go.Scatter(x=scores["k"], y=scores["silhouette"], name="silhouette (higher is better)",
                                mode="lines+markers"), secondary_y=True)
    figure.add_vline(x=chosen_k, line_dash="dot", line_color="gray", annotation_text=f"k = {chosen_k}")
    figure.update_xaxes(title="k", dtick=1)
    figure.update_yaxes(title=criterion, secondary_y=False, tickformat="~s")
    figure.update_yaxes(title="silhouette", secondary_y=True, tickformat=".2f")
    return _layout(figure, "Choosing k")


def method_bars(frame: pd.DataFrame, value: str, title: str, highlight: str | None = None) -> go.Figure:
    """One horizontal bar per method (``frame["method"]``) of column ``value`` (0 to 1), best at
    the top; the method ``highlight`` (the one in use) in a darker colour."""
    frame = frame.sort_values(value)
    colours = ["#1f4e79" if name == highlight else "#8fb3d9" for name in frame["method"]]
    figure = go.Figure(go.Bar(x=frame[value], y=frame["method"], orientation="h", marker_color=colours,
                              text=[f"{v:.3f}" for v in frame[value]], textposition="auto"))
    figure.update_xaxes(title=value, range=[0, 1.0], tickformat=".1f")
    return _layout(figure, title, height=max(220, 40 * len(frame) + 90))


def error_map(error: np.ndarray) -> go.Figure:
    """Per-pixel reconstruction error (H, W), 0 = drawn exactly, as a heat map with its scale."""
    figure = px.imshow(error, color_continuous_scale="Inferno", zmin=0, zmax=max(float(error.max()), 1e-6),
                       aspect="equal")
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    figure.update_layout(coloraxis_colorbar=dict(title="error", thickness=10))
    return _layout(figure, "Per-pixel error", height=240)
