"""NNSAE: the non-negative sparse autoencoder of Lemme, Reinhart & Steil (Neural Networks 33, 2012;
ESANN 2010), as its authors coded it in alemme/NNSAE `Matlab/NNSAE.m` (line numbers below refer to
that file, commit 408229a).

Tied weights: one matrix serves as encoder and decoder. In the authors' layout W is (pixels, k); here
the atoms are its transpose, `W` (k, pixels), one atom per row, so for a sample x (pixels,):
    g = W x                      pre-activation           (NNSAE.m l.178, net.g = net.W' * net.inp)
    h = 1 / (1 + exp(−a g − b))  logistic, per-unit a, b  (l.181)
    x̂ = Wᵀ h                     linear read-out, no bias (l.184)
Training (`train`, l.131–170) presents the samples one at a time in a random order (l.133) and after
each one:
    lrate = lrateRO / (regRO + ‖h‖²)                        (l.142)
    W ← W + lrate · h (x − x̂)ᵀ                              (l.145, l.148)
    W ← W − decayP · W on the positive entries (if decayP > 0)  (l.151–154)
    W ← max(W, 0) if decayN = 1, else W ← W − decayN · W on the negative entries  (l.157–163)
    tmp = lrateIP (1 − (2 + 1/meanIP) h + h²/meanIP);  b ← b + tmp;  a ← a + lrateIP / a + g ⊙ tmp
                                                            (intrinsic plasticity, l.166–169)
with h, g and x̂ from the forward pass before the update. One epoch is one call of `train(X)` (the
authors call it repeatedly, l.12). Init (`init`, l.87–96): W = 0.025(2U − 0.5) + 0.025 = 0.05 U + 0.0125,
U ~ U[0, 1); a = 1; b = −3.

Deviations (none in the arithmetic of an update):
- The random numbers (init U, the presentation order) come from this project's seeded streams, not
  MATLAB's `rand`/`randperm`.
- No minibatches: the authors' PyTorch port (`Pytorch/NNSAE.py`, `bpdc`/`ip`) sums the per-sample
  updates of a minibatch computed from one forward pass, a different algorithm (a version of it
  written here, lrateRO = 0.01, batch 64, oscillated on mnist5k); the online loop below is fast
  enough (≈ 35–40 µs per sample on one CPU core at k = 16, 784 pixels: 10 epochs of mnist5k in
  ≈ 1.6 s), so only the MATLAB algorithm is offered.
- history per epoch: the mean over the epoch's samples of the a-priori error ‖x − x̂‖²/pixels (x̂ before
  that sample's update) and the mean activation, which the MATLAB code does not record.
- The input must be non-negative (the class "is designed to be used with non-negative data
  distributions", l.3–4).

The online loop runs in torch on preallocated tensors: about 20 small in-place operations per
sample and no host sync inside an epoch. The samples cannot be batched without changing the algorithm:
each forward pass uses the W left by the previous sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Model, resolve_device, seed_everything
from .nmf_base import _DTYPES, stream, uniform
from .resume import Resume

_INFER_BATCH = 8192  # rows per encode chunk


@dataclass
class NNSAEConfig:
    k: int = 16  # hidden units = atoms (hidDim, NNSAE.m l.44, the constructor's second argument)
    seed: int = 0  # seeds the init of W and the presentation order
    epochs: int = 10  # calls of train(X), one pass over the data each (l.12; barsExampleNNSAE: numEpochs = 10)
    lrateRO: float = 0.01  # learning rate of the read-out weights (l.54)
    regRO: float = 2e-4  # regulariser of the adaptive step lrateRO / (regRO + ‖h‖²) (l.55, l.142)
    decayP: float = 0.0  # decay factor of the positive weights, in [0, 1] (l.56, l.151–154)
    decayN: float = 1.0  # decay factor of the negative weights, in [0, 1]; 1 = clip them to 0 (l.57, l.157–163)
    lrateIP: float = 0.001  # learning rate of intrinsic plasticity (l.59, l.167–169)
    meanIP: float = 0.2  # target mean activation of each hidden unit, intrinsic plasticity (l.60, l.167)
    dtype: str = "float64"  # "float64" (MATLAB's double) | "float32"
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"nnsae: dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.k < 1 or self.epochs < 0:
            raise ValueError(f"nnsae: need k >= 1, epochs >= 0; got {self}")
        if self.lrateRO <= 0 or self.regRO < 0 or self.lrateIP < 0:
            raise ValueError(f"nnsae: need lrateRO > 0, regRO >= 0, lrateIP >= 0; got {self}")
        if not (0 <= self.decayP <= 1 and 0 <= self.decayN <= 1):
            raise ValueError(f"nnsae: decayP and decayN must lie in [0, 1], got decayP={self.decayP}, decayN={self.decayN}")
        if not 0 < self.meanIP < 1:
            raise ValueError(f"nnsae: meanIP must lie in (0, 1) (a mean logistic activation), got {self.meanIP}")


class NNSAE(Model):
    """history per epoch: {"epoch", "loss" (mean a-priori ‖x − x̂‖²/pixels), "mean_h" (mean activation)}.

    encode(x) = h = σ(a · W x + b) (NNSAE.m getEncoding, l.196, batched: no learning, so every row at once is
    the same arithmetic); decode(codes, atoms) = codes @ atoms, the linear read-out without bias (l.184).
    """

    name = "nnsae"
    config_class = NNSAEConfig
    supports_resume = True  # fit(x, resume=Resume(...)) continues a killed run bit for bit

    def __init__(self, config: NNSAEConfig | None = None):
        super().__init__(config or NNSAEConfig())
        self.device = resolve_device(self.config.device)
        self.dtype = _DTYPES[self.config.dtype]
        self.W: torch.Tensor | None = None  # (k, pixels): the tied weights, the authors' W transposed
        self.a: torch.Tensor | None = None  # (k,): slopes of the logistic activations
        self.b: torch.Tensor | None = None  # (k,): biases of the logistic activations

    def _as_tensor(self, x: np.ndarray, what: str) -> torch.Tensor:
        x = np.asarray(x)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"nnsae {what}: input holds NaN or inf")
        if x.size and x.min() < 0:
            raise ValueError(f"nnsae {what}: input must be non-negative (NNSAE.m l.3–4: designed for non-negative data), min is {float(x.min())}")
        return torch.as_tensor(x, dtype=self.dtype, device=self.device)  # (n, pixels)

    def _init(self, pixels: int) -> None:
        cfg = self.config
        # init (l.89): W = 0.025 * (2 * rand(inpDim, hidDim) − 0.5) + 0.025, i.e. U[0.0125, 0.0625)
        u = uniform(cfg.seed, "W", (cfg.k, pixels), 0.0, 1.0, "cpu", torch.float64)
        self.W = (0.025 * (2 * u - 0.5) + 0.025).to(self.device, self.dtype)  # (k, pixels)
        self.a = torch.ones(cfg.k, dtype=self.dtype, device=self.device)  # l.92
        self.b = torch.full((cfg.k,), -3.0, dtype=self.dtype, device=self.device)  # l.95

    # -- training ------------------------------------------------------------------------------
    def _epoch_online(self, xs: torch.Tensor, work: dict[str, torch.Tensor], totals: torch.Tensor) -> None:
        """One call of NNSAE.m `train` on the rows of xs (n, pixels), already in presentation order."""
        cfg = self.config
        w, a, b = self.W, self.a, self.b
        g, h, hs, tmp, inv_a = work["g"], work["h"], work["hs"], work["tmp"], work["inv_a"]
        out, err, norm, e2 = work["out"], work["err"], work["norm"], work["e2"]
        sum_err, sum_h = totals[0], totals[1:]  # views: accumulated in place
        ip_slope = -(2.0 + 1.0 / cfg.meanIP)
        for x in xs.unbind(0):  # (pixels,) views, one per sample
            torch.mv(w, x, out=g)  # g = Wᵀ inp (l.178)
            torch.addcmul(b, a, g, out=h).sigmoid_()  # h = 1 / (1 + exp(−a g − b)) (l.181)
            torch.mv(w.T, h, out=out)  # out = W h (l.184)
            torch.sub(x, out, out=err)  # error = inp − out (l.145)
            torch.dot(h, h, out=norm).add_(cfg.regRO)  # regRO + Σ h² (l.142)
            torch.div(h, norm, out=hs)  # h · lrate / lrateRO
            w.addr_(hs, err, alpha=cfg.lrateRO)  # W ← W + lrate · error hᵀ (l.148), in our layout h errorᵀ
            if cfg.decayP > 0:
                w.add_(w.clamp_min(0), alpha=-cfg.decayP)  # W(idx) − decayP · W(idx) on W > 0 (l.151–154)
            if cfg.decayN == 1:
                w.clamp_min_(0)  # max(W, 0): "pure NN weights!" (l.157–159)
            elif cfg.decayN > 0:
                w.add_(w.clamp_max(0), alpha=-cfg.decayN)  # W(idx) − decayN · W(idx) on W < 0 (l.160–163)
            # intrinsic plasticity (l.166–169): tmp = lrateIP (1 − (2 + 1/meanIP) h + h²/meanIP)
            torch.mul(h, ip_slope, out=tmp).add_(1).addcmul_(h, h, value=1.0 / cfg.meanIP).mul_(cfg.lrateIP)
            torch.reciprocal(a, out=inv_a)  # 1/a with the a before this step
            b.add_(tmp)  # b ← b + tmp (l.168)
            a.addcmul_(g, tmp).add_(inv_a, alpha=cfg.lrateIP)  # a ← a + lrateIP/a + g .* tmp (l.169)
            sum_err.add_(torch.dot(err, err, out=e2))  # for the history: Σ‖error‖², Σh
            sum_h.add_(h)

    def fit(self, x: np.ndarray, resume: Resume | None = None, init: dict[str, Any] | None = None) -> "NNSAE":
        """Train on x (n, pixels) for `epochs` passes from NNSAE.m's init, or from init = {"W" (k, pixels),
        "a" (k,), "b" (k,)}; with `resume`, continue from its saved W, a, b and presentation stream, and
        save them every few epochs."""
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        n, pixels = xt.shape
        order_rng = stream(cfg.seed, "order")  # the presentation order (l.133: randperm), drawn on the CPU
        state = resume.load() if resume else None
        if state is not None:
            self.W, self.a, self.b = (state[key].to(self.device, self.dtype) for key in ("W", "a", "b"))
            order_rng.bit_generator.state = state["order_rng"]
            self.history = state["history"]
        elif init is not None:
            self.load_state_dict({key: torch.as_tensor(np.asarray(init[key])).clone() for key in ("W", "a", "b")})
            if self.W.shape != (cfg.k, pixels) or self.a.shape != (cfg.k,) or self.b.shape != (cfg.k,):
                raise ValueError(f"nnsae init: need W {(cfg.k, pixels)}, a and b {(cfg.k,)}; got {tuple(self.W.shape)}, {tuple(self.a.shape)}, {tuple(self.b.shape)}")
            self.history = []
        else:
            self._init(pixels)
            self.history = []
        opts = {"dtype": self.dtype, "device": self.device}
        work = {name: torch.empty(cfg.k, **opts) for name in ("g", "h", "hs", "tmp", "inv_a")}
        work |= {"out": torch.empty(pixels, **opts), "err": torch.empty(pixels, **opts), "norm": torch.empty((), **opts), "e2": torch.empty((), **opts)}
        with torch.no_grad():
            for epoch in range((state or {}).get("step", 0), cfg.epochs):
                order = torch.from_numpy(order_rng.permutation(n)).to(self.device)  # (n,)
                xs = xt.index_select(0, order)  # (n, pixels): the samples in presentation order
                totals = torch.zeros(1 + cfg.k, **opts)  # Σ‖error‖², Σh per unit
                self._epoch_online(xs, work, totals)
                loss = float(totals[0]) / max(n * pixels, 1)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"nnsae: loss became {loss} in epoch {epoch}; try a smaller lrateRO")
                mean_h = float(totals[1:].mean()) / max(n, 1)
                self.history.append({"epoch": epoch, "loss": loss, "mean_h": mean_h})
                if resume and resume.due(epoch + 1):
                    resume.save({"step": epoch + 1, **self.state_dict(), "order_rng": order_rng.bit_generator.state, "history": list(self.history)})
        self.metadata["device"] = str(self.device)
        return self

    # -- Model interface -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.W is None:
            raise RuntimeError("nnsae: call fit() or load_state_dict() first")

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """h = σ(a · W x + b) for every row of x (n, pixels) (l.178–181, getEncoding l.196); (n, k) float32."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode")
        parts = [torch.sigmoid(self.a * (chunk @ self.W.T) + self.b).cpu().numpy() for chunk in xt.split(_INFER_BATCH)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.config.k), np.float32)

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        """x̂ = codes @ atoms (l.184: out = W h, linear, no bias); `atoms` (k, pixels) replaces W."""
        w = self.atoms if atoms is None else np.asarray(atoms, dtype=np.float32)  # (k, pixels)
        return (np.asarray(codes, dtype=np.float32) @ w).astype(np.float32)  # (n, pixels)

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.W.cpu().numpy().astype(np.float32)  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {key: getattr(self, key).detach().cpu().clone() for key in ("W", "a", "b")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.W, self.a, self.b = (torch.as_tensor(state[key]).to(self.device, self.dtype) for key in ("W", "a", "b"))
