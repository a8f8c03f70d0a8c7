"""Figures: atom grids, reconstructions, and metric-vs-hyperparameter plots read from metrics.csv."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: clusters and CI have no display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .io import atomic_path

METRICS = {
    "recon_error": "reconstruction error (test MSE)",
    "hoyer_codes": "Hoyer sparseness of codes",
    "hoyer_atoms": "Hoyer sparseness of atoms",
    "svm_accuracy": "linear-SVM accuracy on codes",
    "dilation_error": "max-approx. error to dilation",
    "dilation_error_recon": "dilation error vs dilated reconstructions",
    "bars_recovery": "single bars recovered (cos >= 0.9)",
    "pca_angle_max": "max principal angle to PCA (deg)",
    "train_seconds": "training seconds",
}


def _save(fig: plt.Figure, path: str | Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)


def _tile(images: np.ndarray, ncols: int) -> plt.Figure:
    """Images (n, h, w) on a grid, each scaled to its own range (atoms differ in scale)."""
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img in zip(axes.flat, images):
        ax.imshow(img, cmap="gray_r", interpolation="nearest")
    return fig


def plot_atoms(atoms: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, n_atoms: int, dpi: int) -> None:
    """The first n_atoms atoms (rows of the dictionary), as images."""
    shown = atoms[:n_atoms].reshape(-1, *image_shape)
    fig = _tile(shown, ncols=min(len(shown), int(math.ceil(math.sqrt(len(shown))))))
    fig.suptitle(title, fontsize=8)
    _save(fig, path, dpi)


def plot_reconstructions(x: np.ndarray, x_hat: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, dpi: int) -> None:
    """Originals (top row) above their reconstructions (bottom row)."""
    n = len(x)
    fig, axes = plt.subplots(2, n, figsize=(n * 0.9, 2.1), squeeze=False)
    for j in range(n):
        for i, img in enumerate((x[j], x_hat[j])):
            axes[i, j].imshow(img.reshape(image_shape), cmap="gray_r", vmin=0, vmax=max(float(x.max()), 1e-12))
            axes[i, j].axis("off")
    axes[0, 0].set_title("original", fontsize=7, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=7, loc="left")
    fig.suptitle(title, fontsize=8)
    _save(fig, path, dpi)


def plot_diverged(path: str | Path, title: str, error: str, dpi: int) -> None:
    """Stand-in figure for a grid point whose training diverged."""
    fig, ax = plt.subplots(figsize=(4, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"DIVERGED\n{error}", ha="center", va="center", color="firebrick", fontsize=8, wrap=True)
    fig.suptitle(title, fontsize=8)
    _save(fig, path, dpi)


def point_title(dataset: str, model: str, params: str) -> str:
    """The title of a grid point's figures, e.g. 'ae on mnist5k: k~16/beta~0.1/seed~0'."""
    return f"{model} on {dataset}: {params}"


def plot_if_diverged(model, paths: list[str | Path], title: str, dpi: int) -> bool:
    """For a diverged model, write the stand-in figure to every path and return True; else False."""
    if not model.diverged:
        return False
    for path in paths:
        plot_diverged(path, title, model.metadata["error"], dpi)
    return True


def varied_hyperparams(rows: pd.DataFrame, hyperparams: list[str]) -> list[str]:
    """The hyperparameters that take more than one value among these rows."""
    return [h for h in hyperparams if h in rows and rows[h].nunique(dropna=True) > 1]


def plot_metrics(rows: pd.DataFrame, hyperparams: list[str], path: str | Path, title: str, dpi: int) -> None:
    """Each metric (rows) against each varied hyperparameter (columns), coloured by the other varied ones."""
    import seaborn as sns  # here: per-point figures skip seaborn's import cost

    metrics = [m for m in METRICS if m in rows and rows[m].notna().any()]
    if rows[[m for m in METRICS if m != "train_seconds" and m in rows]].isna().all().all():
        plot_diverged(path, title, "every grid point diverged", dpi)
        return
    varied = varied_hyperparams(rows, hyperparams)
    xs = varied or [h for h in hyperparams if h in rows][:1]
    fig, axes = plt.subplots(len(metrics), len(xs), figsize=(3.4 * len(xs), 2.2 * len(metrics)), squeeze=False)
    for j, x in enumerate(xs):
        others = [h for h in varied if h != x]
        data = rows.assign(**{x: rows[x].astype(str)} if rows[x].dtype == bool else {})
        if others:  # one line per combination of the other varied hyperparameters
            data = data.assign(_hue=data[others].astype(str).agg(", ".join, axis=1).radd(", ".join(others) + " = "))
        for i, metric in enumerate(metrics):
            ax = axes[i, j]
            sns.pointplot(
                data=data, x=x, y=metric, hue="_hue" if others else None, ax=ax,
                errorbar="sd", native_scale=data[x].dtype.kind in "if", dodge=bool(others),
            )
            ax.set_ylabel(METRICS[metric], fontsize=7)
            ax.tick_params(labelsize=7)
            if ax.get_legend() is not None:
                ax.legend(fontsize=6, title=None) if i == 0 else ax.get_legend().remove()
    diverged = rows[rows["status"] == "diverged"] if "status" in rows else rows.iloc[:0]
    if len(diverged):  # their metrics are NaN and plot nothing: name them in the title
        points = "; ".join(diverged[varied or xs].astype(str).agg(", ".join, axis=1))
        title += f"\nDIVERGED ({len(diverged)}): {points}"
    fig.suptitle(title, fontsize=9, color="firebrick" if len(diverged) else "black")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    _save(fig, path, dpi)
