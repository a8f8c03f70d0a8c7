"""Per-point figures of a trained model: atoms, reconstructions, code histograms, max-approximation to dilation.

The figures of one dataset show the same test images for every model (`pick_images`: seeded, one per
class in turn). Figures take arrays, not models, so they are testable without training anything.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import style


def point_title(dataset: str, model: str, params: str) -> str:
    """The title of a grid point's figures, e.g. 'ae on mnist5k: k~16/beta~0.1/seed~0'."""
    return f"{model} on {dataset}: {params}"


def pick_images(labels: np.ndarray | None, n: int, seed: int, n_samples: int | None = None) -> np.ndarray:
    """Indices of n test images to show, the same for every model of a dataset.

    Labelled: one image of each class in turn (class order), each drawn at random within its class
    (like the authors' balanced test subset, bastien_utils.load_data_MNIST(subsetTest=True)), so ten
    picks of ten classes show every class once. Unlabelled: n distinct images at random, in index
    order. Deterministic for a seed; fewer than n when there are fewer samples.
    """
    if n < 1:
        raise ValueError(f"pick_images: n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    if labels is None:
        if n_samples is None:
            raise ValueError("pick_images: unlabelled data needs n_samples")
        return np.sort(rng.choice(n_samples, size=min(n, n_samples), replace=False))
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"pick_images: labels must be a non-empty 1-d array, got shape {labels.shape}")
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
    picks: list[int] = []
    while len(picks) < min(n, len(labels)):
        for pool in pools:  # one per class per round; a class that runs out is skipped
            if pool and len(picks) < n:
                picks.append(int(pool.pop(0)))
    return np.asarray(picks, dtype=np.int64)


def plot_diverged(path: str | Path, title: str, error: str, dpi: int) -> None:
    """Stand-in figure for a grid point whose training diverged."""
    with style.figure_style():
        fig, ax = plt.subplots(figsize=(4.5, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, f"DIVERGED\n{error}", ha="center", va="center", color="firebrick", wrap=True)
        fig.suptitle(title)
        style.save(fig, path, dpi)


def plot_if_diverged(model, paths: list[str | Path], title: str, dpi: int) -> bool:
    """For a diverged model, write the stand-in figure to every path and return True; else False."""
    if not model.diverged:
        return False
    for path in paths:
        plot_diverged(path, title, model.metadata["error"], dpi)
    return True


def montage(images: np.ndarray, ncols: int) -> np.ndarray:
    """Tiles (n, h, w) as one (rows * (h + 1) - 1, ncols * (w + 1) - 1) image, NaN between tiles and in
    empty cells (drawn in the background colour). One imshow instead of one axes per tile: a figure
    of 36 atoms draws in a tenth of the time (issue "The default run: half the time")."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    nrows = math.ceil(n / ncols)
    canvas = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    return canvas


def _montage_axes(nrows: int, ncols: int, extra_height: float = 0.0):
    """A figure sized for nrows x ncols tiles and its one frameless, tickless image axes."""
    fig, ax = plt.subplots(figsize=(ncols * style.TILE, nrows * style.TILE + extra_height))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig, ax


def _show(ax, canvas: np.ndarray, cmap: str, vmin: float, vmax: float):
    colormap = plt.get_cmap(cmap).with_extremes(bad="white")  # the gaps between tiles
    return ax.imshow(canvas, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")


def _tile_centres(n: int, size: int) -> np.ndarray:
    """Pixel coordinates of the centres of n tiles of `size` pixels in a montage row or column."""
    return np.arange(n) * (size + 1) + (size - 1) / 2


def plot_atoms(atoms: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, n_atoms: int, dpi: int) -> None:
    """The first n_atoms atoms (rows of the dictionary, (k, pixels)) as images.

    Nonnegative dictionaries: grey, each atom from 0 (white) to its own maximum (black): atoms differ in
    scale (NMF's W·H scaling is arbitrary). Signed dictionaries (PCA, unconstrained AEs): one red-blue
    scale symmetric about 0, shared by all tiles, with a colour bar, so the sign of every pixel reads;
    its limit is the 99th percentile of the magnitudes (the largest 1 % are drawn at full colour).
    """
    shown = np.asarray(atoms, dtype=np.float64)[:n_atoms].reshape(-1, *image_shape)
    ncols = min(len(shown), int(math.ceil(math.sqrt(len(shown)))))
    nrows = math.ceil(len(shown) / ncols)
    signed = style.is_signed(shown)
    with style.figure_style():
        fig, ax = _montage_axes(nrows, ncols, extra_height=0.5)
        if signed:
            limit = style.symmetric_limit(shown)
            mappable = _show(ax, montage(shown, ncols), style.SIGNED_CMAP, -limit, limit)
            clipped = bool((np.abs(shown) > limit).any())
            bar = fig.colorbar(mappable, ax=ax, shrink=0.8, pad=0.02, extend="both" if clipped else "neither")
            bar.set_label("weight (ends: ±99th percentile)" if clipped else "weight")
            note = "signed atoms: red > 0 > blue, one shared scale"
        else:
            peaks = np.nanmax(shown.reshape(len(shown), -1), axis=1)
            scaled = shown / np.maximum(np.nan_to_num(peaks), 1e-12)[:, None, None]  # each tile to its own maximum
            _show(ax, montage(scaled, ncols), style.IMAGE_CMAP, 0.0, 1.0)
            note = "nonnegative atoms: each from 0 (white) to its own maximum"
        fig.suptitle(f"{title}\n{note}")
        style.save(fig, path, dpi)


def _image_rows(rows: list[np.ndarray], image_shape: tuple[int, int], labels: list[str], vmax: float, extra_height: float):
    """Rows of n images each (one montage, one grey scale [0, vmax]), each row labelled on the left."""
    n = len(rows[0])
    h, w = image_shape
    fig, ax = _montage_axes(len(rows), n, extra_height=extra_height)
    tiles = np.concatenate([np.asarray(r).reshape(n, h, w) for r in rows])
    _show(ax, montage(tiles, n), style.IMAGE_CMAP, 0.0, vmax)
    ax.set_yticks(_tile_centres(len(rows), h), labels)
    ax.tick_params(axis="y", length=0)
    return fig, ax


def plot_reconstructions(x: np.ndarray, x_hat: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, dpi: int) -> None:
    """Originals (top row) above their reconstructions (bottom row), on one grey scale [0, max(x)]."""
    vmax = max(float(np.nanmax(x)), 1e-12)
    with style.figure_style():
        fig, _ = _image_rows([x, x_hat], image_shape, ["original", "reconstruction"], vmax, extra_height=0.4)
        mse = float(np.mean((np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)) ** 2))
        fig.suptitle(f"{title}\nMSE of these {len(x)} images: {mse:.4g}")
        style.save(fig, path, dpi)


def plot_code_histograms(
    x: np.ndarray, codes: np.ndarray, image_shape: tuple[int, int], path: str | Path, title: str, dpi: int, labels=None
) -> None:
    """Each image (top) above the histogram of its k code values (part-based-autoencoders-report Fig. 5;
    the authors' ShallowAE.plot_histograms_of_the_encoding: one histogram per image).

    One x range and one bin set for all panels, so the histograms compare: a sparse code is a tall bar
    at 0 and a few values away from it.
    """
    codes = np.asarray(codes, dtype=np.float64)  # (n, k)
    n, k = codes.shape
    h, w = image_shape
    finite = codes[np.isfinite(codes)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    low = min(low, 0.0)  # nonnegative codes start at 0, where the sparse units sit
    if high <= low:
        high = low + 1.0
    bins = np.linspace(low, high, min(k, 20) + 1)
    vmax = max(float(np.nanmax(x)), 1e-12)
    with style.figure_style():
        fig = plt.figure(figsize=(n * 1.15, 3.3))
        grid = fig.add_gridspec(2, n, height_ratios=(1, 1.4), hspace=0.15, wspace=0.15)
        ax_img = fig.add_subplot(grid[0, :])  # the n images as one montage over the n histograms
        _show(ax_img, montage(np.asarray(x).reshape(n, h, w), n), style.IMAGE_CMAP, 0.0, vmax)
        ax_img.set_axis_off()
        if labels is not None:
            for centre, label in zip(_tile_centres(n, w), labels):
                ax_img.text(centre, -1, f"class {label}", ha="center", va="bottom", fontsize=style.FONT)
        share = None
        for j in range(n):
            ax = fig.add_subplot(grid[1, j], sharey=share)
            share = share or ax
            counts, _ = np.histogram(codes[j][np.isfinite(codes[j])], bins=bins)
            ax.stairs(counts, bins, fill=True, color=style.LINE_STYLES[0][0])  # one patch, not one per bin
            ax.set_xlim(low, high)
            ax.set_xticks([low, high])
            if j:  # one range for all panels: its end values once, on the first
                ax.tick_params(labelleft=False, labelbottom=False)
            else:
                ax.set_xticklabels([f"{low:.2g}", f"{high:.2g}"])
                ax.set_ylabel(f"units (of k = {k})")
        fig.supxlabel(f"code value (every panel from {low:.2g} to {high:.2g}, {len(bins) - 1} bins)", y=0.02)
        fig.suptitle(f"{title}\nhistogram of each image's code", y=1.02)
        style.save(fig, path, dpi)


def plot_dilation(
    x: np.ndarray,
    x_dilated: np.ndarray,
    x_dilated_atoms: np.ndarray,
    image_shape: tuple[int, int],
    path: str | Path,
    title: str,
    dpi: int,
) -> None:
    """Max-approximation to dilation (part-based-autoencoders-report Sec. 3.4, Fig. 7): the original,
    its dilation by a disk of radius 1, and the decoding of its code with dilated atoms (bias not
    dilated). One grey scale [0, max of the dilated originals]; each column labelled with its error."""
    vmax = max(float(np.nanmax(x_dilated)), 1e-12)
    errors = np.mean((np.asarray(x_dilated_atoms, np.float64) - np.asarray(x_dilated, np.float64)) ** 2, axis=1)  # (n,)
    with style.figure_style():
        fig, ax = _image_rows(
            [x, x_dilated, x_dilated_atoms], image_shape, ["original", "dilation δ₁(x)", "dilated atoms"], vmax, extra_height=0.6
        )
        ax.set_xticks(_tile_centres(len(x), image_shape[1]), [f"{e:.2g}" for e in errors])
        ax.tick_params(axis="x", length=0)
        fig.suptitle(f"{title}\nmax-approximation to dilation; under each: its MSE to δ₁(x), mean {errors.mean():.3g}")
        style.save(fig, path, dpi)


def plot_point_figures(model, test, outputs: dict[str, str], title: str, figures: dict, log) -> None:
    """A point's own figures (`outputs`: atoms, reconstructions, codes, dilation -> path): the atom grid, test images beside their
    reconstructions, their code histograms (report Fig. 5) and their max-approximation to dilation
    (report Fig. 7). `test` is the dataset's test Split; the images shown are the same for every model of
    a dataset (pick_images). `figures`: the config's figures section (n_atoms, n_reconstructions, seed, dpi)."""
    from partbased.metrics.reconstruction import dilate

    dpi = figures["dpi"]
    if plot_if_diverged(model, list(outputs.values()), title, dpi):  # not NaN images
        log.info("diverged point: %s", model.metadata["error"])
        return
    picks = pick_images(test.labels, figures["n_reconstructions"], figures["seed"], n_samples=len(test.x))
    labels = None if test.labels is None else test.labels[picks]
    log.info("test images shown: %s (labels %s)", picks.tolist(), None if labels is None else labels.tolist())
    x = test.x[picks]  # (n, pixels)
    codes = model.encode(x)  # (n, k)
    plot_atoms(model.atoms, test.image_shape, outputs["atoms"], title, n_atoms=figures["n_atoms"], dpi=dpi)
    plot_reconstructions(x, model.decode(codes), test.image_shape, outputs["reconstructions"], title, dpi=dpi)
    plot_code_histograms(x, codes, test.image_shape, outputs["codes"], title, dpi=dpi, labels=labels)
    h, w = test.image_shape
    atoms = np.asarray(model.atoms)
    # report Sec. 3.4: the same codes decoded with each atom dilated by disk(1), bias not dilated
    dilated_atoms = dilate(atoms.reshape(len(atoms), h, w)).reshape(len(atoms), h * w).astype(np.float32)
    x_dilated = dilate(x.reshape(len(x), h, w)).reshape(len(x), h * w)
    plot_dilation(x, x_dilated, model.decode(codes, atoms=dilated_atoms), test.image_shape, outputs["dilation"], title, dpi=dpi)
    log.info("wrote %s", ", ".join(outputs.values()))
