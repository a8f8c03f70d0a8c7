"""Hoyer's sparseness of codes and atoms ([HOYER] eq. 1; [REF] "Sparsity")."""

from __future__ import annotations

import math

import numpy as np


def hoyer_sparseness(v: np.ndarray) -> np.ndarray:
    """Hoyer's sparseness of each vector along the last axis.

    [HOYER] eq. 1 / [REF]: S(h) = (sqrt(n) - ||h||_1 / ||h||_2) / (sqrt(n) - 1), n = len(h).
    ||h||_1 uses absolute values, so signed codes (PCA) are measured too. S is 1 for a one-hot
    vector, 0 for a constant one, and scale-invariant. A vector with zero L2 norm has no defined
    sparseness: it gives NaN (callers average with np.nanmean; the authors' `sparsity_Hoyer` in
    `SourceCode/metrics.py` adds 1e-7 to ||h||_2 instead, which scores a zero code sqrt(n)/(sqrt(n) - 1) > 1). n == 1
    raises ValueError (the denominator is 0).
    """
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        raise ValueError("hoyer_sparseness needs at least a 1-d array")
    n = v.shape[-1]
    if n < 2:
        raise ValueError(f"hoyer_sparseness needs vectors of length >= 2, got {n}")
    l1 = np.abs(v).sum(axis=-1)
    l2 = np.sqrt((v * v).sum(axis=-1))
    sqrt_n = math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (sqrt_n - l1 / l2) / (sqrt_n - 1.0)
    s = np.where(l2 > 0, s, np.nan)
    # Rounding can push S a hair outside [0, 1]; the exact value is inside.
    return np.clip(s, 0.0, 1.0)
