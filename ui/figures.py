"""Plotly figures: one helper per kind of figure, used by every page that needs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

HEIGHT = 380
ANOMALY_RED = "#e45756"  # anomalies (flagged images, the label "anomaly"), and nothing else
NO_LABEL_GREY = "#c9c9c9"  # "no label", and the images a filter leaves out


def _not_red_or_grey(colour: str) -> bool:
    """False for reds (hue within 20 degrees of red, saturated) and greys: those mean anomaly and
    "no label"."""
    import colorsys

    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    hue, _, saturation = colorsys.rgb_to_hls(red, green, blue)
    return saturation > 0.2 and not (min(hue, 1 - hue) * 360 < 20 and saturation > 0.5)


# Distinct, saturated colours for categories (plotly's D3 then Dark24, without their reds and greys):
# pale pastels are hard to tell apart on a map of thousands of small points.
CATEGORY_COLOURS = [colour for colour in px.colors.qualitative.D3 + px.colors.qualitative.Dark24
                    if _not_red_or_grey(colour)]
# Zero error is white (nothing to see), larger errors darker.
ERROR_SCALE = [[0.0, "#ffffff"], [0.15, "#fff1c1"], [0.45, "#f9a03f"], [0.75, "#b45309"], [1.0, "#3b1d08"]]


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
               fixed_colours: dict[str, str] | None = None, left_out: pd.DataFrame | None = None) -> go.Figure:
    """The 2-D map as a WebGL scatter coloured by column ``color``; hover names index, cluster, score.
    ``fixed_colours`` pins the colours of some categories (e.g. grey for "no label"). ``left_out``:
    rows a filter leaves out, drawn small and grey underneath, without hover and never selected
    (they carry no ``customdata``). A click selects the point under the pointer, shift-click adds
    (plotly's click selection: the drag mode stays "zoom"; in box or lasso mode clicks do not select)."""
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
    if left_out is not None and len(left_out):
        figure.add_trace(go.Scattergl(x=left_out["map_x"], y=left_out["map_y"], mode="markers", hoverinfo="skip",
                                      name="filtered out", marker=dict(size=3, color=NO_LABEL_GREY, opacity=0.5)))
        figure.data = (figure.data[-1], *figure.data[:-1])  # underneath the others
    figure.update_layout(dragmode="zoom", xaxis=dict(showticklabels=False, title=""),
                         yaxis=dict(showticklabels=False, title=""))
    return _layout(figure, title, height=600)


def add_thumbnails(figure: go.Figure, x: np.ndarray, y: np.ndarray, sources: list[str], width: float,
                   height: float) -> go.Figure:
    """Draw images ``sources`` (data URIs) centred at map positions (x, y), each ``width`` x ``height``
    in map units (so they grow when the map is zoomed), above the points."""
    figure.update_layout(images=[dict(source=source, x=float(at_x), y=float(at_y), xref="x", yref="y", sizex=width,
                                      sizey=height, xanchor="center", yanchor="middle", sizing="contain",
                                      layer="above")
                                 for at_x, at_y, source in zip(x, y, sources)])
    return figure


def zoom(figure: go.Figure, x_range: tuple[float, float], y_range: tuple[float, float]) -> go.Figure:
    """Show only the map region ``x_range`` x ``y_range`` (map units)."""
    figure.update_xaxes(range=list(x_range))
    figure.update_yaxes(range=list(y_range))
    return figure


def highlight(figure: go.Figure, indices) -> go.Figure:
    """Mark the points whose ``customdata[0]`` (image index) is in ``indices`` as selected, dimming
    the rest; no change when ``indices`` is empty."""
    chosen = np.asarray(sorted(indices), dtype=np.int64)
    if len(chosen):
        for trace in figure.data:
            if trace.customdata is None:  # the filtered-out points
                continue
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
    figure.add_vline(x=threshold, line_dash="dash", line_color=ANOMALY_RED,
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
                        color_discrete_map={"flagged": ANOMALY_RED, "normal": "#4c78a8"})
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


def accuracy_by_labels(labels: list[int], series: dict[str, list[float | None]], title: str) -> go.Figure:
    """Accuracy (0 to 1) against the number of labels taught, one line with markers per entry of
    ``series`` (name -> one value per entry of ``labels``; None where unknown), round by round."""
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(go.Scatter(x=labels, y=values, mode="lines+markers", name=name))
    figure.update_xaxes(title="labels taught", rangemode="tozero")
    figure.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    return _layout(figure, title, height=320)


def error_map(error: np.ndarray) -> go.Figure:
    """Per-pixel reconstruction error (H, W), 0 = drawn exactly, as a heat map with its scale: zero is
    white (nothing wrong there), larger errors darker."""
    figure = go.Figure(go.Heatmap(z=error[::-1], colorscale=ERROR_SCALE, zmin=0, zmax=max(float(error.max()), 1e-6),
                                  colorbar=dict(title="error", thickness=10), hovertemplate="error %{z:.3f}<extra></extra>"))
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    figure.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x")
    figure.update_layout(plot_bgcolor="#ffffff")
    return _layout(figure, "Per-pixel error", height=240)
