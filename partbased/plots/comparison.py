"""Cross-model figures of one dataset, read only from that dataset's rows of the metrics table.

- plot_tradeoff: reconstruction error against Hoyer sparseness of codes, every model and grid point,
  the Pareto front (no other point is both sparser and better reconstructed) marked.
- plot_model_metrics: each research metric per model, one dot per grid point; SVM accuracy with its
  std over the evaluation splits as error bars; dilation errors on a log axis.
- plot_train_seconds: the cost, apart from the research metrics.
- plot_metric_table: models × metrics like the report's Table 1, each cell shaded by its rank within
  the column in the better direction.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import style
from .columns import METRICS, RESEARCH_METRICS, hyperparam_columns
from .tables import cell_text

TABLE_MAX_ROWS = 40  # beyond this, Table 1 shows one row per model (the mean over its points)
MAX_LABELS = 10  # Pareto points named in the trade-off figure (evenly spaced along a longer front)


# ---------------------------------------------------------------- helpers


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["status"] != "diverged"] if "status" in rows else rows


def model_order(rows: pd.DataFrame, models: list[str] | None) -> list[str]:
    """The models present in rows, in the given (config) order, others after them alphabetically."""
    present = list(dict.fromkeys(rows["model"]))
    order = [m for m in (models or []) if m in present]
    return order + sorted(m for m in present if m not in order)


def point_labels(rows: pd.DataFrame) -> pd.Series:
    """A short name per row: the model, then the hyperparameters that vary among that model's rows
    (e.g. 'ae beta=0.1, project=True'); a model with one point is just its name."""
    labels = pd.Series(rows["model"].astype(str), index=rows.index)
    for model, group in rows.groupby("model", sort=False):
        varied = [h for h in hyperparam_columns(group.columns) if group[h].nunique(dropna=True) > 1]
        if varied:
            named = group[varied].apply(lambda r: ", ".join(f"{h}={cell_text(v, h)}" for h, v in r.items()), axis=1)
            labels[group.index] = model + " " + named
    return labels


def pareto_front(recon: np.ndarray, sparseness: np.ndarray) -> np.ndarray:
    """Mask of the points no other point dominates (lower or equal error and higher or equal
    sparseness, one of them strictly). NaN points are never on the front. O(n log n): a sweep in
    order of increasing error keeps the best sparseness seen so far."""
    recon = np.asarray(recon, dtype=np.float64)
    sparseness = np.asarray(sparseness, dtype=np.float64)
    front = np.zeros(len(recon), dtype=bool)
    valid = np.flatnonzero(np.isfinite(recon) & np.isfinite(sparseness))
    order = valid[np.argsort(recon[valid], kind="stable")]
    best = -np.inf  # the highest sparseness among strictly lower errors
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and recon[order[stop]] == recon[order[start]]:
            stop += 1
        group = order[start:stop]  # equal error
        top = sparseness[group].max()
        if top > best:  # the group's sparsest beat every lower-error point; equal ones tie, all kept
            front[group[sparseness[group] == top]] = True
        best = max(best, top)
        start = stop
    return front


def _diverged_note(rows: pd.DataFrame) -> str:
    bad = rows[rows["status"] == "diverged"] if "status" in rows else rows.iloc[:0]
    if bad.empty:
        return ""
    names = list(point_labels(rows)[bad.index])
    more = f" and {len(names) - MAX_LABELS} more" if len(names) > MAX_LABELS else ""
    return f"\nDIVERGED, not drawn ({len(bad)}): " + "; ".join(names[:MAX_LABELS]) + more


def _positions(rows: pd.DataFrame, order: list[str]) -> pd.Series:
    """x position of each row: its model's slot, points of one model spread evenly across the slot."""
    x = pd.Series(0.0, index=rows.index)
    for i, model in enumerate(order):
        idx = rows.index[rows["model"] == model]
        x[idx] = i + (np.linspace(-0.28, 0.28, len(idx)) if len(idx) > 1 else 0.0)
    return x


def _model_axis(ax, order: list[str]) -> None:
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.grid(axis="y", color="0.9")


# ---------------------------------------------------------------- figures


def plot_tradeoff(rows: pd.DataFrame, path: str | Path, title: str, dpi: int, models: list[str] | None = None) -> None:
    """Reconstruction error (y, ↓) against Hoyer sparseness of codes (x, ↑): better is down and right."""
    import seaborn as sns

    order = model_order(rows, models)
    ok = _ok(rows).dropna(subset=["recon_error", "hoyer_codes"])
    colors = style.model_colors(models or order)
    markers = style.model_markers(models or order)
    with style.figure_style():
        fig, ax = plt.subplots(figsize=(6.2, 4.2))
        if ok.empty:
            ax.text(0.5, 0.5, "no point has both metrics", ha="center", va="center", transform=ax.transAxes)
        else:
            present = [m for m in order if m in set(ok["model"])]
            sns.scatterplot(
                data=ok, x="hoyer_codes", y="recon_error", hue="model", style="model", hue_order=present, style_order=present,
                palette={m: colors[m] for m in present}, markers={m: markers[m] for m in present}, s=45, ax=ax, zorder=3,
            )
            front = ok[pareto_front(ok["recon_error"].to_numpy(), ok["hoyer_codes"].to_numpy())].sort_values("hoyer_codes")
            ax.step(front["hoyer_codes"], front["recon_error"], where="post", color="black", linewidth=1, zorder=2, label="Pareto front")
            ax.scatter(front["hoyer_codes"], front["recon_error"], s=130, facecolors="none", edgecolors="black", linewidths=1, zorder=4)
            labels = point_labels(rows)
            middle = float(np.mean(ax.get_xlim()))
            named = front.iloc[np.unique(np.linspace(0, len(front) - 1, min(len(front), MAX_LABELS)).round().astype(int))]
            for rank, (index, point) in enumerate(named.iterrows()):
                right = point["hoyer_codes"] > middle  # labels point inwards, away from the axes' edge
                ax.annotate(
                    labels[index], (point["hoyer_codes"], point["recon_error"]), textcoords="offset points",
                    xytext=(-8 if right else 8, 6 if rank % 2 == 0 else -12), ha="right" if right else "left",
                )
            ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(present) + 1, 5))
        ax.set_xlabel(METRICS["hoyer_codes"].title + " (sparser →)")
        ax.set_ylabel(METRICS["recon_error"].title)
        ax.grid(color="0.92")
        fig.suptitle(
            f"{title}: reconstruction vs sparseness, every grid point\nbetter: down and right; ringed: the Pareto front{_diverged_note(rows)}"
        )
        style.save(fig, path, dpi)


def plot_model_metrics(rows: pd.DataFrame, path: str | Path, title: str, dpi: int, models: list[str] | None = None) -> None:
    """One panel per research metric with values; x: the models, one dot per grid point."""
    order = model_order(rows, models)
    ok = _ok(rows)
    colors = style.model_colors(models or order)
    metrics = [m for m in RESEARCH_METRICS if m in ok and ok[m].notna().any()]
    x = _positions(ok, order)
    width = max(style.PANEL[0], 0.38 * len(order) + 0.9)  # inches per panel: room for every model's name
    ncols = min(3 if 3 * width <= 11 else 2, max(len(metrics), 1))  # about a screen wide (images show at natural size)
    nrows = max(1, -(-len(metrics) // ncols))
    with style.figure_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 2.6 * nrows), squeeze=False)
        for ax in axes.flat[len(metrics):]:
            ax.axis("off")
        for ax, metric in zip(axes.flat, metrics):
            has = ok[metric].notna()
            if metric == "svm_accuracy" and "svm_accuracy_std" in ok:
                for model in order:  # one call per model: fast on large grids
                    mine = has & (ok["model"] == model)
                    if mine.any():
                        ax.errorbar(
                            x[mine], ok.loc[mine, metric], yerr=ok.loc[mine, "svm_accuracy_std"], fmt="o",
                            color=colors[model], markersize=4, capsize=2, linewidth=1,
                        )
                ax.set_title(METRICS[metric].title + " (bars: ±1 std)")
            else:
                ax.scatter(x[has], ok.loc[has, metric], c=[colors[m] for m in ok.loc[has, "model"]], s=22, zorder=3)
                ax.set_title(METRICS[metric].title)
            if METRICS[metric].log and (ok.loc[has, metric] > 0).all():
                style.log_y(ax)
                ax.set_title(ax.get_title() + ", log")
            _model_axis(ax, order)
        fig.suptitle(f"{title}: every model's metrics, one dot per grid point (↓ lower / ↑ higher is better){_diverged_note(rows)}")
        fig.tight_layout()
        style.save(fig, path, dpi)


def plot_train_seconds(rows: pd.DataFrame, path: str | Path, title: str, dpi: int, models: list[str] | None = None) -> None:
    """Training wall-clock seconds per grid point, per model, on a log axis."""
    order = model_order(rows, models)
    colors = style.model_colors(models or order)
    has = rows[rows["train_seconds"].notna()] if "train_seconds" in rows else rows.iloc[:0]
    x = _positions(has, order)
    with style.figure_style():
        fig, ax = plt.subplots(figsize=(max(3.5, 0.5 * len(order) + 1.2), 2.8))
        ax.scatter(x, has["train_seconds"], c=[colors[m] for m in has["model"]], s=22, zorder=3)
        if (has["train_seconds"] > 0).all() and len(has):
            style.log_y(ax)
        _model_axis(ax, order)
        ax.set_ylabel("training seconds ↓ (log)")
        fig.suptitle(f"{title}: training time per grid point\n(wall clock of the machine that ran it: a cost, not a result)")
        style.save(fig, path, dpi)


def _table_rows(rows: pd.DataFrame, order: list[str]) -> tuple[pd.DataFrame, list[str], str]:
    ok = _ok(rows)
    ok = ok.assign(_order=ok["model"].map({m: i for i, m in enumerate(order)})).sort_values("_order", kind="stable")
    if len(ok) <= TABLE_MAX_ROWS:
        return ok, list(point_labels(rows)[ok.index]), ""
    grouped = ok.groupby("model", sort=False)
    means = grouped[[c for c in METRICS if c in ok]].mean()
    counts = grouped.size()
    return means.reset_index(), [f"{m} (mean of {counts[m]})" for m in means.index], f"; {len(ok)} points: one row per model, the mean"


def plot_metric_table(rows: pd.DataFrame, path: str | Path, title: str, dpi: int, models: list[str] | None = None) -> None:
    """Models × metrics (the report's Table 1): values printed, cells shaded by rank in the better
    direction (darkest = best of the column, best in bold); descriptive columns unshaded."""
    order = model_order(rows, models)
    table, labels, note = _table_rows(rows, order)
    metrics = [m for m in RESEARCH_METRICS if m in table and table[m].notna().any()]
    cmap = plt.get_cmap(style.SCORE_CMAP)
    n_rows, n_cols = len(table), max(len(metrics), 1)
    with style.figure_style():
        fig, ax = plt.subplots(figsize=(1.2 * n_cols + 2.6, 0.26 * n_rows + 1.0))
        colors = np.ones((n_rows, n_cols, 4))
        for j, metric in enumerate(metrics):
            values = table[metric].to_numpy(dtype=np.float64)
            direction = METRICS[metric].direction
            finite = np.isfinite(values)
            best = None
            if direction != "descriptive" and finite.sum() > 1:
                signed = values if direction == "higher" else -values
                ranks = pd.Series(signed).rank(pct=True, method="average").to_numpy()  # 1 = best
                colors[finite, j] = cmap(0.1 + 0.6 * ranks[finite])
                best = int(np.nanargmax(np.where(finite, signed, -np.inf)))
            elif direction == "descriptive":
                colors[:, j] = (0.95, 0.95, 0.95, 1.0)
            for i, value in enumerate(values):
                if not np.isfinite(value):
                    text = "–"
                elif metric == "svm_accuracy" and "svm_accuracy_std" in table and np.isfinite(table["svm_accuracy_std"].iloc[i]):
                    text = f"{value:.3f} ± {table['svm_accuracy_std'].iloc[i]:.3f}"  # mean ± std over splits
                else:
                    text = METRICS[metric].format(value)
                ax.text(j, i, text, ha="center", va="center", fontweight="bold" if i == best else "normal")
        ax.imshow(colors, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(n_cols))
        ax.set_xticklabels([METRICS[m].header for m in metrics], rotation=0)
        ax.xaxis.tick_top()
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(labels)
        ax.tick_params(which="both", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
        ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.5)
        fig.suptitle(
            f"{title}: models × metrics (darker = better in the column, bold = best; grey: descriptive){note}{_diverged_note(rows)}",
            y=1.0,
        )
        style.save(fig, path, dpi)
