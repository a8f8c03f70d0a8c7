"""NMF multiplicative updates: ours (partbased.models.nmf.NMF, torch) vs scikit-learn NMF(solver="mu").

Same data (n x 784, nonnegative, MNIST-like), same k, the SAME initial factors (ours through
NMF.fit(x, init=(H, W)), scikit-learn through init="custom"), scikit-learn with tol=0 so that it never
stops early. Both losses 0.5·‖X − HW‖² / n are recomputed here in float64 from the final factors: ours
must be <= scikit-learn's up to 1e-3 relative.

Seconds per iteration are the slope between a short and a long fit, (t(long) − t(short)) / (iterations
between), so that what a fit does once (input checks, ‖X‖², the final error) cancels for both sides.
The host's speed swings within seconds, so each repeat times the four fits back to back, the two
libraries taking turns to go first, and the ratio is the median over repeats of (scikit-learn's slope
/ ours). A pause before each fit lets the other
library's idle BLAS threads stop spinning (OpenBLAS spins ~0.1 s after a call) so that neither side
runs against the other's leftovers.

    python benchmarks/bench_nmf.py [--n 20000] [--k 100] [--iters 10 60] [--repeats 7]

Last line: RESULT bench_nmf ratio=<sklearn s/it ÷ ours s/it> target=1 ok=<ratio >= 1 and losses ok>
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import NMF as SkNMF

from partbased.models.nmf import NMF, NMFConfig

PIXELS = 784
PAUSE_S = 0.3


def mnist_like(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, PIXELS), dtype=np.float32)
    x[rng.random((n, PIXELS)) < 0.8] = 0.0
    return x


def loss64(x: np.ndarray, h: np.ndarray, w: np.ndarray) -> float:
    """0.5·‖X − HW‖² / n in float64 (a float32 norm over millions of values is off by ~1e-3)."""
    r = x.astype(np.float64) - h.astype(np.float64) @ w.astype(np.float64)
    return 0.5 * float(np.einsum("ij,ij->", r, r)) / len(x)


def run_ours(x, h0, w0, k, iters):
    model = NMF(NMFConfig(k=k, max_iter=iters, dtype="float32", device="cpu"))
    time.sleep(PAUSE_S)
    start = time.perf_counter()
    model.fit(x, init=(h0, w0))
    sec = time.perf_counter() - start
    return sec, model.H.numpy(), model.W.numpy()


def run_sklearn(x, h0, w0, k, iters):
    # sklearn's names: X ≈ W (n, k) @ H (k, pixels) — its W is our H and its H is our W.
    model = SkNMF(n_components=k, init="custom", solver="mu", beta_loss="frobenius", max_iter=iters, tol=0.0)
    h0, w0 = h0.copy(), w0.copy()  # fit_transform works in place
    time.sleep(PAUSE_S)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        h = model.fit_transform(x, W=h0, H=w0)
    sec = time.perf_counter() - start
    assert model.n_iter_ == iters, model.n_iter_
    return sec, h, model.components_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--iters", type=int, nargs=2, default=[10, 60], metavar=("SHORT", "LONG"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    short, long = args.iters

    x = mnist_like(args.n)
    rng = np.random.default_rng(1)
    scale = np.sqrt(x.mean() / args.k)  # sklearn's random-init scale
    h0 = (rng.random((args.n, args.k)) * scale).astype(np.float32)  # (n, k)
    w0 = (rng.random((args.k, PIXELS)) * scale).astype(np.float32)  # (k, pixels)
    print(f"X {x.shape} float32, k={args.k}, fits of {short} and {long} iterations, torch {torch.get_num_threads()} threads, same init")

    run_ours(x[:2000], h0[:2000], w0, args.k, 5), run_sklearn(x[:2000], h0[:2000], w0, args.k, 5)  # warm-up
    slopes, final = {"ours": [], "sklearn": []}, {}
    for repeat in range(args.repeats):
        order = (("ours", run_ours), ("sklearn", run_sklearn))
        for name, run in order if repeat % 2 == 0 else order[::-1]:  # alternate who goes first: a drift cancels
            t_short = run(x, h0, w0, args.k, short)[0]
            t_long, h, w = run(x, h0, w0, args.k, long)
            slopes[name].append((t_long - t_short) / (long - short))
            final[name] = (h, w)
    ratios = [s / o for s, o in zip(slopes["sklearn"], slopes["ours"])]
    ratio = statistics.median(ratios)
    (h_o, w_o), (h_s, w_s) = final["ours"], final["sklearn"]
    loss_o, loss_s, loss_0 = loss64(x, h_o, w_o), loss64(x, h_s, w_s), loss64(x, h0, w0)
    rel = (loss_o - loss_s) / loss_s
    gflop = (2 * 2 * args.n * PIXELS * args.k + 2 * 2 * (args.n + PIXELS) * args.k**2) / 1e9  # XWᵀ, HᵀX, the two k×k products

    print(f"  sklearn/ours per repeat: {' '.join(f'{r:.2f}' for r in ratios)}")
    for name in slopes:
        sec = statistics.median(slopes[name])
        loss = {"ours": loss_o, "sklearn": loss_s}[name]
        print(f"  {name:8s}{sec * 1e3:7.1f} ms/iteration (median)  ({gflop / sec:5.1f} GFLOP/s)   loss after {long}: {loss:.6f}")
    print(f"  initial loss {loss_0:.6f}; ours - sklearn = {rel:+.2e} relative (must be <= 1e-3)")
    print(f"  max |H_ours - H_sklearn| / max H = {np.abs(h_o - h_s).max() / h_s.max():.2e}")
    ok = ratio >= 1 and rel <= 1e-3
    print(f"RESULT bench_nmf ratio={ratio:.2f} target=1 ok={ok}")


if __name__ == "__main__":
    main()
