"""The bars data of Eggert & Körner (seed: eggert-koerner-sparse-coding-nmf, Sec. IV, Fig. 1)."""

from __future__ import annotations

import numpy as np


def single_bars(size: int) -> np.ndarray:
    """The 2·size true single bars, each a (size, size) {0,1} image: rows first, then columns."""
    bars = np.zeros((2 * size, size, size), dtype=np.float32)
    for i in range(size):
        bars[i, i, :] = 1.0  # horizontal line in row i
        bars[size + i, :, i] = 1.0  # vertical line in column i
    return bars


def make_bars(
    n_samples: int, size: int = 4, seed: int = 0, min_lines: int = 1, max_lines: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Superpose min..max random distinct horizontal/vertical lines, threshold to {0,1}, L2-normalise.

    Returns images (n, size, size) float32 with unit L2 norm, and the number of lines in each.
    """
    if not 1 <= min_lines <= max_lines <= 2 * size:
        raise ValueError(f"bars: need 1 <= min_lines <= max_lines <= 2*size, got {min_lines}, {max_lines}, size={size}")
    rng = np.random.default_rng(seed)
    bars = single_bars(size)
    n_lines = rng.integers(min_lines, max_lines + 1, size=n_samples)
    images = np.empty((n_samples, size, size), dtype=np.float32)
    for i, n in enumerate(n_lines):
        chosen = rng.choice(len(bars), size=n, replace=False)
        img = (bars[chosen].sum(axis=0) > 0).astype(np.float32)  # threshold: crossings stay 1
        images[i] = img / np.linalg.norm(img)  # Euclidean normalisation (Fig. 1 caption)
    return images, n_lines
