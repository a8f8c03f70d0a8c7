"""Shallow AE 784-100-784, one epoch: our training path (partbased.models.ae.AE.fit) vs a plain loop.

Two measurements, each a ratio taken inside this one process (absolute times on a shared 2-core
machine mean little; ratios of interleaved repeats do):

1. batch 128: seconds per epoch of a plain PyTorch baseline (DataLoader over a TensorDataset,
   nn.Sequential, default Adam, loss.backward(), optimizer.step(), loss.item() every batch)
   divided by ours (AE.fit, epochs=1).                                   target >= 2
2. batch >= 1024: achieved GFLOP/s of our epoch (3 x forward matmul FLOPs: 2 matmuls of
   2·n·784·100 each, x3 for the backward) divided by the matmul peak measured in the same run
   on the same rank-100 shapes (the products the epoch is made of).     target >= 0.65
   The 4096x4096 square-matmul peak is printed too, for reference.

`--prototype` also times a candidate AE.fit (fused Adam, KL term only when beta > 0, no
per-batch torch.stack) and a hand-written-gradient step (checked against autograd) to show what a
change to partbased/models/ae.py would buy; the batch-128 table always ends with the time of the
epoch's matrix products alone (the floor no implementation can beat);
`--compile` adds torch.compile of that candidate's step (cold compile time printed separately).

    python benchmarks/bench_ae.py [--n 60000] [--repeats 3] [--prototype] [--compile]

Last line: RESULT bench_ae ratio=<batch-128 speed-up> target=2 ok=<bool> (the peak-fraction
check has its own RESULT line just above it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from partbased.models.ae import AE, AEConfig, kl_sparsity

PIXELS, K = 784, 100


def mnist_like(n: int, seed: int = 0) -> np.ndarray:
    """(n, 784) float32 in [0, 1], ~80 % zeros like MNIST digits (content does not change timings)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, PIXELS), dtype=np.float32)
    x[rng.random((n, PIXELS)) < 0.8] = 0.0
    return x


# -- ours -----------------------------------------------------------------------------------------
def ours(x: np.ndarray, batch: int, beta: float, project: bool) -> float:
    cfg = AEConfig(k=K, epochs=1, batch_size=batch, lr=1e-3, beta=beta, project=project, decoder_activation="sigmoid", device="cpu")
    model = AE(cfg)
    start = time.perf_counter()
    model.fit(x)
    return time.perf_counter() - start


# -- the plain baseline ---------------------------------------------------------------------------
def baseline(x: np.ndarray, batch: int) -> float:
    torch.manual_seed(0)
    start = time.perf_counter()
    net = nn.Sequential(nn.Linear(PIXELS, K), nn.Sigmoid(), nn.Linear(K, PIXELS), nn.Sigmoid())
    loader = DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=batch, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    total = 0.0
    for (xb,) in loader:
        optimizer.zero_grad()
        loss = loss_fn(net(xb), xb)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return time.perf_counter() - start


# -- prototype of the proposed AE.fit change --------------------------------------------------------
def prototype(x: np.ndarray, batch: int, beta: float, project: bool, compile_step: bool = False) -> float:
    """AE.fit's epoch as proposed: Adam(fused=True), the KL term only when beta > 0, per-epoch loss
    sums kept with in-place adds (no torch.stack per batch), one host sync per epoch. Same math."""
    from partbased.models.ae import ShallowAE

    p = 0.05
    start = time.perf_counter()
    torch.manual_seed(0)
    data = torch.as_tensor(x)
    n = data.shape[0]
    net = ShallowAE(PIXELS, K, "sigmoid")
    if project:
        with torch.no_grad():
            net.decoder.weight.abs_()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)

    def step(xb):
        h = net.encode(xb)
        recon = torch.mean((net.decode(h) - xb) ** 2)
        if beta > 0:
            sparsity = kl_sparsity(p, h.mean(dim=0))
            loss = recon + beta * sparsity
        else:
            sparsity = recon.new_zeros(())
            loss = recon
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return loss.detach(), recon.detach(), sparsity.detach()

    if compile_step:
        step = torch.compile(step)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(n, generator=generator)
    sums = torch.zeros(3, dtype=torch.float64)
    for s in range(0, n, batch):
        loss, recon, sparsity = step(data[order[s : s + batch]])
        optimizer.step()
        if project:
            with torch.no_grad():
                net.decoder.weight.clamp_(min=0)
        sums[0] += loss
        sums[1] += recon
        sums[2] += sparsity
    sums.tolist()  # the one sync per epoch
    return time.perf_counter() - start


def prototype_manual(x: np.ndarray, batch: int, beta: float, project: bool, p: float = 0.05, check: bool = False):
    """The same epoch with hand-written gradients (no autograd graph; sigmoid encoder and decoder,
    MSE + beta * KL on the batch-mean code, W_d >= 0 projection) and Adam(fused=True): the leanest
    step possible in eager PyTorch. check=True returns the parameters instead of the time."""
    from partbased.models.ae import ShallowAE

    start = time.perf_counter()
    torch.manual_seed(0)
    data = torch.as_tensor(x)
    n = data.shape[0]
    net = ShallowAE(PIXELS, K, "sigmoid")
    if project:
        with torch.no_grad():
            net.decoder.weight.abs_()
    we, be, wd, bd = net.encoder.weight, net.encoder.bias, net.decoder.weight, net.decoder.bias  # (k,784) (k) (784,k) (784)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(n, generator=generator)
    sums = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for s in range(0, n, batch):
            xb = data[order[s : s + batch]]
            m = xb.shape[0]
            h = torch.sigmoid(torch.addmm(be, xb, we.T))  # (m, k)
            xr = torch.sigmoid(torch.addmm(bd, h, wd.T))  # (m, 784)
            diff = xr - xb
            sums[0] += diff.pow(2).mean()
            d2 = diff.mul_(xr * (1 - xr)).mul_(2.0 / diff.numel())  # dL/d(pre-activation of the decoder)
            wd.grad = d2.T @ h  # (784, k)
            bd.grad = d2.sum(0)
            dh = d2 @ wd  # (m, k)
            if beta > 0:
                p_hat = h.mean(0).clamp_(1e-6, 1 - 1e-6)
                dh += (beta / m) * (-p / p_hat + (1 - p) / (1 - p_hat))
            dz1 = dh.mul_(h * (1 - h))
            we.grad = dz1.T @ xb  # (k, 784)
            be.grad = dz1.sum(0)
            optimizer.step()
            if project:
                wd.clamp_(min=0)
    sums.tolist()
    if check:
        return [t.detach().clone() for t in (we, be, wd, bd)]
    return time.perf_counter() - start


def autograd_params(x: np.ndarray, batch: int, beta: float, project: bool):
    """prototype()'s parameters after one epoch (same init/order as prototype_manual), for the check."""
    from partbased.models.ae import ShallowAE

    torch.manual_seed(0)
    data = torch.as_tensor(x)
    net = ShallowAE(PIXELS, K, "sigmoid")
    if project:
        with torch.no_grad():
            net.decoder.weight.abs_()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    order = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(0))
    for s in range(0, data.shape[0], batch):
        xb = data[order[s : s + batch]]
        h = net.encode(xb)
        loss = torch.mean((net.decode(h) - xb) ** 2) + (beta * kl_sparsity(0.05, h.mean(dim=0)) if beta > 0 else 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if project:
            with torch.no_grad():
                net.decoder.weight.clamp_(min=0)
    return [net.encoder.weight.detach(), net.encoder.bias.detach(), net.decoder.weight.detach(), net.decoder.bias.detach()]


# -- matmul peaks -------------------------------------------------------------------------------------
def square_peak(size: int = 4096, repeats: int = 3) -> float:
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def rank100_peak(n: int, batch: int, repeats: int = 3) -> float:
    """GFLOP/s of exactly the 6 products of one training epoch (forward, input grads, weight grads)
    at this batch size, on preallocated tensors: the roofline of the epoch on this machine."""
    xb, h = torch.rand(batch, PIXELS), torch.rand(batch, K)
    we, wd = torch.rand(PIXELS, K), torch.rand(K, PIXELS)
    out_h, out_x = torch.empty(batch, K), torch.empty(batch, PIXELS)
    g_we, g_wd = torch.empty(PIXELS, K), torch.empty(K, PIXELS)
    steps = n // batch

    def epoch():
        for _ in range(steps):
            torch.mm(xb, we, out=out_h)  # forward encoder
            torch.mm(h, wd, out=out_x)  # forward decoder
            torch.mm(out_x, wd.T, out=out_h)  # grad wrt h
            torch.mm(h.T, out_x, out=g_wd)  # grad wrt W_d
            torch.mm(xb.T, out_h, out=g_we)  # grad wrt W_e
            torch.mm(out_h, we.T, out=out_x)  # grad wrt x (autograd skips it; same FLOPs as the 6th product)

    epoch()
    best = min(_timed(epoch) for _ in range(repeats))
    return epoch_flops(steps * batch) / best / 1e9


def matmul_floor(n: int, batch: int, repeats: int) -> float:
    """Seconds of an epoch's matrix products alone at this batch size: the 5 that autograd runs
    (2 forward, grad of the code, grads of both weights; none for the input)."""
    xb, h = torch.rand(batch, PIXELS), torch.rand(batch, K)
    we, wd = torch.rand(PIXELS, K), torch.rand(K, PIXELS)
    out_h, out_x, g_we, g_wd = torch.empty(batch, K), torch.empty(batch, PIXELS), torch.empty(PIXELS, K), torch.empty(K, PIXELS)
    steps = -(-n // batch)

    def epoch():
        for _ in range(steps):
            torch.mm(xb, we, out=out_h)
            torch.mm(h, wd, out=out_x)
            torch.mm(out_x, wd.T, out=out_h)
            torch.mm(h.T, out_x, out=g_wd)
            torch.mm(xb.T, out_h, out=g_we)

    epoch()
    return min(_timed(epoch) for _ in range(repeats))


def epoch_flops(n: int) -> float:
    return 3 * (2 * 2 * n * PIXELS * K)  # two forward matmuls of 2·n·784·100 FLOPs, x3 with backward


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(candidates: dict, repeats: int) -> dict[str, float]:
    """Fastest seconds of each candidate over `repeats` round-robin runs: other load on a shared
    machine only ever adds time, so the minimum is the least disturbed estimate of each."""
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            times[name].append(fn())
    return {name: min(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60000, help="training samples (same for every side)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default; train_model runs with 1)")
    parser.add_argument("--batch", type=int, default=128, help="batch size of the speed-up check")
    parser.add_argument("--big-batch", type=int, default=1024, help="batch size (>= 1024) of the peak-fraction check")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--prototype", action="store_true", help="also time the proposed AE.fit change")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the prototype step")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    x = mnist_like(args.n)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}, AE {PIXELS}-{K}-{PIXELS}, float32, CPU")
    # warm-up: allocator, MKL, autograd, DataLoader code paths
    ours(x[:4096], args.batch, 0.1, True), baseline(x[:4096], args.batch), prototype(x[:4096], args.batch, 0.1, True)

    # 1. speed-up over the plain loop at batch 128
    b = args.batch
    cands = {
        "baseline (DataLoader, Adam, .item())": lambda: baseline(x, b),
        "ours beta=0.1 project": lambda: ours(x, b, 0.1, True),
        "ours beta=0 no-project": lambda: ours(x, b, 0.0, False),
    }
    if args.prototype:
        cands["prototype beta=0.1 project"] = lambda: prototype(x, b, 0.1, True)
        cands["prototype beta=0 no-project"] = lambda: prototype(x, b, 0.0, False)
        cands["manual-grad beta=0.1 project"] = lambda: prototype_manual(x, b, 0.1, True)
        ref, man = autograd_params(x[:2048], 128, 0.1, True), prototype_manual(x[:2048], 128, 0.1, True, check=True)
        err = max(float((a - m).abs().max() / a.abs().max()) for a, m in zip(ref, man))
        print(f"manual gradients vs autograd, 16 steps: max relative parameter difference {err:.1e}")
    t = interleaved(cands, args.repeats)
    floor = matmul_floor(args.n, b, args.repeats)
    base = t["baseline (DataLoader, Adam, .item())"]
    print(f"\n== one epoch at batch {b} (fastest of {args.repeats}, interleaved) ==")
    for name, sec in t.items():
        print(f"  {name:40s} {sec:7.3f} s   baseline/this = {base / sec:5.2f}x")
    print(f"  {'floor: the 5 matmuls of autograd only':40s} {floor:7.3f} s   baseline/this = {base / floor:5.2f}x  (the most any step could gain)")
    speedup = base / t["ours beta=0.1 project"]

    # 2. fraction of the matmul peak at a big batch
    bb = max(args.big_batch, 1024)
    cands = {"ours beta=0.1 project": lambda: ours(x, bb, 0.1, True), "ours beta=0 no-project": lambda: ours(x, bb, 0.0, False)}
    if args.prototype:
        cands["prototype beta=0.1 project"] = lambda: prototype(x, bb, 0.1, True)
        cands["manual-grad beta=0.1 project"] = lambda: prototype_manual(x, bb, 0.1, True)
    t = interleaved(cands, args.repeats)
    peak100 = rank100_peak(args.n, bb, args.repeats)
    peak_sq = square_peak()
    flops = epoch_flops(args.n)
    print(f"\n== one epoch at batch {bb}: {flops / 1e9:.1f} GFLOP (3x forward matmuls) ==")
    print(f"  matmul peak, the epoch's rank-100 products: {peak100:6.1f} GFLOP/s")
    print(f"  matmul peak, 4096x4096 torch.mm:           {peak_sq:6.1f} GFLOP/s")
    for name, sec in t.items():
        g = flops / sec / 1e9
        print(f"  {name:40s} {sec:7.3f} s  {g:6.1f} GFLOP/s = {g / peak100:4.2f} of rank-100 peak, {g / peak_sq:4.2f} of square peak")
    if args.compile:
        prototype(x[: bb * 4], bb, 0.1, True, compile_step=True)  # cold compile, not timed below
        cold = _timed(lambda: prototype(x[: bb * 4], bb, 0.1, True, compile_step=True))
        sec = min(prototype(x, bb, 0.1, True, compile_step=True) for _ in range(args.repeats))
        g = flops / sec / 1e9
        print(f"  {'prototype + torch.compile':40s} {sec:7.3f} s  {g:6.1f} GFLOP/s = {g / peak100:4.2f} of rank-100 peak (re-trace {cold:.1f} s)")
    fraction = flops / t["ours beta=0.1 project"] / 1e9 / peak100

    print(f"RESULT bench_ae_peak ratio={fraction:.2f} target=0.65 ok={fraction >= 0.65}")
    print(f"RESULT bench_ae ratio={speedup:.2f} target=2 ok={speedup >= 2}")


if __name__ == "__main__":
    main()
