"""Shared look of every figure: fonts, colormaps, sizes, model colours, and the atomic PNG write.

Sizes are in points at the saved size (figures are saved at their own size, `bbox_inches="tight"`
only trims), so FONT = 8 is 8 pt in the PNG whatever the dpi.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: clusters and CI have no display
import matplotlib.pyplot as plt
import numpy as np

from partbased.io import atomic_path

FONT = 8  # pt: ticks, legends, panel labels (the smallest text of any figure)
TITLE = 9  # pt: panel and figure titles
LINE = 1.4  # pt: line width of curves
TILE = 0.9  # inches per image tile (atoms, reconstructions)
PANEL = (2.6, 2.0)  # inches per plot panel (width, height)

IMAGE_CMAP = "gray_r"  # nonnegative images: 0 white, max black (ink on paper, as digits are drawn)
SIGNED_CMAP = "RdBu_r"  # signed images: blue < 0 < red, on a range symmetric about 0
SCORE_CMAP = "Greens"  # Table-1 cells: darker = better within the column

# curves that must stay apart in print and for colour-blind readers: colour and dash both differ
LINE_STYLES = [
    ("#0072B2", "-"),
    ("#D55E00", "--"),
    ("#009E73", "-."),
    ("#CC79A7", ":"),
    ("#E69F00", (0, (5, 1, 1, 1))),
]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*"]

RC = {
    "font.size": FONT,
    "axes.titlesize": TITLE,
    "axes.labelsize": FONT,
    "xtick.labelsize": FONT,
    "ytick.labelsize": FONT,
    "legend.fontsize": FONT,
    "legend.title_fontsize": FONT,
    "figure.titlesize": TITLE,
    "lines.linewidth": LINE,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.facecolor": "white",
}


@contextmanager
def figure_style():
    """The shared rcParams for the figures drawn inside the block."""
    with plt.rc_context(RC):
        yield


def save(fig: plt.Figure, path: str | Path, dpi: int) -> None:
    """Write fig as a PNG atomically (a killed job leaves no half figure) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)


def model_colors(models: list[str]) -> dict[str, tuple]:
    """One colour per model name, by its position in `models` (the config's order), so that a model
    has the same colour in every dataset's figures."""
    import seaborn as sns

    palette = sns.color_palette("colorblind", n_colors=max(len(models), 1))
    return {m: palette[i % len(palette)] for i, m in enumerate(models)}


def model_markers(models: list[str]) -> dict[str, str]:
    return {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(models)}


def is_signed(images: np.ndarray, tol: float = 1e-3) -> bool:
    """True when images hold values below 0 by more than tol × their largest magnitude."""
    images = np.asarray(images)
    finite = images[np.isfinite(images)]
    if finite.size == 0:
        return False
    return bool(finite.min() < -tol * np.abs(finite).max())


def symmetric_limit(images: np.ndarray, quantile: float = 0.99) -> float:
    """The colour range ±limit of a signed figure: the quantile of the magnitudes shown (> 0), so
    that a few outlying weights do not wash every other tile out (those are drawn at full colour)."""
    finite = np.abs(np.asarray(images))[np.isfinite(images)]
    return max(float(np.quantile(finite, quantile)) if finite.size else 0.0, 1e-12)


def styled(draw):
    """Decorator: the figure function draws in the shared style."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with figure_style():
            return draw(*args, **kwargs)

    return wrapper


def log_y(ax) -> None:
    """A log y axis labelled in plain numbers (0.05, 0.2), with ticks at 1, 2, 5 × 10^n when it spans
    two decades or less (else at the decades), so that even a narrow range has labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    low, high = ax.get_ylim()
    decades = np.log10(high / low) if low > 0 and high > low else 3.0
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 2 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.2g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
