"""Shallow sparse, optionally nonnegative autoencoder (seed: part-based-autoencoders-report Sec. 3).

h = σ_e(x W_e + b_e); x̂ = σ_d(h W_d + b_d) (Sec. 3.1). Atoms are the rows of W_d (k, pixels).

Loss (Sec. 3.2–3.3): recon + β Σ_j S(p, t_j) + weight_decay Σ w² + nonneg_lambda Σ f(w), with t_j the
mean activation of code unit j over the (mini)batch, S one of the Sec. 3.2 penalties and f an
asymmetric decay of Sec. 3.3; or, instead of the decay, a projection W ≥ 0 after every step.

Non-negativity is one option, `nonneg` (default "none": the default AE constrains nothing): "project" clamps
W_d ≥ 0 after every step, "asym_*" add an asymmetric decay. The boolean `project` it replaced is gone, so no two
spellings configure the same model.

The default AEConfig is a plain AE: sigmoid encoder and decoder, β = 0 (no sparsity term), no weight decay,
no nonnegativity, Adam. Cross-field rules (partbased.constraints.ae_problems, shared with the config check):
p ∈ (0, 1) for penalty "kl"; "kl" with β > 0 needs a sigmoid encoder.

Training computes L_AE and its gradients in one hand-derived pass (`AE._loss_and_grads`: two forward
and three backward matrix products, elementwise work in place, no autograd graph) and steps with
torch's fused Adam kernel; tests check the gradients against autograd for every option. On a 2-core
CPU at batch 128 this is about 2x a plain autograd + optimizer loop (benchmarks/bench_ae.py).

NCAE preset (shared/REFERENCE.md "NCAE", nonnegative-autoencoders-blog): encoder/decoder sigmoid,
penalty="kl", p=0.05, beta=3, nonneg="asym_l2", alpha=0, nonneg_lambda=1.5e-3 (their (λ/2)·Σ w² with
λ = 3e-3), nonneg_encoder=True, init="nonneg_uniform", optimizer="lbfgs", epochs=400,
loss_scale="ncae".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..constraints import ae_problems
from .base import Model, resolve_device, seed_everything
from .optim import FusedAdam
from .resume import Resume

ACTIVATIONS = {"sigmoid": torch.sigmoid, "linear": lambda z: z, "relu": torch.relu}
PENALTIES = ("kl", "l2", "eps_l1", "log", "none")
NONNEG = ("none", "project", "asym_l2", "asym_l1", "asym_smooth")
INITS = ("default", "nonneg_uniform")
OPTIMIZERS = ("adam", "adadelta", "lbfgs")
LOSS_SCALES = ("mean", "ncae")
Optimizer = FusedAdam | torch.optim.Optimizer  # what _restore/_checkpoint save and load: both have state_dict()
_INFER_BATCH = 8192  # rows per encode/decode chunk: bounds device memory on large inputs


@dataclass
class AEConfig:
    k: int = 16  # code units = atoms
    seed: int = 0  # seeds the weight init and the minibatch order
    p: float = 0.05  # target mean activation of each code unit (Sec. 3.2); in (0, 1) for "kl", any number otherwise
    beta: float = 0.0  # weight of the sparsity penalty; 0 = plain AE (Sec. 3.2)
    decoder_activation: str = "sigmoid"  # σ_d: "sigmoid" | "linear" | "relu" (Sec. 3.1)
    epochs: int = 20  # passes over the training set; with optimizer="lbfgs": L-BFGS iterations
    batch_size: int = 64  # minibatch size (Adam/Adadelta; L-BFGS is full batch)
    lr: float = 1e-3  # Adam/Adadelta learning rate (Adadelta's usual 1.0; L-BFGS ignores it: strong-Wolfe line search)
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string
    penalty: str = "kl"  # S(p, t_j), Sec. 3.2, weighted by beta: "kl" | "l2" (p−t)² | "eps_l1" √((p−t)²+ε) | "log" log(1+(p−t)²) | "none"
    eps: float = 1e-8  # ε of the εL1 penalty (Sec. 3.2)
    weight_decay: float = 0.0  # λ of λ·Σ w² over W_e and W_d, biases excluded (properties-of-autoencoders App. A ψ, no ½)
    nonneg: str = "none"  # "none" | "project" (clamp W ≥ 0 after every step) | "asym_l2" | "asym_l1" | "asym_smooth" (Sec. 3.3)
    alpha: float = 0.0  # asymmetric decay: f(w) = α·g(w) for w ≥ 0, g(w) for w < 0 (Sec. 3.3); α = 1: plain decay
    nonneg_lambda: float = 0.0  # λ of the asymmetric decay term λ Σ f(w) (Sec. 3.3)
    nonneg_encoder: bool = False  # also decay/project W_e, as NCAE does (REFERENCE "NCAE")
    encoder_activation: str = "sigmoid"  # σ_e: "sigmoid" | "linear" | "relu" (Sec. 3.1; "kl" with beta > 0 needs "sigmoid")
    init: str = "default"  # "default" (torch) | "nonneg_uniform": weights U[0, r], r = √6/√(hidden+visible+1), biases 0 (NCAE)
    optimizer: str = "adam"  # "adam" | "adadelta" (minibatches; the AE study) | "lbfgs" (full batch, one iteration per epoch; NCAE)
    loss_scale: str = "mean"  # "mean": recon = MSE over pixels and batch | "ncae": 0.5·Σ(y−ŷ)²/m (REFERENCE "NCAE")

    def __post_init__(self):
        if self.decoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: decoder_activation must be one of {sorted(ACTIVATIONS)}, got {self.decoder_activation!r}")
        if self.encoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: encoder_activation must be one of {sorted(ACTIVATIONS)}, got {self.encoder_activation!r}")
        for field, allowed in (("penalty", PENALTIES), ("init", INITS), ("optimizer", OPTIMIZERS), ("loss_scale", LOSS_SCALES)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"ae: {field} must be one of {list(allowed)}, got {getattr(self, field)!r}")
        if self.nonneg not in NONNEG:
            raise ValueError(f"ae: nonneg must be one of {list(NONNEG)}, got {self.nonneg!r}")
        problems = ae_problems(vars(self))
        if problems:
            raise ValueError("ae: " + "; ".join(f"{key}: {message}" for key, message in problems))
        if self.k < 1 or self.epochs < 0 or self.batch_size < 1 or self.beta < 0:
            raise ValueError(f"ae: need k >= 1, epochs >= 0, batch_size >= 1, beta >= 0; got {self}")
        if self.eps <= 0 or self.weight_decay < 0 or self.alpha < 0 or self.nonneg_lambda < 0:
            raise ValueError(f"ae: need eps > 0, weight_decay >= 0, alpha >= 0, nonneg_lambda >= 0; got {self}")


# --------------------------------------------------------------------------- penalties (pure)


_KL_CLAMP = (1e-6, 1 - 1e-6)  # keeps both logs of S_KL finite when a unit is always off/on


def kl_sparsity(p: float, p_hat: torch.Tensor) -> torch.Tensor:
    """Σ_j KL(p ‖ p̂_j) between Bernoulli means (Sec. 3.2, S_KL) over the last dim of p_hat (..., k)."""
    p_hat = p_hat.clamp(*_KL_CLAMP)
    return (p * torch.log(p / p_hat) + (1 - p) * torch.log((1 - p) / (1 - p_hat))).sum(-1)


def sparsity_penalty(name: str, p: float, t: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Σ_j S(p, t_j) for the mean activations t (..., k) (Sec. 3.2), summed over the last dim."""
    if name == "kl":
        return kl_sparsity(p, t)  # S_KL = p log(p/t) + (1−p) log((1−p)/(1−t)), Sec. 3.2
    d2 = (p - t) ** 2  # (..., k)
    if name == "l2":
        return d2.sum(-1)  # S_L2 = (p − t)², Sec. 3.2 (Lee, Ekanadham & Ng)
    if name == "eps_l1":
        return torch.sqrt(d2 + eps).sum(-1)  # S_εL1 = √((p − t)² + ε), Sec. 3.2
    if name == "log":
        return torch.log1p(d2).sum(-1)  # S_log = log(1 + (p − t)²), Sec. 3.2
    if name == "none":
        return t.sum(-1) * 0.0  # keeps dtype, device and the graph
    raise ValueError(f"sparsity_penalty: unknown penalty {name!r}; known: {list(PENALTIES)}")


def sparsity_penalty_grad(name: str, p: float, t: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """dS(p, t_j)/dt_j for the mean activations t (k,): the derivative of `sparsity_penalty`, elementwise."""
    if name == "kl":
        tc = t.clamp(*_KL_CLAMP)
        # −p/t + (1−p)/(1−t) = (t − p)/(t − t²); 0 where the clamp binds
        return (tc - p).div_(torch.addcmul(tc, tc, tc, value=-1)).masked_fill_(t != tc, 0.0)
    d = t - p  # (k,)
    if name == "l2":
        return 2 * d  # d/dt (p − t)²
    if name == "eps_l1":
        return d / torch.sqrt(d * d + eps)  # d/dt √((p − t)² + ε)
    if name == "log":
        return 2 * d / (1 + d * d)  # d/dt log(1 + (p − t)²)
    if name == "none":
        return torch.zeros_like(t)
    raise ValueError(f"sparsity_penalty_grad: unknown penalty {name!r}; known: {list(PENALTIES)}")


def asymmetric_decay(name: str, w: torch.Tensor, alpha: float) -> torch.Tensor:
    """Σ f(w) with f = α·g(w) for w ≥ 0 and g(w) for w < 0 (Sec. 3.3); a 0-d tensor.

    g(w) = w² ("asym_l2", Sec. 3.3 / NCAE), |w| ("asym_l1"), |w| + w² ("asym_smooth"); "none" and
    "project" give 0 (projection is a step, not a penalty).
    """
    if name == "asym_l2":
        g = w * w
    elif name == "asym_l1":
        g = w.abs()
    elif name == "asym_smooth":
        g = w.abs() + w * w
    elif name in ("none", "project"):
        return w.sum() * 0.0
    else:
        raise ValueError(f"asymmetric_decay: unknown decay {name!r}; known: {list(NONNEG)}")
    return torch.where(w >= 0, alpha * g, g).sum()  # Sec. 3.3: α·g on positive, g on negative weights


def asymmetric_decay_grad(name: str, w: torch.Tensor, alpha: float) -> torch.Tensor:
    """d/dw of `asymmetric_decay`, elementwise (|w| takes the subgradient 0 at w = 0, as autograd does)."""
    if name == "asym_l2":
        dg = 2 * w
    elif name == "asym_l1":
        dg = torch.sign(w)
    elif name == "asym_smooth":
        dg = torch.sign(w) + 2 * w
    elif name in ("none", "project"):
        return torch.zeros_like(w)
    else:
        raise ValueError(f"asymmetric_decay_grad: unknown decay {name!r}; known: {list(NONNEG)}")
    return torch.where(w >= 0, alpha * dg, dg)  # Sec. 3.3


def _activate_(name: str, z: torch.Tensor) -> torch.Tensor:
    """σ(z) written over z (the pre-activation is not needed again)."""
    if name == "sigmoid":
        return z.sigmoid_()
    if name == "relu":
        return z.relu_()
    return z  # linear


def _activation_backward_(name: str, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """grad ⊙ σ'(z) written over grad, with σ' taken from the output out = σ(z)."""
    if name == "sigmoid":
        return torch.ops.aten.sigmoid_backward.grad_input(grad, out, grad_input=grad)  # grad·out·(1 − out)
    if name == "relu":
        return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad)  # grad·[out > 0]
    return grad  # linear


# --------------------------------------------------------------------------- network


class ShallowAE(nn.Module):
    def __init__(self, pixels: int, k: int, decoder_activation: str, encoder_activation: str = "sigmoid"):
        super().__init__()
        self.encoder = nn.Linear(pixels, k)  # W_e, b_e
        self.decoder = nn.Linear(k, pixels)  # W_d stored (pixels, k) by torch; atoms = its transpose
        self.sigma_e = ACTIVATIONS[encoder_activation]
        self.sigma_d = ACTIVATIONS[decoder_activation]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.sigma_e(self.encoder(x))  # (batch, k): H = σ_e(X W_e + b_e), Sec. 3.1

    def decode(self, h: torch.Tensor, atoms: torch.Tensor | None = None) -> torch.Tensor:
        w = self.decoder.weight.T if atoms is None else atoms  # (k, pixels)
        return self.sigma_d(h @ w + self.decoder.bias)  # (batch, pixels): X̂ = σ_d(H W_d + b_d), Sec. 3.1


class AE(Model):
    """history per epoch: {"epoch", "loss", "recon", "sparsity" (Σ_j S, unweighted), "decay" (weighted)}.

    Adam: batch means over the epoch. L-BFGS: one full-batch iteration per epoch, values at its start.
    """

    name = "ae"
    config_class = AEConfig
    supports_resume = True

    def __init__(self, config: AEConfig | None = None):
        super().__init__(config or AEConfig())
        self.device = resolve_device(self.config.device)
        self.net: ShallowAE | None = None
        self._work: dict[int, dict[str, torch.Tensor]] = {}  # step arrays by batch size, see _workspace

    def _build(self, pixels: int) -> None:
        cfg = self.config
        self._work = {}
        self.net = ShallowAE(pixels, cfg.k, cfg.decoder_activation, cfg.encoder_activation).to(self.device)

    def _weights(self, constrained: bool) -> list[torch.Tensor]:
        """W_d, plus W_e when nonneg_encoder (constrained=True); both layers' weights otherwise."""
        if constrained and not self.config.nonneg_encoder:
            return [self.net.decoder.weight]
        return [self.net.encoder.weight, self.net.decoder.weight]

    def _init_weights(self) -> None:
        cfg = self.config
        with torch.no_grad():
            if cfg.init == "nonneg_uniform":
                hidden, visible = cfg.k, self.net.encoder.in_features
                r = np.sqrt(6) / np.sqrt(hidden + visible + 1)  # NCAE: U[0, r], r = √6/√(hidden+visible+1)
                for layer in (self.net.encoder, self.net.decoder):
                    layer.weight.uniform_(0.0, float(r))
                    layer.bias.zero_()  # NCAE: biases 0
            if cfg.nonneg == "project":  # start feasible: |W| of the init, not half of it clamped to 0
                for w in self._weights(constrained=True):
                    w.abs_()

    def _project(self) -> None:
        if self.config.nonneg == "project":
            with torch.no_grad():
                for w in self._weights(constrained=True):
                    w.clamp_(min=0)  # projection onto W ≥ 0, Sec. 3.3

    def _workspace(self, m: int) -> dict[str, torch.Tensor]:
        """The arrays of a step on m rows, allocated once and reused: a fresh multi-MB tensor every step
        costs more in page faults than the elementwise work it holds."""
        if m not in self._work:
            k, pixels, dtype = self.config.k, self.net.encoder.in_features, self.net.encoder.weight.dtype
            shapes = {"h": (m, k), "x_hat": (m, pixels), "err": (m, pixels), "grad_h": (m, k)}
            self._work[m] = {name: torch.empty(shape, dtype=dtype, device=self.device) for name, shape in shapes.items()}
            self._work[m]["ones"] = torch.ones(m, dtype=dtype, device=self.device)  # sums over rows as GEMVs
        return self._work[m]

    @torch.no_grad()
    def _loss_and_grads(self, x: torch.Tensor, record: torch.Tensor) -> None:
        """Gradients of L_AE on one batch x (m, pixels), derived by hand (Sec. 3.1–3.3), into each parameter's .grad.

        L = recon + β Σ_j S(p, t_j) + decay. The loss itself is not formed here: record, a zeroed (k + 2,) row,
        gets what it is made of (Σ err², the weighted decay, the mean activations t), and _loss_terms turns
        rows of those into the terms, a whole epoch at once. The tests check both against autograd.
        """
        cfg = self.config
        enc, dec = self.net.encoder, self.net.decoder
        m = x.shape[0]
        work = self._workspace(m)
        h = _activate_(cfg.encoder_activation, torch.addmm(enc.bias, x, enc.weight.T, out=work["h"]))  # (m, k): σ_e(X W_e + b_e), Sec. 3.1
        x_hat = _activate_(cfg.decoder_activation, torch.addmm(dec.bias, h, dec.weight.T, out=work["x_hat"]))  # (m, pixels): σ_d(H W_d + b_d)
        err = torch.sub(x_hat, x, out=work["err"])  # (m, pixels)
        torch.dot(err.view(-1), err.view(-1), out=record[0])  # recon = c·Σ err²
        g = 2 * self._recon_scale(m, x.shape[1])  # ∂recon/∂x̂ = 2c·err
        delta = _activation_backward_(cfg.decoder_activation, err, x_hat)  # ∂L/∂(H W_d + b_d) / 2c, (m, pixels)
        # beta=0: the products overwrite the gradient buffers, alpha=g applies the 2c
        torch.addmm(dec.weight.grad, delta.T, h, beta=0, alpha=g, out=dec.weight.grad)  # ∂L/∂W_d (pixels, k)
        torch.addmv(dec.bias.grad, delta.T, work["ones"], beta=0, alpha=g, out=dec.bias.grad)  # ∂L/∂b_d = Σ_i
        grad_h = torch.addmm(work["grad_h"], delta, dec.weight, beta=0, alpha=g, out=work["grad_h"])  # ∂recon/∂H (m, k)
        t = torch.addmv(record[2:], h.T, work["ones"], beta=0, alpha=1 / m, out=record[2:])  # t_j: batch mean of h_j, Sec. 3.2
        if cfg.beta > 0:  # ∂(β Σ_j S(p, t_j))/∂h_ij = (β/m)·S'(t_j)
            grad_h.add_(sparsity_penalty_grad(cfg.penalty, cfg.p, t, cfg.eps), alpha=cfg.beta / m)
        delta = _activation_backward_(cfg.encoder_activation, grad_h, h)  # ∂L/∂(X W_e + b_e), (m, k)
        torch.mm(delta.T, x, out=enc.weight.grad)  # ∂L/∂W_e (k, pixels)
        torch.mv(delta.T, work["ones"], out=enc.bias.grad)  # ∂L/∂b_e = Σ_i
        if cfg.weight_decay > 0:  # λ Σ w² over W_e, W_d, biases excluded (properties-of-autoencoders App. A ψ, no ½)
            for w in self._weights(constrained=False):
                record[1] += cfg.weight_decay * (w * w).sum()
                w.grad.add_(w, alpha=2 * cfg.weight_decay)
        if cfg.nonneg_lambda > 0 and cfg.nonneg.startswith("asym"):  # λ Σ f(W), Sec. 3.3
            for w in self._weights(constrained=True):
                record[1] += cfg.nonneg_lambda * asymmetric_decay(cfg.nonneg, w, cfg.alpha)
                w.grad.add_(asymmetric_decay_grad(cfg.nonneg, w, cfg.alpha), alpha=cfg.nonneg_lambda)

    def _recon_scale(self, m: int | torch.Tensor, pixels: int) -> float | torch.Tensor:
        """c of recon = c·Σ err² on m rows: 1/(m·pixels) for the MSE of Sec. 3.2, 0.5/m for NCAE's 0.5·Σ(y − ŷ)²/m."""
        return 0.5 / m if self.config.loss_scale == "ncae" else 1.0 / (m * pixels)

    def _loss_terms(self, records: torch.Tensor, m: int | torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(L_AE, recon, Σ_j S(p, t_j), decay) of _loss_and_grads records (..., k + 2) from batches of m rows."""
        cfg = self.config
        recon = records[..., 0] * self._recon_scale(m, self.net.encoder.in_features)
        sparsity, decay = sparsity_penalty(cfg.penalty, cfg.p, records[..., 2:], cfg.eps), records[..., 1]
        return recon + cfg.beta * sparsity + decay, recon, sparsity, decay  # L_AE, Sec. 3.2–3.3

    def _record_history(self, epoch: int, records: torch.Tensor, m: int | torch.Tensor) -> None:
        """Append the epoch's means of loss, recon, sparsity and decay over its records (one host sync)."""
        terms = torch.stack(self._loss_terms(records.double(), m)).reshape(4, -1).mean(dim=1)
        loss, recon, sparsity, decay = terms.tolist()
        self._check_finite(loss, epoch)
        self.history.append({"epoch": epoch, "loss": loss, "recon": recon, "sparsity": sparsity, "decay": decay})

    def fit(self, x: np.ndarray, resume: Resume | None = None) -> "AE":
        """Train on x (n, pixels); with `resume`, continue from its saved state and save every few epochs."""
        for _ in self.train_steps(x, resume):
            pass
        return self

    def train_steps(self, x: np.ndarray, resume: Resume | None = None) -> Iterator[None]:
        """fit() one optimizer step at a time: yields after each step (benchmarks interleave runs with it)."""
        cfg = self.config
        seed_everything(cfg.seed)  # weight init draws from the global torch RNG
        data = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)  # (n, pixels), all on device
        self._build(data.shape[1])
        self._init_weights()
        for w in self.net.parameters():
            w.grad = torch.zeros_like(w)  # written in place by _loss_and_grads
        self.net.train()
        self.history = []
        yield from self._lbfgs_steps(data, resume) if cfg.optimizer == "lbfgs" else self._minibatch_steps(data, resume)
        self.net.eval()
        self.metadata["device"] = str(self.device)

    @staticmethod
    def _check_finite(loss_mean: float, epoch: int) -> None:
        if not np.isfinite(loss_mean):
            raise FloatingPointError(f"ae: loss became {loss_mean} in epoch {epoch}; try a smaller lr or beta")

    def _restore(self, resume: Resume | None, optimizer: Optimizer, generator: torch.Generator | None) -> int:
        """Load a matching saved loop state into net, optimizer and generator; the epoch to start from."""
        state = resume.load() if resume else None
        if state is None:
            return 0
        self.net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        if generator is not None:
            generator.set_state(state["generator"])
        self.history = state["history"]
        return state["step"]

    def _checkpoint(self, resume: Resume | None, step: int, optimizer: Optimizer, generator: torch.Generator | None) -> None:
        if resume and resume.due(step):
            resume.save({
                "step": step,
                "net": {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "generator": None if generator is None else generator.get_state(),
                "history": list(self.history),
            })

    def _minibatch_optimizer(self) -> Optimizer:
        cfg = self.config
        if cfg.optimizer == "adam":  # torch's fused kernel: one pass over all parameters per step
            return FusedAdam(self.net.parameters(), lr=cfg.lr)
        return torch.optim.Adadelta(self.net.parameters(), lr=cfg.lr, foreach=True)  # the AE study's optimizer

    def _minibatch_steps(self, data: torch.Tensor, resume: Resume | None) -> Iterator[None]:
        """Adam/Adadelta over minibatches drawn by a seeded permutation of the on-device data (no DataLoader)."""
        cfg = self.config
        n = data.shape[0]
        optimizer = self._minibatch_optimizer()
        generator = torch.Generator().manual_seed(cfg.seed)  # CPU: same order on every device
        n_batches = -(-n // cfg.batch_size)
        rows_per_batch = torch.full((n_batches,), cfg.batch_size, dtype=torch.float64, device=self.device)
        rows_per_batch[-1] = n - cfg.batch_size * (n_batches - 1)
        batch = data.new_empty(min(cfg.batch_size, n), data.shape[1])  # the rows of each step, reused
        for epoch in range(self._restore(resume, optimizer, generator), cfg.epochs):
            order = torch.randperm(n, generator=generator).to(self.device)  # (n,)
            records = torch.zeros(n_batches, cfg.k + 2, device=self.device)  # one _loss_and_grads record per batch
            for i, start in enumerate(range(0, n, cfg.batch_size)):
                rows = order[start : start + cfg.batch_size]
                self._loss_and_grads(torch.index_select(data, 0, rows, out=batch[: len(rows)]), records[i])
                optimizer.step()
                self._project()
                yield
            self._record_history(epoch, records, rows_per_batch)  # the means over the epoch's batches
            self._checkpoint(resume, epoch + 1, optimizer, generator)

    def _lbfgs_steps(self, data: torch.Tensor, resume: Resume | None) -> Iterator[None]:
        """Full-batch L-BFGS (NCAE used minFunc's L-BFGS): one iteration per epoch, strong-Wolfe line search.

        The optimizer keeps its curvature pairs across step() calls, so `epochs` steps of max_iter=1
        are `epochs` L-BFGS iterations. With nonneg="project" the clamp after each iteration makes
        it a heuristic projected L-BFGS. History holds the values at each iteration's start (its
        first closure call).
        """
        # max_eval bounds the line search of each iteration; torch's default (1.25·max_iter = 1) would leave it
        # no evaluations at all with max_iter=1.
        optimizer = torch.optim.LBFGS(
            self.net.parameters(), lr=1.0, max_iter=1, max_eval=25, history_size=10, line_search_fn="strong_wolfe"
        )
        evaluations: list[torch.Tensor] = []  # records of the closure calls within the current iteration
        n = data.shape[0]
        epoch = 0

        def closure() -> torch.Tensor:
            record = torch.zeros(self.config.k + 2, device=self.device)
            self._loss_and_grads(data, record)
            loss = self._loss_terms(record, n)[0]
            if not evaluations:  # the iteration's start: stop before L-BFGS steps on a NaN/inf loss
                self._check_finite(float(loss), epoch)
            evaluations.append(record)
            return loss

        for epoch in range(self._restore(resume, optimizer, None), self.config.epochs):
            evaluations.clear()
            optimizer.step(closure)
            self._project()
            self._record_history(epoch, evaluations[0], n)  # the values at the iteration's start
            self._checkpoint(resume, epoch + 1, optimizer, None)
            yield

    def _check_fitted(self) -> None:
        if self.net is None:
            raise RuntimeError("ae: call fit() or load_state_dict() first")

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        self._check_fitted()
        self.net.eval()
        x = np.asarray(x, dtype=np.float32)  # (n, pixels)
        out = [
            self.net.encode(torch.as_tensor(x[i : i + _INFER_BATCH], device=self.device)).cpu().numpy()
            for i in range(0, len(x), _INFER_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.config.k), np.float32)  # (n, k)

    @torch.no_grad()
    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        """σ_d(codes @ atoms + b_d); given atoms replace W_d, the bias b_d is kept (dilation metric)."""
        self._check_fitted()
        self.net.eval()
        codes = np.asarray(codes, dtype=np.float32)  # (n, k)
        w = None if atoms is None else torch.as_tensor(np.asarray(atoms, np.float32), device=self.device)  # (k, pixels)
        out = [
            self.net.decode(torch.as_tensor(codes[i : i + _INFER_BATCH], device=self.device), w).cpu().numpy()
            for i in range(0, len(codes), _INFER_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.net.decoder.out_features), np.float32)  # (n, pixels)

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.net.decoder.weight.detach().T.cpu().numpy().copy()  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._build(state["encoder.weight"].shape[1])  # encoder.weight: (k, pixels)
        self.net.load_state_dict({key: torch.as_tensor(v) for key, v in state.items()})
        self.net.eval()
