"""Evaluation metrics of the part-based representation study.

Sources:
- [REF] shared/REFERENCE.md, "Evaluation protocol of the part-based autoencoder study".
- [REPORT] shared/seeds/part-based-autoencoders-report.txt, Sec. 3.4 (max-approximation to dilation).
- [HOYER] P. O. Hoyer, "Non-negative matrix factorization with sparseness constraints", JMLR 2004.

All metrics take NumPy arrays with one flattened image (or one code) per row.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from skimage.morphology import dilation, disk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit, cross_val_score, train_test_split
from sklearn.svm import LinearSVC

from partbased.models.base import Model

METRIC_KEYS = (
    "recon_error",
    "hoyer_codes",
    "hoyer_atoms",
    "svm_accuracy",
    "svm_accuracy_std",
    "dilation_error",
    "dilation_error_recon",
)


# --------------------------------------------------------------------------- sparsity


def hoyer_sparseness(v: np.ndarray) -> np.ndarray:
    """Hoyer's sparseness of each vector along the last axis.

    [HOYER] eq. 1 / [REF]: S(h) = (sqrt(n) - ||h||_1 / ||h||_2) / (sqrt(n) - 1), n = len(h).
    ||h||_1 uses absolute values, so signed codes (PCA) are measured too. S is 1 for a one-hot
    vector, 0 for a constant one, and scale-invariant. A vector with zero L2 norm has no defined
    sparseness: it gives NaN (callers average with np.nanmean). n == 1 raises ValueError
    (the denominator is 0).
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


# --------------------------------------------------------------------------- errors


def reconstruction_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Pixel-wise mean squared error ([REF] "Reconstruction error"), computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"shape mismatch: {x.shape} vs {x_hat.shape}")
    return float(np.mean((x - x_hat) ** 2))


def dilate(images: np.ndarray) -> np.ndarray:
    """Grey dilation of each image of a stack (n, h, w) by a disk of radius 1.

    [REF]/[REPORT] Sec. 3.4: delta_1 = skimage.morphology.dilation(img, disk(1)). The footprint
    disk(1)[None] has extent 1 along the stack axis, so images do not mix and the result equals
    a per-image loop, borders included (same padding mode).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"dilate expects a stack (n, h, w), got shape {images.shape}")
    return dilation(images, footprint=disk(1)[None])


def _as_images(x: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    h, w = image_shape
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ValueError(f"expected (n, {h * w}) rows for image_shape {tuple(image_shape)}, got {x.shape}")
    return x.reshape(len(x), h, w)


def _dilation_errors_from_codes(
    model: Model,
    codes: np.ndarray,
    x: np.ndarray,
    image_shape: tuple[int, int],
    x_hat: np.ndarray | None = None,
) -> tuple[float, float]:
    """dilation_errors with the codes (and optionally the reconstructions) already computed."""
    n_pixels = image_shape[0] * image_shape[1]
    atoms = np.asarray(model.atoms)
    # [REPORT] Sec. 3.4: delta_1(W_d), each atom (decoder weight row) dilated as a d x d image.
    dilated_atoms = dilate(_as_images(atoms, image_shape)).reshape(len(atoms), n_pixels).astype(np.float32)
    # [REPORT] Sec. 3.4: h_delta1(x) = sigma_d(delta_1(W_d)^T h + b_d): same codes, dilated atoms,
    # bias NOT dilated, decoder activation kept -- the model's decode applies b_d and sigma_d.
    x_dil_hat = model.decode(codes, atoms=dilated_atoms)
    if x_hat is None:
        x_hat = model.decode(codes)
    n = len(x)
    # [REPORT] Sec. 3.4: E = 1/(mN) sum_i ||h_delta1(x_i) - delta_1(x_i)||^2 (vs the original images) ...
    err_input = reconstruction_error(x_dil_hat, dilate(_as_images(x, image_shape)).reshape(n, n_pixels))
    # ... and the variant vs the dilation of the reconstructions ([REPORT] Fig. 8d, [REF]).
    err_recon = reconstruction_error(x_dil_hat, dilate(_as_images(x_hat, image_shape)).reshape(n, n_pixels))
    return err_input, err_recon


def dilation_errors(model: Model, x: np.ndarray, image_shape: tuple[int, int]) -> tuple[float, float]:
    """Max-approximation errors to dilation by disk(1) ([REPORT] Sec. 3.4, [REF]).

    Returns (MSE(h_delta1(x), delta_1(x)), MSE(h_delta1(x), delta_1(h(x)))), where h_delta1 decodes
    the codes of x with the dilated atoms (bias not dilated, decoder activation kept).
    """
    return _dilation_errors_from_codes(model, model.encode(x), x, image_shape)


# --------------------------------------------------------------------------- SVM on codes


@dataclass
class SVMProtocol:
    """Linear-SVM-on-codes protocol; defaults are the published ones ([REF] "SVM accuracy on codes")."""

    # Fraction of the test codes held out (stratified): C is chosen on the other 80 %, the
    # accuracy is measured on the held-out 20 %.
    holdout: float = 0.2
    # Number of C values searched, C in np.logspace(C_min_exp, C_max_exp, n_C) ([REF]: 30 values).
    n_C: int = 30
    # log10 of the smallest C ([REF]: logspace(-2, 3)).
    C_min_exp: float = -2
    # log10 of the largest C.
    C_max_exp: float = 3
    # StratifiedShuffleSplit splits of the C search (GridSearchCV on the 80 %) ([REF]: 20).
    cv_splits: int = 20
    # Test fraction of each C-search split ([REF]: 0.08).
    cv_test_size: float = 0.08
    # StratifiedShuffleSplit splits of the held-out 20 % for the final accuracy ([REF]: 25).
    eval_splits: int = 25
    # Test fraction of each evaluation split ([REF]: 0.05).
    eval_test_size: float = 0.05
    # LinearSVC iteration cap (not given in [REF]; ours).
    max_iter: int = 5000

    def Cs(self) -> np.ndarray:
        return np.logspace(self.C_min_exp, self.C_max_exp, self.n_C)


def _check_split(n: int, test_size: float, n_classes: int, field: str, subset: str) -> None:
    """Raise if a stratified split of n samples with test_size leaves a side with < n_classes samples.

    Sizes are computed as scikit-learn does: n_test = ceil(test_size * n), n_train = n - n_test.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"SVMProtocol.{field} must be in (0, 1), got {test_size}")
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_test < n_classes:
        raise ValueError(
            f"SVMProtocol.{field}={test_size} gives {n_test} test samples out of {n} ({subset}), fewer than "
            f"the {n_classes} classes; the minimum {field} is {n_classes}/{n} = {n_classes / n:.4g} "
            f"(or use more samples)"
        )
    if n_train < n_classes:
        maximum = (n - n_classes) / n
        raise ValueError(
            f"SVMProtocol.{field}={test_size} leaves {n_train} training samples out of {n} ({subset}), fewer "
            f"than the {n_classes} classes; the maximum {field} is {maximum:.4g} (or use more samples)"
        )


def _check_class_counts(labels: np.ndarray, field: str, subset: str) -> None:
    """Stratified shuffle splits need >= 2 members per class."""
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            f"class {classes[counts.argmin()]!r} has {counts.min()} member(s) in {subset}; stratified splits "
            f"need at least 2 per class: increase SVMProtocol.{field} or use more samples"
        )


def svm_accuracy(codes: np.ndarray, labels: np.ndarray, protocol: SVMProtocol, seed: int) -> tuple[float, float]:
    """Mean and std accuracy of a linear SVM on codes, following [REF] "SVM accuracy on codes".

    1. Stratified split of the codes: fit part (1 - holdout), held-out part (holdout).
    2. C among logspace(C_min_exp, C_max_exp, n_C) by GridSearchCV(LinearSVC) over
       StratifiedShuffleSplit(cv_splits, test_size=cv_test_size) of the fit part.
    3. cross_val_score of LinearSVC(C=best) over StratifiedShuffleSplit(eval_splits,
       test_size=eval_test_size) of the held-out part -> (mean, std).
    Codes are used raw (no standardisation), as in the protocol. All randomness derives from seed.
    Raises ValueError naming the SVMProtocol field to change when a split is too small.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (n, k) with n == len(labels); got {codes.shape} and {labels.shape}")
    n_classes = len(np.unique(labels))
    if n_classes < 2:
        raise ValueError(f"svm_accuracy needs at least 2 classes, got {n_classes}")
    if protocol.n_C < 1 or protocol.cv_splits < 1 or protocol.eval_splits < 1:
        raise ValueError("SVMProtocol.n_C, cv_splits and eval_splits must be >= 1")
    _check_class_counts(labels, "holdout", "the codes")

    seed_split, seed_cv, seed_eval, seed_svm = (
        int(s) for s in np.random.SeedSequence(seed).generate_state(4)
    )

    # 1. stratified 80/20 split ([REF]).
    _check_split(len(labels), protocol.holdout, n_classes, "holdout", "all codes")
    x_fit, x_held, y_fit, y_held = train_test_split(
        codes, labels, test_size=protocol.holdout, stratify=labels, random_state=seed_split
    )
    _check_split(len(y_fit), protocol.cv_test_size, n_classes, "cv_test_size", "fit part")
    _check_split(len(y_held), protocol.eval_test_size, n_classes, "eval_test_size", "held-out part")
    _check_class_counts(y_held, "holdout", "the held-out part")
    _check_class_counts(y_fit, "holdout", "the fit part")

    def svc(**kw) -> LinearSVC:
        return LinearSVC(max_iter=protocol.max_iter, random_state=seed_svm, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        # 2. C search: GridSearchCV over StratifiedShuffleSplit(20, test_size=0.08) ([REF]).
        search = GridSearchCV(
            svc(),
            {"C": protocol.Cs()},
            cv=StratifiedShuffleSplit(protocol.cv_splits, test_size=protocol.cv_test_size, random_state=seed_cv),
            scoring="accuracy",
        )
        search.fit(x_fit, y_fit)
        best_C = float(search.best_params_["C"])
        # 3. mean +- std over 25 StratifiedShuffleSplit(test_size=0.05) of the held-out 20 % ([REF]).
        scores = cross_val_score(
            svc(C=best_C),
            x_held,
            y_held,
            cv=StratifiedShuffleSplit(protocol.eval_splits, test_size=protocol.eval_test_size, random_state=seed_eval),
            scoring="accuracy",
        )
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- all at once


def evaluate(
    model: Model,
    x_test: np.ndarray,
    labels: np.ndarray | None,
    image_shape: tuple[int, int],
    protocol: SVMProtocol,
    seed: int,
) -> dict[str, float]:
    """All metrics of [REF] on the test set; encodes x_test once and decodes the codes once.

    Keys: recon_error, hoyer_codes (nanmean over test codes), hoyer_atoms (nanmean over atoms),
    svm_accuracy, svm_accuracy_std (NaN when labels is None: not computed), dilation_error,
    dilation_error_recon.
    """
    codes = model.encode(x_test)
    x_hat = model.decode(codes)
    dil_in, dil_recon = _dilation_errors_from_codes(model, codes, x_test, image_shape, x_hat=x_hat)
    if labels is None:
        svm_mean, svm_std = float("nan"), float("nan")
    else:
        svm_mean, svm_std = svm_accuracy(codes, labels, protocol, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # nanmean of all-NaN -> NaN
        hoyer_codes = float(np.nanmean(hoyer_sparseness(codes)))
        hoyer_atoms = float(np.nanmean(hoyer_sparseness(model.atoms)))
    out = {
        "recon_error": reconstruction_error(x_test, x_hat),
        "hoyer_codes": hoyer_codes,
        "hoyer_atoms": hoyer_atoms,
        "svm_accuracy": svm_mean,
        "svm_accuracy_std": svm_std,
        "dilation_error": dil_in,
        "dilation_error_recon": dil_recon,
    }
    assert tuple(out) == METRIC_KEYS
    return out


# --------------------------------------------------------------------------- structure of the atoms

STRUCTURE_KEYS = ("bars_recovery", "pca_angle_max")


def pca_angle_max(atoms: np.ndarray, x_train: np.ndarray) -> float:
    """Largest principal angle (degrees) between the atoms' span and the PCA subspace of the same size.

    A linear AE with MSE spans the PCA subspace (part-based-autoencoders-report Sec. 3.1,
    properties-of-autoencoders): this is ~0 for it, larger for part-based dictionaries.
    NaN when the atoms span the whole pixel space (every subspace then agrees).
    """
    from sklearn.decomposition import PCA

    from partbased.models.pca import principal_angles

    k = np.linalg.matrix_rank(atoms)
    if k >= min(x_train.shape):
        return float("nan")
    components = PCA(n_components=k, svd_solver="full").fit(x_train).components_  # (k, pixels)
    return float(principal_angles(atoms, components).max())


def structure_metrics(model: Model, x_train: np.ndarray, bars_size: int | None) -> dict[str, float]:
    """bars_recovery (bars datasets only, else NaN) and pca_angle_max, keyed as STRUCTURE_KEYS."""
    from partbased.metrics_bars import bars_recovery

    atoms = np.asarray(model.atoms, dtype=np.float64)
    return {
        "bars_recovery": bars_recovery(atoms, bars_size) if bars_size else float("nan"),
        "pca_angle_max": pca_angle_max(atoms, x_train),
    }
