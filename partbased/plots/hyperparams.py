"""Each metric of one (dataset, model) against each hyperparameter its grid varies.

Read from that model's rows only. A grid that varies nothing but the seed has no such figure (the
workflow does not ask for one; the cross-model figures show its points).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from . import style
from .columns import METRICS, PANEL_METRICS
from .images import plot_diverged

COLUMNS = 4  # panels per row


def varied_hyperparams(rows: pd.DataFrame, hyperparams: list[str]) -> list[str]:
    """The hyperparameters (seed excluded) that take more than one value among these rows."""
    return [h for h in hyperparams if h != "seed" and h in rows and rows[h].nunique(dropna=True) > 1]


def plot_metrics(rows: pd.DataFrame, hyperparams: list[str], path: str | Path, title: str, dpi: int) -> None:
    """Each metric against each varied hyperparameter: one block of panels per varied hyperparameter
    (x axis), one panel per metric, up to COLUMNS a row (the figure stays about a screen tall); one line
    per combination of the other varied hyperparameters; points are means over seeds, bars their std."""
    import seaborn as sns  # here: per-point figure jobs skip seaborn's import cost

    metrics = [m for m in PANEL_METRICS if m in rows and rows[m].notna().any()]
    research = [m for m in metrics if METRICS[m].research]
    if not research:
        plot_diverged(path, title, "every grid point diverged", dpi)
        return
    varied = varied_hyperparams(rows, hyperparams)
    if not varied:
        raise ValueError(f"{title}: the grid varies none of {hyperparams} (seed aside); nothing to plot against")
    ncols = min(COLUMNS, len(metrics))
    block = -(-len(metrics) // ncols)  # rows of panels per varied hyperparameter
    width, height = style.PANEL
    with style.figure_style():
        fig, axes = plt.subplots(block * len(varied), ncols, figsize=(width * ncols, (height + 0.25) * block * len(varied)), squeeze=False)
        for j, x in enumerate(varied):
            others = [h for h in varied if h != x]
            data = rows.copy()
            if data[x].dtype == bool or data[x].dtype == object:
                data[x] = data[x].astype(str)
            numeric = data[x].dtype.kind in "iuf" or str(data[x].dtype) == "Int64"
            if numeric:
                data[x] = data[x].astype(float)
            hue = None
            if others:  # one line per combination of the other varied hyperparameters
                hue = "_hue"
                data[hue] = data[others].astype(str).agg(", ".join, axis=1).radd(", ".join(others) + " = ")
            panels = axes[block * j : block * (j + 1)].ravel()
            for ax in panels[len(metrics):]:
                ax.axis("off")
            for i, (ax, metric) in enumerate(zip(panels, metrics)):
                sns.pointplot(
                    data=data, x=x, y=metric, hue=hue, ax=ax, errorbar="sd", native_scale=numeric, dodge=bool(others),
                    palette="colorblind" if hue else None, markersize=4, linewidth=style.LINE,
                )
                ax.set_title(METRICS[metric].title)
                ax.set_ylabel("")
                values = data[metric].dropna()
                if METRICS[metric].log and len(values) and (values > 0).all():
                    style.log_y(ax)
                if numeric and (rows[x].dropna() == rows[x].dropna().round()).all():
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k = 8, 16: no fractional ticks
                if ax.get_legend() is not None:
                    ax.legend(title=None, frameon=False) if i == 0 else ax.get_legend().remove()
        diverged = rows[rows["status"] == "diverged"] if "status" in rows else rows.iloc[:0]
        color = "black"
        if len(diverged):  # their metrics are NaN and plot nothing: name them in the title
            points = "; ".join(diverged[varied].astype(str).agg(", ".join, axis=1))
            title += f"\nDIVERGED ({len(diverged)}): {points}"
            color = "firebrick"
        fig.suptitle(f"{title}: every metric against {', '.join(varied)} (↓ lower / ↑ higher is better)", color=color)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        style.save(fig, path, dpi)
