"""Scores of learnt atoms against the true bars (seed: eggert-koerner-sparse-coding-nmf, Sec. IV, Fig. 2–4)."""

from __future__ import annotations

import numpy as np

from partbased.data.bars import single_bars

MATCH_COSINE = 0.9  # an atom "is" a bar when their cosine similarity reaches this


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)  # (k, pixels)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def bar_cosines(atoms: np.ndarray, size: int) -> np.ndarray:
    """Best cosine similarity of each of the 2·size true single bars with any atom: (2·size,)."""
    truth = _unit_rows(single_bars(size))  # (2·size, size²)
    return (truth @ _unit_rows(atoms).T).max(axis=1)


def bars_recovery(atoms: np.ndarray, size: int) -> float:
    """Fraction of the 2·size true single bars matched by some atom (k, size²) with cosine ≥ 0.9."""
    return float(np.mean(bar_cosines(atoms, size) >= MATCH_COSINE))


def bars_covered(atoms: np.ndarray, size: int, level: float = 0.5) -> np.ndarray:
    """How many true single bars each atom contains: (k,) ints.

    An atom's "on" pixels are those ≥ level·(its max); a bar is contained when all its pixels are on.
    A single-bar atom gives 1, a two-bar pattern (Fig. 4, λ = 0.25) gives 2, a single pixel 0.
    """
    a = np.asarray(atoms, dtype=np.float64).reshape(len(atoms), -1)  # (k, pixels)
    on = a >= level * np.maximum(a.max(axis=1, keepdims=True), 1e-12)  # (k, pixels)
    bars = single_bars(size).reshape(2 * size, -1) > 0  # (2·size, pixels)
    return (bars[None, :, :] <= on[:, None, :]).all(axis=2).sum(axis=1)  # (k,)
