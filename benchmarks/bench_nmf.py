"""NMF multiplicative updates: ours (partbased.models.nmf.NMF, torch) vs scikit-learn NMF(solver="mu").

Same data (n x 784, nonnegative, MNIST-like), same k, the SAME initial factors, the same number of
iterations (scikit-learn with tol=0 so it never stops early, init="custom"). Prints seconds per
iteration of both, their ratio sklearn/ours (target >= 1: ours no slower per iteration) and both
final losses 0.5·‖X − HW‖² / n recomputed here in float64 from the final factors (ours must be
<= scikit-learn's up to 1e-3 relative).

partbased's NMF.fit draws its own seeded uniform init and has no way to take one. The benchmark
injects it by subclassing (`InjectedNMF` below: `_rand` returns the given factors, `_update_h`
remembers the last H), i.e. the minimal API to add is
    NMF.fit(x, init=None)  # init: (H0 (n, k), W0 (k, pixels)) nonnegative arrays, else the seeded init
(and keeping the fitted H, e.g. as `self.H_train`, so the training loss can be checked outside).

    python benchmarks/bench_nmf.py [--n 20000] [--k 100] [--iters 50] [--repeats 4]

Last line: RESULT bench_nmf ratio=<sklearn s/it ÷ ours s/it> target=1 ok=<ratio >= 1 and losses ok>
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import NMF as SkNMF

from partbased.models.nmf import NMF, NMFConfig

PIXELS = 784


class InjectedNMF(NMF):
    """partbased's NMF with given initial factors; the update code is the project's, unchanged."""

    def __init__(self, config: NMFConfig, h0: np.ndarray, w0: np.ndarray):
        super().__init__(config)
        self._init = {0: w0, 1: h0}  # offsets NMF.fit uses: 0 -> W (k, pixels), 1 -> H (n, k)
        self.H = None

    def _rand(self, shape, scale, offset):
        init = self._init[offset]
        assert init.shape == tuple(shape), (init.shape, shape)
        return torch.as_tensor(init).to(self.device, self.dtype).clone()

    def _update_h(self, x, h, w):
        self.H = super()._update_h(x, h, w)
        return self.H


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
    model = InjectedNMF(NMFConfig(k=k, max_iter=iters, dtype="float32", device="cpu"), h0, w0)
    start = time.perf_counter()
    model.fit(x)
    sec = time.perf_counter() - start
    return sec, model.H.numpy(), model.W.numpy()


def run_sklearn(x, h0, w0, k, iters):
    # sklearn's names: X ≈ W (n, k) @ H (k, pixels) — its W is our H and its H is our W.
    model = SkNMF(n_components=k, init="custom", solver="mu", beta_loss="frobenius", max_iter=iters, tol=0.0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        h = model.fit_transform(x, W=h0.copy(), H=w0.copy())
    sec = time.perf_counter() - start
    assert model.n_iter_ == iters, model.n_iter_
    return sec, h, model.components_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()

    x = mnist_like(args.n)
    rng = np.random.default_rng(1)
    scale = np.sqrt(x.mean() / args.k)  # sklearn's random-init scale
    h0 = (rng.random((args.n, args.k)) * scale).astype(np.float32)  # (n, k)
    w0 = (rng.random((args.k, PIXELS)) * scale).astype(np.float32)  # (k, pixels)
    print(f"X {x.shape} float32, k={args.k}, {args.iters} iterations, torch {torch.get_num_threads()} threads, same init")

    run_ours(x[:2000], h0[:2000], w0, args.k, 5), run_sklearn(x[:2000], h0[:2000], w0, args.k, 5)  # warm-up
    times = {"ours": [], "sklearn": []}
    for _ in range(args.repeats):  # alternate so background load hits both alike
        sec, h_o, w_o = run_ours(x, h0, w0, args.k, args.iters)
        times["ours"].append(sec)
        sec, h_s, w_s = run_sklearn(x, h0, w0, args.k, args.iters)
        times["sklearn"].append(sec)
    # fastest run of each: load from other processes only ever adds time
    per_it = {name: min(ts) / args.iters for name, ts in times.items()}
    loss_o, loss_s, loss_0 = loss64(x, h_o, w_o), loss64(x, h_s, w_s), loss64(x, h0, w0)
    ratio = per_it["sklearn"] / per_it["ours"]
    rel = (loss_o - loss_s) / loss_s
    gflop = (2 * 2 * args.n * PIXELS * args.k + 2 * 2 * (args.n + PIXELS) * args.k**2) / 1e9  # XWᵀ, HᵀX, the two k×k products

    print(f"  ours    {per_it['ours'] * 1e3:7.1f} ms/iteration  ({gflop / per_it['ours']:5.1f} GFLOP/s)   final loss {loss_o:.6f}")
    print(f"  sklearn {per_it['sklearn'] * 1e3:7.1f} ms/iteration  ({gflop / per_it['sklearn']:5.1f} GFLOP/s)   final loss {loss_s:.6f}")
    print(f"  initial loss {loss_0:.6f}; ours - sklearn = {rel:+.2e} relative (must be <= 1e-3)")
    print(f"  max |H_ours - H_sklearn| / max H = {np.abs(h_o - h_s).max() / h_s.max():.2e}")
    ok = ratio >= 1 and rel <= 1e-3
    print(f"RESULT bench_nmf ratio={ratio:.2f} target=1 ok={ok}")


if __name__ == "__main__":
    main()
