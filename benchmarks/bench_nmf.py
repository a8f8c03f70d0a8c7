"""NMF solvers, ours (partbased.models.nmf.NMF, torch) against scikit-learn and against each other, in one
run on the same data and the same initial factors:

1. multiplicative updates: ours `solver="mu"` vs scikit-learn `NMF(solver="mu")`, seconds per iteration;
2. Fast HALS: ours `solver="hals"` vs scikit-learn `NMF(solver="cd")` (the same update, Cichocki & Phan
   2009), seconds per iteration, the final losses equal (the same iterate up to rounding);
3. time to reach the loss that MU reaches after `--mu-reference` (1,000) iterations: ours hals vs ours mu.

Data: the first n MNIST training images in [0, 1] from ../shared/data/mnist when that folder exists
(`--data auto`), else MNIST-like random rows (80 % zeros); k = 100. Ours is given the factors through
NMF.fit(x, init=(H, W)), scikit-learn through init="custom", with tol=0 so that it never stops early.
Losses 0.5·‖X − HW‖²/n are recomputed here in float64 from the final factors.

Seconds per iteration are the slope between a short and a long fit, (t(long) − t(short)) / (iterations
between), so that what a fit does once (input checks, ‖X‖², the final error) cancels for both sides.
The host's speed swings within seconds, so each repeat times the four fits back to back, the two sides
taking turns to go first, and a ratio is the median over repeats of (reference slope / ours). A pause
before each fit lets the other library's idle BLAS threads stop spinning (OpenBLAS spins ~0.1 s after a
call). Part 3's ratio is (mu slope × 1,000) / (hals slope × the iterations hals needs), from the slopes
of parts 1 and 2; the wall times of the two fits themselves are printed beside it.

    python benchmarks/bench_nmf.py [--n 20000] [--k 100] [--repeats 5] [--device cpu] [--parts 1 2 3]
                                   [--threads N] [--clock wall|cpu]

RESULT lines: bench_nmf (sklearn mu ÷ ours mu, target 1), bench_nmf_hals (sklearn cd ÷ ours hals,
target 2), bench_nmf_hals_vs_mu (time to the MU-1000 loss, mu ÷ hals, target 5).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import NMF as SkNMF

from partbased.models.nmf import NMF, NMFConfig

PIXELS = 784
PAUSE_S = 0.3
CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU seconds of this process, all its threads)
MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def mnist_like(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, PIXELS), dtype=np.float32)
    x[rng.random((n, PIXELS)) < 0.8] = 0.0
    return x


def load_data(kind: str, n: int) -> tuple[np.ndarray, str]:
    if kind == "mnist" or (kind == "auto" and MNIST.is_dir()):
        from partbased.data.download import read_idx

        images = read_idx(MNIST / "train-images-idx3-ubyte.gz")[:n]
        return (images.reshape(len(images), -1) / 255).astype(np.float32), f"MNIST training images ({MNIST})"
    return mnist_like(n), "MNIST-like random rows"


def loss64(x: np.ndarray, h: np.ndarray, w: np.ndarray) -> float:
    """0.5·‖X − HW‖² / n in float64 (a float32 norm over millions of values is off by ~1e-3)."""
    r = x.astype(np.float64) - h.astype(np.float64) @ w.astype(np.float64)
    return 0.5 * float(np.einsum("ij,ij->", r, r)) / len(x)


def run_ours(x, h0, w0, k, iters, solver, device):
    model = NMF(NMFConfig(k=k, max_iter=iters, solver=solver, dtype="float32", device=device))
    time.sleep(PAUSE_S)
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    start = CLOCK()
    model.fit(x, init=(h0, w0))
    sync()
    sec = CLOCK() - start
    return sec, model.H.cpu().numpy(), model.W.cpu().numpy(), model.history


def run_sklearn(x, h0, w0, k, iters, solver):
    # sklearn's names: X ≈ W (n, k) @ H (k, pixels) — its W is our H and its H is our W.
    model = SkNMF(n_components=k, init="custom", solver=solver, beta_loss="frobenius", max_iter=iters, tol=0.0)
    h0, w0 = h0.copy(), w0.copy()  # fit_transform works in place
    time.sleep(PAUSE_S)
    start = CLOCK()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        h = model.fit_transform(x, W=h0, H=w0)
    sec = CLOCK() - start
    assert model.n_iter_ == iters, model.n_iter_
    return sec, h, model.components_, None


def paired_slopes(x, h0, w0, args, ours_solver, sk_solver, short, long):
    """Median slopes (s/iteration) and the median ratio sklearn/ours over repeats; the last long fits' factors."""
    sides = {
        "ours": lambda it: run_ours(x, h0, w0, args.k, it, ours_solver, args.device),
        "sklearn": lambda it: run_sklearn(x, h0, w0, args.k, it, sk_solver),
    }
    slopes, final = {"ours": [], "sklearn": []}, {}
    for repeat in range(args.repeats):
        names = list(sides) if repeat % 2 == 0 else list(sides)[::-1]  # alternate who goes first: a drift cancels
        for name in names:
            t_short = sides[name](short)[0]
            t_long, h, w, _ = sides[name](long)
            slopes[name].append((t_long - t_short) / (long - short))
            final[name] = (h, w)
    ratios = [s / o for s, o in zip(slopes["sklearn"], slopes["ours"])]
    return {name: statistics.median(v) for name, v in slopes.items()}, ratios, final


def report(label, x, h0, w0, slopes, ratios, final, long):
    (h_o, w_o), (h_s, w_s) = final["ours"], final["sklearn"]
    loss_o, loss_s, loss_0 = loss64(x, h_o, w_o), loss64(x, h_s, w_s), loss64(x, h0, w0)
    rel = (loss_o - loss_s) / loss_s
    print(f"{label}: sklearn/ours per repeat: {' '.join(f'{r:.2f}' for r in ratios)}")
    for name, loss in (("ours", loss_o), ("sklearn", loss_s)):
        print(f"  {name:8s}{slopes[name] * 1e3:7.1f} ms/iteration (median)   loss after {long}: {loss:.6f}")
    print(f"  initial loss {loss_0:.6f}; ours - sklearn = {rel:+.2e} relative (must be <= 1e-3)")
    return rel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--iters", type=int, nargs=2, default=[10, 60], metavar=("SHORT", "LONG"), help="mu fits")
    parser.add_argument("--hals-iters", type=int, nargs=2, default=[5, 25], metavar=("SHORT", "LONG"), help="hals/cd fits")
    parser.add_argument("--mu-reference", type=int, default=1000, help="MU iterations whose loss hals must reach")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", choices=["auto", "mnist", "random"], default="auto")
    parser.add_argument("--device", default="cpu", help="ours only; scikit-learn always runs on the CPU")
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=0, help="threads of torch and of NumPy's BLAS (0: their defaults)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU seconds, less swayed by other load on the host")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    x, source = load_data(args.data, args.n)
    rng = np.random.default_rng(1)
    scale = np.sqrt(x.mean() / args.k)  # sklearn's random-init scale
    h0 = (rng.random((len(x), args.k)) * scale).astype(np.float32)  # (n, k)
    w0 = (rng.random((args.k, PIXELS)) * scale).astype(np.float32)  # (k, pixels)
    print(f"X {x.shape} float32 from {source}, k={args.k}, ours on {args.device}, torch {torch.get_num_threads()} threads, "
          f"{args.clock} clock, same init everywhere")
    for solver, sk_solver in (("mu", "mu"), ("hals", "cd")):  # warm-up
        run_ours(x[:2000], h0[:2000], w0, args.k, 3, solver, args.device), run_sklearn(x[:2000], h0[:2000], w0, args.k, 3, sk_solver)

    slopes = {}
    if 1 in args.parts or 3 in args.parts:  # 1. multiplicative updates (3 needs MU's slope)
        short, long = args.iters
        slopes["mu"], mu_ratios, final = paired_slopes(x, h0, w0, args, "mu", "mu", short, long)
        mu_rel = report("MU", x, h0, w0, slopes["mu"], mu_ratios, final, long)
        mu_ratio = statistics.median(mu_ratios)
        print(f"RESULT bench_nmf ratio={mu_ratio:.2f} target=1 ok={mu_ratio >= 1 and mu_rel <= 1e-3}")
    if 2 in args.parts or 3 in args.parts:  # 2. Fast HALS vs scikit-learn cd
        short, long = args.hals_iters
        slopes["hals"], hals_ratios, final = paired_slopes(x, h0, w0, args, "hals", "cd", short, long)
        hals_rel = report("HALS vs cd", x, h0, w0, slopes["hals"], hals_ratios, final, long)
        hals_ratio = statistics.median(hals_ratios)
        print(f"RESULT bench_nmf_hals ratio={hals_ratio:.2f} target=2 ok={hals_ratio >= 2 and abs(hals_rel) <= 1e-3}")
    if 3 not in args.parts:
        return
    mu_slopes, hals_slopes = slopes["mu"], slopes["hals"]

    # 3. time to the loss MU reaches after mu_reference iterations
    t_mu, _, _, mu_history = run_ours(x, h0, w0, args.k, args.mu_reference, "mu", args.device)
    target = mu_history[-1]["loss"]
    needed, budget = None, 50
    while needed is None and budget <= args.mu_reference:
        hals_history = run_ours(x, h0, w0, args.k, budget, "hals", args.device)[3]
        needed = next((row["iteration"] for row in hals_history if row["loss"] <= target), None)
        budget *= 2
    if needed is None:
        print(f"HALS did not reach MU's loss after {args.mu_reference} iterations ({target:.6f}) within {args.mu_reference} iterations")
        print("RESULT bench_nmf_hals_vs_mu ratio=0.00 target=5 ok=False")
        return
    t_hals = run_ours(x, h0, w0, args.k, needed, "hals", args.device)[0]
    ratio = (mu_slopes["ours"] * args.mu_reference) / (hals_slopes["ours"] * needed)
    print(f"time to MU's loss after {args.mu_reference} iterations ({target:.6f}): hals needs {needed} iterations")
    print(f"  from the slopes: mu {mu_slopes['ours'] * args.mu_reference:.1f} s, hals {hals_slopes['ours'] * needed:.1f} s")
    print(f"  the two fits' own {args.clock} times: mu {t_mu:.1f} s, hals {t_hals:.1f} s (ratio {t_mu / t_hals:.1f}; minutes apart, load drifts)")
    print(f"RESULT bench_nmf_hals_vs_mu ratio={ratio:.2f} target=5 ok={ratio >= 5}")


if __name__ == "__main__":
    main()
