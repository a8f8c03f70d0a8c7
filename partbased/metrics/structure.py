"""Structure of the learnt atoms: recovery of the true bars, pixel-like atoms, the angle to the PCA subspace,
the atoms' rank, their smallest entry.

Sources: [EK] seed eggert-koerner-sparse-coding-nmf, Sec. IV, Fig. 2–4 (the bars); part-based-autoencoders-report
Sec. 3.1 and properties-of-autoencoders Sec. 3 (a linear AE with MSE spans the PCA subspace; Bourlard & Kamp 1988).
scikit-learn and SciPy are imported where they are used, so that importing the package stays light.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from partbased.data.bars import single_bars

if TYPE_CHECKING:
    from partbased.models.base import Model

log = logging.getLogger("partbased")

STRUCTURE_KEYS = ("bars_recovery", "pca_angle_max", "atoms_rank", "pixel_atoms", "atoms_min")

MATCH_COSINE = 0.9  # an atom "is" a bar when their cosine similarity reaches this


# --------------------------------------------------------------------------- bars ([EK] Sec. IV)


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
    A single-bar atom gives 1, a two-bar pattern ([EK] Fig. 4, λ = 0.25) gives 2, a single pixel 0.
    """
    a = np.asarray(atoms, dtype=np.float64).reshape(len(atoms), -1)  # (k, pixels)
    on = a >= level * np.maximum(a.max(axis=1, keepdims=True), 1e-12)  # (k, pixels)
    bars = single_bars(size).reshape(2 * size, -1) > 0  # (2·size, pixels)
    return (bars[None, :, :] <= on[:, None, :]).all(axis=2).sum(axis=1)  # (k,)


def pixel_atoms(atoms: np.ndarray, size: int) -> float:
    """Share of the live atoms (k, size²) that are pixel-like: they contain no whole true bar.

    [EK] Sec. IV, Fig. 3–4: with more atoms than pixels and λ = 0, NMF's atoms are "dominated by single-pixel
    solutions" and become "less fragmented" as λ grows. An atom is a fragment (a single pixel or part of a bar)
    when bars_covered finds no whole bar among its on pixels (|entry| ≥ half the atom's largest |entry|); a bar,
    or a union of bars, is not. Why not "the largest entry holds ≥ 90 % of the atom's mass": EK's λ = 0
    atoms, as our sparse NMF learns them on 4×4 bars (k = 36, 400 images), are fragments of 1–4 effective
    pixels whose largest entry holds 26–95 % of the mass (median 0.45; 1000 and 3000 steps), so that test
    calls almost none pixel-like, while 86–92 % of them contain no whole bar (λ = 0.25: none; 500 steps,
    3 seeds; measured).
    All-zero atoms (dead) are left out; NaN when every atom is dead.
    """
    a = np.abs(np.asarray(atoms, dtype=np.float64).reshape(len(atoms), -1))  # (k, pixels)
    live = a.max(axis=1) > 0
    if not live.any():
        return float("nan")
    return float(np.mean(bars_covered(a[live], size) == 0))


def atoms_min(atoms: np.ndarray) -> float:
    """The smallest entry of all atoms: ≥ 0 exactly when the dictionary is nonnegative (report Sec. 3.3)."""
    return float(np.min(atoms)) if np.size(atoms) else float("nan")


# --------------------------------------------------------------------------- PCA subspace


def atoms_rank(atoms: np.ndarray) -> int:
    """Dimension of the atoms' span (np.linalg.matrix_rank of the (k, pixels) atoms, its default tolerance)."""
    return int(np.linalg.matrix_rank(np.asarray(atoms, dtype=np.float64)))


def pca_angle_max(atoms: np.ndarray, x_train: np.ndarray) -> float:
    """Largest angle (degrees) between the span of the k atoms and the PCA subspace of dimension k.

    A linear AE with MSE spans the PCA subspace (see the module sources): this is ~0 for it and for PCA,
    larger for part-based dictionaries. The angle is the largest principal angle between the two
    k-dimensional subspaces (scipy.linalg.subspace_angles). When the atoms have rank r < k (zero or
    linearly dependent atoms), their span has fewer than k dimensions, so some direction of the PCA
    subspace is orthogonal to it: the result is 90°, logged with the rank (the row's `atoms_rank`
    says so too); all-zero atoms (r = 0) give 90° the same way. NaN, logged, when k ≥ min(x_train.shape):
    the PCA subspace is then the whole space spanned by the data and the angle says nothing.
    """
    from scipy.linalg import subspace_angles

    atoms = np.asarray(atoms, dtype=np.float64).reshape(len(atoms), -1)  # (k, pixels)
    x_train = np.asarray(x_train)
    k = len(atoms)
    if k == 0 or k >= min(x_train.shape):
        log.info("pca_angle_max: NaN: %d atoms for training data of shape %s, the PCA subspace would be the whole space", k, x_train.shape)
        return float("nan")
    rank = atoms_rank(atoms)
    if rank < k:
        log.warning("pca_angle_max: the %d atoms span %d dimensions (rank %d < %d), so they miss a direction of the "
                    "%d-dimensional PCA subspace: 90°", k, rank, rank, k, k)
        return 90.0
    # scikit-learn's PCA(svd_solver="covariance_eigh") computed here in numpy: the top-k eigenvectors of the centred
    # data's covariance (exact, ~4x cheaper than a full SVD for n >> pixels), without its ~1.6 s import per job
    centred = x_train.astype(np.float64) - x_train.mean(axis=0, dtype=np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # eigenvalues ascending
    components = vectors[:, ::-1][:, :k]  # (pixels, k)
    return float(np.degrees(subspace_angles(atoms.T, components)).max())


def structure_metrics(model: Model, x_train: np.ndarray, bars_size: int | None) -> dict[str, float]:
    """bars_recovery and pixel_atoms (bars datasets only, else NaN), pca_angle_max, atoms_rank and atoms_min,
    keyed as STRUCTURE_KEYS."""
    atoms = np.asarray(model.atoms, dtype=np.float64)
    out = {
        "bars_recovery": bars_recovery(atoms, bars_size) if bars_size else float("nan"),
        "pca_angle_max": pca_angle_max(atoms, x_train),
        "atoms_rank": atoms_rank(atoms),
        "pixel_atoms": pixel_atoms(atoms, bars_size) if bars_size else float("nan"),
        "atoms_min": atoms_min(atoms),
    }
    assert tuple(out) == STRUCTURE_KEYS
    return out
