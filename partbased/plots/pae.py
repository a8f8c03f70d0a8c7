"""PAE-NMF figures (seed pae-nmf-weibull-vae, Fig. 5–7): Weibull latent distributions and generated samples.

- plot_latent_distributions: q(h | x) of one sample, one line per model (e.g. with / without the KL term, Fig. 5).
- plot_pair_distributions: q(h | x) of a similar pair (blue solid, green dashed) and a dissimilar sample
  (orange dotted, Fig. 6).
- plot_generated: originals above samples decoded from the Weibull(1, 1) prior (model.generate; Fig. 7 left
  draws from each sample's q(h | x) instead, here we show the prior, the model's generative path).

Each function writes one PNG atomically through style.save, in the shared style (fonts >= 8 pt).
Densities are evaluated on a grid that adds each distribution's own quantiles to an even grid, so
narrow peaks (no-KL models collapse towards a point, λ near the 0.001 floor) are resolved; the y-axis
is capped when one line's peak dwarfs the others, and the capped lines are labelled with their peak.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from . import style

_Q_LOW, _Q_HIGH = 5e-4, 0.999  # quantile range each distribution's grid points cover
_PEAK_Q = (0.02, 0.98)  # quantile range over which a line's displayed peak is measured
_CAP_RATIO = 10.0  # cap the y-axis at this many times the smallest line's peak
_PANEL_COLS = 4
_MODEL_STYLES = style.LINE_STYLES  # colour and dash both differ between lines


# ---------------------------------------------------------------- densities


def weibull_pdf_grid(k: np.ndarray, lam: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Weibull(k, λ) densities on `grid`: k, λ of shape (d,) (or scalars) -> (d, len(grid)) float64.

    The density (k/λ)(h/λ)^(k−1) exp(−(h/λ)^k) (pae-nmf-weibull-vae Sec. 3; scipy.stats.weibull_min(c=k,
    scale=λ).pdf, tests/test_plots_pae.py; numpy here: importing scipy.stats costs ~0.5 s of CPU per job);
    at h = 0 it is 0 (k > 1), 1/λ (k = 1) or inf (k < 1).
    """
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))  # (d,)
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))  # (d,)
    if k.shape != lam.shape or k.ndim != 1:
        raise ValueError(f"weibull_pdf_grid: k and λ must be 1-D of equal shape, got {k.shape} and {lam.shape}")
    if np.any(~np.isfinite(k)) or np.any(~np.isfinite(lam)) or np.any(k <= 0) or np.any(lam <= 0):
        raise ValueError("weibull_pdf_grid: k and λ must be finite and positive")
    grid = np.asarray(grid, dtype=np.float64)  # (g,)
    return _weibull_pdf(grid[None, :], k[:, None], lam[:, None])  # (d, g)


def _weibull_pdf(h: np.ndarray, k, lam) -> np.ndarray:
    z = h / lam
    with np.errstate(divide="ignore", invalid="ignore"):  # k < 1 at h = 0: inf, as it should be
        return np.where(h < 0, 0.0, k / lam * z ** (k - 1) * np.exp(-(z**k)))


def _weibull_ppf(q: np.ndarray, k, lam) -> np.ndarray:
    """The inverse CDF λ(−ln(1 − q))^(1/k) (pae-nmf-weibull-vae Sec. 3, the reparameterised sample)."""
    return lam * (-np.log1p(-q)) ** (1 / k)


def latent_grid(k: np.ndarray, lam: np.ndarray, n_points: int = 300) -> np.ndarray:
    """One sorted grid from 0 past the 99.9 % quantile of every Weibull(k_i, λ_i) (k, λ: (d,)).

    An even grid plus 100 quantile points of each distribution, so that narrow peaks are resolved.
    """
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    qs = np.linspace(_Q_LOW, _Q_HIGH, 100)  # (100,)
    own = _weibull_ppf(qs[None, :], k[:, None], lam[:, None])  # (d, 100)
    top = float(own[:, -1].max())
    return np.unique(np.concatenate([np.linspace(0.0, top, n_points), own.ravel()]))  # (g,)


def _peak(k: float, lam: float) -> float:
    """Largest density over the central quantiles: finite even for k < 1 (infinite at 0)."""
    x = _weibull_ppf(np.linspace(*_PEAK_Q, 200), k, lam)
    return float(_weibull_pdf(x, k, lam).max())


# ---------------------------------------------------------------- checks and helpers


def _pixels(model) -> int | None:
    net = getattr(model, "net", None)
    return None if net is None else int(net.enc_k.in_features)


def _check_rows(x: np.ndarray, name: str, model=None, n_rows: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or (n_rows is not None and x.shape[0] != n_rows):
        want = f"({n_rows}, pixels)" if n_rows is not None else "(n, pixels)"
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    pixels = _pixels(model) if model is not None else None
    if pixels is not None and x.shape[1] != pixels:
        raise ValueError(f"{name} has {x.shape[1]} pixels but the model was trained on {pixels}")
    return x


def _check_shape(image_shape, pixels: int) -> tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 2 or math.prod(shape) != pixels:
        raise ValueError(f"image_shape {tuple(image_shape)} does not match {pixels} pixels per sample")
    return shape


def _panels(n_panels: int, width: float = 2.3, height: float = 1.8):
    ncols = min(n_panels, _PANEL_COLS)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * width, nrows * height), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.axis("off")
    return fig, list(axes.flat[:n_panels])


def _show_image(ax, img: np.ndarray, shape: tuple[int, int], label: str, color: str = "black") -> None:
    ax.imshow(img.reshape(shape), cmap="gray_r", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():  # an image, not a plot: no frame
        spine.set_visible(False)
    ax.set_title(label, color=color)


def _draw_dimension(ax, lines: list[tuple[str, float, float, str, str]], dim: int, prior: bool) -> None:
    """One panel: the densities of one latent dimension; lines = (label, k, λ, colour, linestyle)."""
    ks = np.array([line[1] for line in lines])
    lams = np.array([line[2] for line in lines])
    grid = latent_grid(ks, lams)
    pdfs = weibull_pdf_grid(ks, lams, grid)  # (lines, g)
    pdfs[~np.isfinite(pdfs)] = np.nan  # k < 1: infinite at h = 0
    for (label, _, _, color, dash), pdf in zip(lines, pdfs):
        ax.plot(grid, pdf, color=color, linestyle=dash, label=label)
    if prior:
        ax.plot(grid, weibull_pdf_grid([1.0], [1.0], grid)[0], color="0.55", linewidth=1.0, linestyle=(0, (1, 2)), label="prior W(1, 1)")
    peaks = np.array([_peak(k, lam) for k, lam in zip(ks, lams)])
    cap = min(float(peaks.max()), _CAP_RATIO * float(peaks.min())) * 1.1
    if prior:
        cap = max(cap, 1.1)  # the prior's density at 0 is 1
    ax.set_ylim(0, cap)
    ax.set_xlim(0, grid[-1])
    for (_, k, lam, color, _), peak in zip(lines, peaks):
        if peak > cap:  # a narrow line beyond the cap: say how high it goes
            mode = lam * ((k - 1) / k) ** (1 / k) if k > 1 else 0.0
            ax.annotate(f"peak {peak:.3g}", (mode, cap), xytext=(2, -8), textcoords="offset points", color=color)
    ax.set_title(f"h{dim}")


# ---------------------------------------------------------------- figures


def _finish_density_panels(fig, axes, title: str, path: str | Path, dpi: int) -> None:
    """Legend on the first panel, shared axis labels, title, and the atomic PNG write."""
    axes[0].legend(frameon=False)
    fig.supxlabel("h")
    fig.supylabel("density")
    fig.suptitle(title)
    fig.tight_layout()
    style.save(fig, path, dpi)


@style.styled
def plot_latent_distributions(
    models: Mapping[str, object],
    x: np.ndarray,
    path: str | Path,
    title: str,
    dpi: int,
    n_dims: int = 6,
    image_shape: tuple[int, int] | None = None,
) -> None:
    """Weibull densities q(h_i | x) of one sample x (1, pixels) for its first n_dims latent dimensions,
    one line per model ({"with KL": m1, "without KL": m0}, or a single model), the prior in grey.
    With image_shape, the sample itself is shown in the first panel."""
    if not models:
        raise ValueError("plot_latent_distributions: need at least one model")
    if n_dims < 1:
        raise ValueError(f"n_dims must be >= 1, got {n_dims}")
    names = list(models)
    x = _check_rows(x, "x", n_rows=1)
    for name in names:
        _check_rows(x, f"x (model {name!r})", model=models[name], n_rows=1)
    shape = _check_shape(image_shape, x.shape[1]) if image_shape is not None else None
    params = {name: models[name].latent_params(x) for name in names}  # name -> ((1, r), (1, r))
    dims = min([n_dims] + [params[name][0].shape[1] for name in names])
    fig, axes = _panels(dims + (shape is not None))
    if shape is not None:
        _show_image(axes.pop(0), x[0], shape, "sample")
    for i, ax in enumerate(axes):
        lines = [
            (name, float(params[name][0][0, i]), float(params[name][1][0, i]), *_MODEL_STYLES[j % len(_MODEL_STYLES)])
            for j, name in enumerate(names)
        ]
        _draw_dimension(ax, lines, i, prior=True)
    _finish_density_panels(fig, axes, title, path, dpi)


@style.styled
def plot_pair_distributions(
    model,
    x_a: np.ndarray,
    x_b: np.ndarray,
    x_c: np.ndarray,
    path: str | Path,
    title: str,
    dpi: int,
    n_dims: int = 6,
    image_shape: tuple[int, int] | None = None,
) -> None:
    """Per latent dimension, q(h_i | x) of a similar pair a, b (blue solid, green dashed) and of a
    dissimilar sample c (orange dotted); each x_* is (1, pixels). With image_shape, the three samples are shown first."""
    if n_dims < 1:
        raise ValueError(f"n_dims must be >= 1, got {n_dims}")
    xs = [_check_rows(x, name, model=model, n_rows=1) for x, name in ((x_a, "x_a"), (x_b, "x_b"), (x_c, "x_c"))]
    shape = _check_shape(image_shape, xs[0].shape[1]) if image_shape is not None else None
    k, lam = model.latent_params(np.concatenate(xs))  # (3, r) each
    dims = min(n_dims, k.shape[1])
    styles = [("similar a", "#0072B2", "-"), ("similar b", "#009E73", "--"), ("dissimilar c", "#D55E00", ":")]  # three apart
    fig, axes = _panels(dims + (3 if shape is not None else 0))
    if shape is not None:
        for (label, color, _), x in zip(styles, xs):
            _show_image(axes.pop(0), x[0], shape, label, color)
    for i, ax in enumerate(axes):
        lines = [(label, float(k[j, i]), float(lam[j, i]), color, dash) for j, (label, color, dash) in enumerate(styles)]
        _draw_dimension(ax, lines, i, prior=False)
    _finish_density_panels(fig, axes, title, path, dpi)


@style.styled
def plot_generated(
    model, originals: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, dpi: int, n: int = 8, seed: int = 0
) -> None:
    """Up to n originals (top row) above n samples from model.generate(n, seed) (bottom row), on one grey
    scale from 0 to the originals' maximum (the data's range; brighter generated pixels are clipped, so a
    few outliers of the prior do not wash the originals out)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    originals = _check_rows(originals, "originals", model=model)[:n]
    shape = _check_shape(image_shape, originals.shape[1])
    generated = np.asarray(model.generate(n, seed=seed), dtype=np.float32)  # (n, pixels)
    if generated.shape != (n, originals.shape[1]):
        raise ValueError(f"model.generate returned shape {generated.shape}, expected {(n, originals.shape[1])}")
    shown = originals[np.isfinite(originals)]
    vmax = max(float(shown.max()) if shown.size else 0.0, 1e-12)  # the originals' range
    ncols = max(n, len(originals))
    fig, axes = plt.subplots(2, ncols, figsize=(ncols * 0.9, 2.1), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, images in enumerate((originals, generated)):
        for j, img in enumerate(images):
            axes[row, j].imshow(img.reshape(shape), cmap="gray_r", vmin=0, vmax=vmax, interpolation="nearest")
    axes[0, 0].set_title("original", loc="left")
    axes[1, 0].set_title(f"generated (prior, seed {seed})", loc="left")
    fig.suptitle(title, y=1.08)  # above the row labels
    style.save(fig, path, dpi)


# ---------------------------------------------------------------- choosing samples


def choose_pairs(x: np.ndarray, labels: np.ndarray | None, seed: int = 0) -> tuple[int, int, int]:
    """Indices (ia, ib, ic) into x (n, pixels): a similar pair a, b and a dissimilar sample c.

    Labelled: a is drawn at random from the classes with >= 2 samples, b is a's nearest neighbour (pixel
    space) within its class, c is drawn at random from the other classes. Unlabelled (or a single class):
    a at random, b its nearest neighbour (a distinct image when there is one), c the farthest sample from a.
    Deterministic for a seed.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"choose_pairs: need x of shape (n >= 3, pixels), got {x.shape}")
    n = len(x)
    rng = np.random.default_rng(seed)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"choose_pairs: labels must have shape ({n},), got {labels.shape}")
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) >= 2 and (counts >= 2).any():
            ia = int(rng.choice(np.flatnonzero(np.isin(labels, classes[counts >= 2]))))
            same = np.flatnonzero((labels == labels[ia]) & (np.arange(n) != ia))
            ib = int(same[np.argmin(((x[same] - x[ia]) ** 2).sum(axis=1))])
            ic = int(rng.choice(np.flatnonzero(labels != labels[ia])))
            return ia, ib, ic
    ia = int(rng.integers(n))
    dist = ((x - x[ia]) ** 2).sum(axis=1)  # (n,)
    others = np.flatnonzero(np.arange(n) != ia)
    distinct = others[dist[others] > 0]
    pool = distinct if len(distinct) else others
    ib = int(pool[np.argmin(dist[pool])])
    rest = others[others != ib]
    ic = int(rest[np.argmax(dist[rest])])
    return ia, ib, ic
