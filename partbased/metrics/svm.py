"""The linear-SVM-on-codes protocol ([REF] "SVM accuracy on codes") and its two solvers.

[REF] shared/REFERENCE.md, "Evaluation protocol of the part-based autoencoder study": test codes
only; a stratified 80/20 split; C among 30 values in logspace(-2, 3) chosen by GridSearchCV over
StratifiedShuffleSplit(20, test_size=0.08) of the 80 %; mean ± std accuracy over 25
StratifiedShuffleSplit(test_size=0.05) splits of the held-out 20 %. The authors' classifier is
`LinearSVC(dual=False)` (PonchonB/Mathematical_Morphologies_And_Deep_Learning `SourceCode/metrics.py`,
per [REF]).

Both solvers see the same splits (scikit-learn's draws for the same seeds, partbased.metrics.splits) and solve the same
problem: `liblinear` is scikit-learn's LinearSVC through GridSearchCV and cross_val_score (the
reference); `torch` (default) solves every C × split × class of a stage together
(partbased.metrics.svm_torch) and applies GridSearchCV's choice rule to its accuracies.
scikit-learn and torch are imported inside the functions that use them.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from partbased.metrics.splits import shuffle_splits, split_sizes, stratified_train_test_split

log = logging.getLogger("partbased")

SOLVERS = ("torch", "liblinear")


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
    # Iteration cap of each fit: liblinear's Newton iterations (LinearSVC max_iter), and the torch
    # solver's Newton iterations per problem and C (not given in [REF]; ours).
    max_iter: int = 5000
    # liblinear's stopping tolerance (LinearSVC's tol; [REF]'s code leaves the default 1e-4). The torch
    # solver has its own, stricter rule (svm_torch.TOL: each objective provably within 1e-9 relative
    # of the optimum), so that it solves the problem itself, not liblinear's approximation of it.
    tol: float = 1e-4
    # "torch": the batched solver (partbased.metrics.svm_torch); "liblinear": scikit-learn's LinearSVC.
    solver: str = "torch"

    def __post_init__(self):
        if not self.tol > 0:
            raise ValueError(f"SVMProtocol.tol must be > 0, got {self.tol}")
        if self.solver not in SOLVERS:
            raise ValueError(f"SVMProtocol.solver must be one of {list(SOLVERS)}, got {self.solver!r}")

    def Cs(self) -> np.ndarray:
        return np.logspace(self.C_min_exp, self.C_max_exp, self.n_C)


@dataclass
class SVMScore:
    """What one run of the protocol found."""

    accuracy: float  # mean accuracy over the evaluation splits
    accuracy_std: float  # their std (np.std, ddof 0, as the published numbers)
    best_C: float  # the C chosen by the search
    cv_accuracy: np.ndarray = field(repr=False)  # (n_C,) mean accuracy of each C over the search splits
    eval_accuracy: np.ndarray = field(repr=False)  # (eval_splits,) accuracy of each evaluation split
    n_fits: int = 0  # linear SVM fits of the protocol: n_C · cv_splits + eval_splits
    n_unconverged: int = 0  # fits where some one-vs-rest problem hit max_iter before the stopping rule

    @property
    def converged(self) -> float:
        """Fraction of the protocol's fits that converged within max_iter (1.0: all of them)."""
        return 1.0 - self.n_unconverged / self.n_fits


@dataclass
class _Splits:
    x_fit: np.ndarray
    y_fit: np.ndarray
    cv: list[tuple[np.ndarray, np.ndarray]]
    x_held: np.ndarray
    y_held: np.ndarray
    eval: list[tuple[np.ndarray, np.ndarray]]
    seed_svm: int


def _check_split(n: int, test_size: float, n_classes: int, field: str, subset: str) -> None:
    """Raise if a stratified split of n samples with test_size leaves a side with < n_classes samples.

    Sizes are computed as scikit-learn does (splits.split_sizes: n_test = ceil(test_size * n), n_train = n - n_test).
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"SVMProtocol.{field} must be in (0, 1), got {test_size}")
    n_train, n_test = split_sizes(n, test_size)
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


def protocol_splits(codes: np.ndarray, labels: np.ndarray, protocol: SVMProtocol, seed: int) -> _Splits:
    """The protocol's splits, drawn as the published code draws them (the same indices as these
    scikit-learn calls, partbased.metrics.splits); all randomness derives from seed.

    1. train_test_split(stratify, test_size=holdout): fit part and held-out part ([REF] 80/20).
    2. StratifiedShuffleSplit(cv_splits, test_size=cv_test_size) of the fit part (the C search).
    3. StratifiedShuffleSplit(eval_splits, test_size=eval_test_size) of the held-out part (the score).
    Raises ValueError naming the SVMProtocol field to change when a split is too small.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (n, k) with n == len(labels); got {codes.shape} and {labels.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes hold NaN or inf: no SVM accuracy can be computed")
    n_classes = len(np.unique(labels))
    if n_classes < 2:
        raise ValueError(f"svm_accuracy needs at least 2 classes, got {n_classes}")
    if protocol.n_C < 1 or protocol.cv_splits < 1 or protocol.eval_splits < 1:
        raise ValueError("SVMProtocol.n_C, cv_splits and eval_splits must be >= 1")
    _check_class_counts(labels, "holdout", "the codes")
    seed_split, seed_cv, seed_eval, seed_svm = (int(s) for s in np.random.SeedSequence(seed).generate_state(4))
    _check_split(len(labels), protocol.holdout, n_classes, "holdout", "all codes")
    x_fit, x_held, y_fit, y_held = stratified_train_test_split(codes, labels, protocol.holdout, seed_split)
    _check_split(len(y_fit), protocol.cv_test_size, n_classes, "cv_test_size", "fit part")
    _check_split(len(y_held), protocol.eval_test_size, n_classes, "eval_test_size", "held-out part")
    _check_class_counts(y_held, "holdout", "the held-out part")
    _check_class_counts(y_fit, "holdout", "the fit part")
    cv = shuffle_splits(y_fit, protocol.cv_splits, protocol.cv_test_size, seed_cv)
    ev = shuffle_splits(y_held, protocol.eval_splits, protocol.eval_test_size, seed_eval)
    return _Splits(x_fit, y_fit, cv, x_held, y_held, ev, seed_svm)


def best_C_index(cv_accuracy: np.ndarray) -> int:
    """GridSearchCV's choice: rank_test_score = rankdata(-mean, "min"), best_index_ = its argmin,
    i.e. the first C with the highest mean accuracy (sklearn/model_selection/_search.py)."""
    return int(np.argmax(cv_accuracy))


def svm_score(codes: np.ndarray, labels: np.ndarray, protocol: SVMProtocol, seed: int, *, device: str = "auto") -> SVMScore:
    """The protocol on (codes, labels) with protocol.solver; device (torch solver only): "auto" = CUDA when present.

    Codes are used raw (no standardisation), as in the protocol. All randomness derives from seed.
    """
    splits = protocol_splits(codes, labels, protocol, seed)
    n_fits = protocol.n_C * protocol.cv_splits + protocol.eval_splits
    log.info(
        "SVM protocol (%s): %d codes of dimension %d, %d C x %d search splits of %d codes, then %d splits of %d held-out codes",
        protocol.solver, len(labels), splits.x_fit.shape[1], protocol.n_C, protocol.cv_splits, len(splits.y_fit),
        protocol.eval_splits, len(splits.y_held),
    )
    start = time.perf_counter()
    run = _torch if protocol.solver == "torch" else _liblinear
    best_C, cv_accuracy, scores, n_unconverged = run(splits, protocol, device)
    result = SVMScore(float(np.mean(scores)), float(np.std(scores)), best_C, cv_accuracy, scores, n_fits, n_unconverged)
    log.info("SVM protocol done in %.1f s: C = %.4g, accuracy %.4f ± %.4f", time.perf_counter() - start, best_C, result.accuracy, result.accuracy_std)
    if n_unconverged:
        log.warning("SVM protocol: %d of %d fits hit max_iter=%d before converging (svm_converged = %.4f)",
                    n_unconverged, n_fits, protocol.max_iter, result.converged)
    return result


def svm_accuracy(codes: np.ndarray, labels: np.ndarray, protocol: SVMProtocol, seed: int, *, device: str = "auto") -> tuple[float, float]:
    """Mean and std accuracy of a linear SVM on codes, following [REF] "SVM accuracy on codes".

    1. Stratified split of the codes: fit part (1 - holdout), held-out part (holdout).
    2. C among logspace(C_min_exp, C_max_exp, n_C) by GridSearchCV's rule over
       StratifiedShuffleSplit(cv_splits, test_size=cv_test_size) of the fit part.
    3. Accuracy of C=best over StratifiedShuffleSplit(eval_splits, test_size=eval_test_size) of the
       held-out part -> (mean, std).
    Raises ValueError naming the SVMProtocol field to change when a split is too small.
    """
    result = svm_score(codes, labels, protocol, seed, device=device)
    return result.accuracy, result.accuracy_std


def _progress(stage: str, every: float = 5.0):
    """A progress callback for fit_path that logs at most every `every` seconds, and at the end."""
    last = [0.0]

    def report(i: int, n: int, seconds: float) -> None:
        if i == n or seconds - last[0] >= every:
            last[0] = seconds
            eta = seconds / i * (n - i)
            log.info("SVM %s: %d of %d solves (C values x class batches), %.1f s elapsed, ETA %.1f s", stage, i, n, seconds, eta)

    return report


def _torch(splits: _Splits, protocol: SVMProtocol, device: str) -> tuple[float, np.ndarray, np.ndarray, int]:
    from partbased.metrics.svm_torch import fit_path

    Cs = protocol.Cs()
    search = fit_path(splits.x_fit, splits.y_fit, splits.cv, Cs, max_iter=protocol.max_iter, device=device,
                      progress=_progress("C search"))
    cv_accuracy = np.average(search.accuracy, axis=1)  # GridSearchCV's mean_test_score
    best_C = float(Cs[best_C_index(cv_accuracy)])
    score = fit_path(splits.x_held, splits.y_held, splits.eval, [best_C], max_iter=protocol.max_iter, device=device,
                     progress=_progress("score"))
    n_unconverged = int((~search.converged).sum() + (~score.converged).sum())
    return best_C, cv_accuracy, score.accuracy[0], n_unconverged


def _liblinear(splits: _Splits, protocol: SVMProtocol, device: str) -> tuple[float, np.ndarray, np.ndarray, int]:
    """The reference: scikit-learn's LinearSVC(dual=False) through GridSearchCV and cross_val_score.

    dual=False as the authors' code ([REF]); it is also what dual="auto" picks whenever there are more
    codes than dimensions. GridSearchCV's refit is off: the protocol never uses the refitted model.
    Every ConvergenceWarning (one per fit that reached max_iter) is counted, not silenced.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.svm import LinearSVC

    def svc(**kw) -> LinearSVC:
        return LinearSVC(dual=False, tol=protocol.tol, max_iter=protocol.max_iter, random_state=splits.seed_svm, **kw)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category=ConvergenceWarning)
        # 2. C search: GridSearchCV over StratifiedShuffleSplit(20, test_size=0.08) ([REF]).
        search = GridSearchCV(svc(), {"C": protocol.Cs()}, cv=splits.cv, scoring="accuracy", refit=False)
        search.fit(splits.x_fit, splits.y_fit)
        best_C = float(search.best_params_["C"])
        log.info("SVM C search (liblinear) done: C = %.4g", best_C)
        # 3. mean +- std over 25 StratifiedShuffleSplit(test_size=0.05) of the held-out 20 % ([REF]).
        scores = cross_val_score(svc(C=best_C), splits.x_held, splits.y_held, cv=splits.eval, scoring="accuracy")
    n_unconverged = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            n_unconverged += 1
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return best_C, np.asarray(search.cv_results_["mean_test_score"]), np.asarray(scores), n_unconverged
