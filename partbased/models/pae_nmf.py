"""PAE-NMF: a variational autoencoder with Weibull latents and a non-negative linear decoder.

Seed: pae-nmf-weibull-vae (Sec. 2.3–2.4, eq. 1–4); details as its authors coded them (shared/REFERENCE.md
"PAE-NMF as its authors coded it"):
    k = max(x W_kᵀ, 0.001), λ = max(x W_λᵀ, 0.001)   (linear, no bias, clamped)
    h = λ(−ln ε)^{1/k},  ε ~ U(0.35, 0.65) in training   (inverse-CDF sampling, Sec. 2.3)
    x̂ = h W_fᵀ,  W_f ≥ 0 by clamping after each step      (eq. 4)
    loss = Σ (x − x̂)² + kl_weight · Σ KL(Weibull(k, λ) ‖ Weibull(1, 1))   (eq. 1–3, prior k = λ = 1)
Atoms are the columns of W_f, i.e. rows of atoms (k, pixels). encode = the median, ε = 1/2.

Choices not fixed by the sources (documented here): Adam optimiser; encoder weights start as |torch
default init| so that, for non-negative data, k and λ start positive (below the 0.001 floor the
clamp has zero gradient, and the KL term grows like Γ(1/k) as k → 0); W_f starts as |default init|
rescaled so that the initial median reconstruction has the data's mean. Without that rescaling the
first epochs shrink h, mostly by lowering k (ε ~ U(0.35, 0.65) lies mostly above 1/e, where a lower
k gives a smaller h); without the KL term k then reaches the 0.001 floor, where (−ln ε)^{1000}
overflows float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Model, resolve_device, seed_everything
from .nmf_base import stream
from .resume import Resume

EULER_GAMMA = 0.5772156649015329  # γ in the Weibull KL (eq. 3)
FLOOR = 0.001  # the authors' clamp on k and λ
EPS_LOW, EPS_HIGH = 0.35, 0.65  # the authors' training range of ε
_INFER_BATCH = 8192  # rows per encode/decode chunk


def weibull_kl(k1: torch.Tensor, l1: torch.Tensor, k2: float | torch.Tensor = 1.0, l2: float | torch.Tensor = 1.0) -> torch.Tensor:
    """KL(Weibull(k1, λ1) ‖ Weibull(k2, λ2)), elementwise (eq. 3, Bauckhage 2014; REFERENCE.md):

    log(k1/λ1^k1) − log(k2/λ2^k2) + (k1 − k2)(log λ1 − γ/k1) + (λ1/λ2)^k2 Γ(k2/k1 + 1) − 1.
    The power-times-Gamma term is computed as exp(k2 log(λ1/λ2) + lgamma(k2/k1 + 1)).
    """
    k1, l1 = torch.as_tensor(k1), torch.as_tensor(l1)
    k2 = torch.as_tensor(k2, dtype=k1.dtype, device=k1.device)
    l2 = torch.as_tensor(l2, dtype=k1.dtype, device=k1.device)
    log_l1, log_l2 = torch.log(l1), torch.log(l2)
    return (
        (torch.log(k1) - k1 * log_l1)  # log(k1/λ1^k1)
        - (torch.log(k2) - k2 * log_l2)  # − log(k2/λ2^k2)
        + (k1 - k2) * (log_l1 - EULER_GAMMA / k1)  # + (k1 − k2)(log λ1 − γ/k1)
        + torch.exp(k2 * (log_l1 - log_l2) + torch.lgamma(k2 / k1 + 1))  # + (λ1/λ2)^k2 Γ(k2/k1 + 1)
        - 1
    )


def weibull_icdf(k: torch.Tensor, lam: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
    """C⁻¹(ε) = λ(−ln ε)^{1/k}, the inverse-CDF sample (Sec. 2.3); ε = 1/2 gives the median."""
    return lam * torch.pow(-torch.log(torch.as_tensor(eps, dtype=lam.dtype, device=lam.device)), 1.0 / k)


@dataclass
class PAENMFConfig:
    k: int = 16  # latent dimension r = number of atoms (columns of W_f)
    seed: int = 0  # seeds the init, the minibatch order and the ε draws
    epochs: int = 500  # passes over the training set (authors: 3000 on faces)
    batch_size: int = 500  # minibatch size (authors: full batch or 500); ≥ n means full batch
    lr: float = 5e-3  # Adam learning rate (authors: 5e-2 on faces, halved at intervals)
    kl_weight: float = 1.0  # weight of Σ KL(q ‖ Weibull(1,1)) (eq. 1); 0 = "without KL" (Fig. 5 right)
    lr_halve_every: int = 0  # halve lr every this many epochs; 0 = never
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.k < 1 or self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"pae_nmf: need k >= 1, epochs >= 0, batch_size >= 1, lr > 0; got {self}")
        if self.kl_weight < 0 or self.lr_halve_every < 0:
            raise ValueError(f"pae_nmf: need kl_weight >= 0 and lr_halve_every >= 0; got {self}")


class WeibullAE(nn.Module):
    def __init__(self, pixels: int, k: int):
        super().__init__()
        self.enc_k = nn.Linear(pixels, k, bias=False)  # W_k
        self.enc_lam = nn.Linear(pixels, k, bias=False)  # W_λ
        self.dec = nn.Linear(k, pixels, bias=False)  # W_f (pixels, k): atoms = its transpose

    def params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.enc_k(x).clamp(min=FLOOR)  # (batch, k): k = max(W_k x, 0.001)
        lam = self.enc_lam(x).clamp(min=FLOOR)  # (batch, k): λ = max(W_λ x, 0.001)
        return k, lam

    def decode(self, h: torch.Tensor, atoms: torch.Tensor | None = None) -> torch.Tensor:
        w = self.dec.weight.T if atoms is None else atoms  # (k, pixels)
        return h @ w  # (batch, pixels): x̂ = W_f h (eq. 4)


class PAENMF(Model):
    """history per epoch: {"epoch", "loss", "recon", "kl", "lr"}, per-sample sums averaged over the epoch."""

    name = "pae_nmf"
    config_class = PAENMFConfig
    supports_resume = True  # fit(x, resume=Resume(...)) continues a killed run bit for bit

    def __init__(self, config: PAENMFConfig | None = None):
        super().__init__(config or PAENMFConfig())
        self.device = resolve_device(self.config.device)
        self.net: WeibullAE | None = None

    def _build(self, pixels: int) -> None:
        self.net = WeibullAE(pixels, self.config.k).to(self.device)

    def fit(self, x: np.ndarray, resume: Resume | None = None) -> "PAENMF":
        """Train on x (n, pixels); with `resume`, continue from its saved weights, Adam state and random
        streams, and save them every few epochs."""
        cfg = self.config
        seed_everything(cfg.seed)  # weight init draws from the global torch RNG
        data = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)  # (n, pixels)
        if not torch.isfinite(data).all() or (data.numel() and float(data.min()) < 0):
            raise ValueError("pae_nmf: input must be finite and non-negative")
        n = data.shape[0]
        self._build(data.shape[1])
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        # Minibatch order and ε from their own seeded streams, drawn on the CPU: same on every device.
        order_rng, eps_rng = stream(cfg.seed, "order"), stream(cfg.seed, "eps")
        state = resume.load() if resume else None
        if state is not None:
            self.net.load_state_dict(state["net"])
            optimizer.load_state_dict(state["optimizer"])
            order_rng.bit_generator.state, eps_rng.bit_generator.state = state["order_rng"], state["eps_rng"]
            self.history = state["history"]
        else:
            with torch.no_grad():
                for layer in (self.net.enc_k, self.net.enc_lam, self.net.dec):
                    layer.weight.abs_()  # see module doc: k, λ start positive; W_f starts feasible
                h0 = weibull_icdf(*self.net.params(data), 0.5)  # (n, k): the initial medians
                fit_mean = float(data.mean()) / max(float(self.net.decode(h0).mean()), 1e-12)
                self.net.dec.weight.mul_(fit_mean)  # start with mean(x̂) = mean(x): no initial rush to shrink h
            self.history = []
        self.net.train()
        for epoch in range((state or {}).get("step", 0), cfg.epochs):
            if cfg.lr_halve_every and epoch and epoch % cfg.lr_halve_every == 0:
                for group in optimizer.param_groups:
                    group["lr"] /= 2  # the authors' "lr halved at intervals"
            order = torch.from_numpy(order_rng.permutation(n)).to(self.device)  # (n,)
            totals = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, recon, kl sums
            for start in range(0, n, cfg.batch_size):
                batch = data[order[start : start + cfg.batch_size]]  # (batch, pixels)
                k, lam = self.net.params(batch)  # (batch, k) each
                u = torch.from_numpy(eps_rng.random(tuple(k.shape), dtype=np.float32)).to(self.device)
                eps = EPS_LOW + (EPS_HIGH - EPS_LOW) * u  # ε ~ U(0.35, 0.65)
                h = weibull_icdf(k, lam, eps)  # (batch, k): h = λ(−ln ε)^{1/k}
                recon = ((self.net.decode(h) - batch) ** 2).sum()  # Σ squared error (eq. 2)
                kl = weibull_kl(k, lam).sum()  # Σ KL(Weibull(k, λ) ‖ Weibull(1, 1)) (eq. 1, 3)
                loss = recon + cfg.kl_weight * kl if cfg.kl_weight > 0 else recon  # 0·inf would be NaN
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    self.net.dec.weight.clamp_(min=0)  # W_f ≥ 0 after each step (Sec. 2.4)
                totals += torch.stack([loss.detach(), recon.detach(), kl.detach()]).double()
            loss_sum, recon_sum, kl_sum = (totals / max(n, 1)).tolist()  # per sample; one sync per epoch
            if not np.isfinite(loss_sum):
                raise FloatingPointError(f"pae_nmf: loss became {loss_sum} in epoch {epoch}; try a smaller lr")
            lr_now = optimizer.param_groups[0]["lr"]
            self.history.append({"epoch": epoch, "loss": loss_sum, "recon": recon_sum, "kl": kl_sum, "lr": lr_now})
            if resume and resume.due(epoch + 1):
                resume.save({
                    "step": epoch + 1,  # completed epochs
                    "net": {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()},
                    "optimizer": _to_cpu(optimizer.state_dict()),
                    "order_rng": order_rng.bit_generator.state,
                    "eps_rng": eps_rng.bit_generator.state,
                    "history": list(self.history),
                })
        self.net.eval()
        self.metadata["device"] = str(self.device)
        return self

    def _check_fitted(self) -> None:
        if self.net is None:
            raise RuntimeError("pae_nmf: call fit() or load_state_dict() first")

    @torch.no_grad()
    def _chunks(self, x: np.ndarray, fn) -> list[np.ndarray]:
        x = np.asarray(x, dtype=np.float32)
        return [fn(torch.as_tensor(x[i : i + _INFER_BATCH], device=self.device)) for i in range(0, len(x), _INFER_BATCH)]

    def latent_params(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, λ) of q(h | x), each (n, k) float32."""
        self._check_fitted()
        parts = self._chunks(x, lambda b: torch.cat(self.net.params(b), dim=1).cpu().numpy())  # (chunk, 2k)
        both = np.concatenate(parts) if parts else np.zeros((0, 2 * self.config.k), np.float32)
        return both[:, : self.config.k], both[:, self.config.k :]

    def prior_kl(self, x: np.ndarray) -> np.ndarray:
        """KL(q(h | x) ‖ Weibull(1, 1)) of each sample, summed over the k latent dimensions: (n,) float64.

        The KL term of the objective (eq. 1–3, prior k = λ = 1; summed over dimensions as in the authors' loss,
        REFERENCE.md), without kl_weight: how far each sample's latent distribution is from the prior.
        """
        self._check_fitted()
        parts = self._chunks(x, lambda b: weibull_kl(*self.net.params(b)).double().sum(dim=1).cpu().numpy())  # (chunk,)
        return np.concatenate(parts) if parts else np.zeros(0)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """The median of q(h | x): λ(ln 2)^{1/k} (ε = 1/2), deterministic; (n, k)."""
        self._check_fitted()
        parts = self._chunks(x, lambda b: weibull_icdf(*self.net.params(b), 0.5).cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.config.k), np.float32)

    @torch.no_grad()
    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        w = self.atoms if atoms is None else np.asarray(atoms, dtype=np.float32)  # (k, pixels)
        return (np.asarray(codes, dtype=np.float32) @ w).astype(np.float32)  # (n, pixels): x̂ = W_f h

    @torch.no_grad()
    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n new samples (n, pixels): h ~ Weibull(1, 1) prior (inverse CDF, ε ~ U(0, 1)) through the decoder."""
        self._check_fitted()
        g = torch.Generator().manual_seed(seed)
        eps = torch.rand((n, self.config.k), generator=g, dtype=torch.float64).clamp_min(1e-300)  # (n, k)
        h = weibull_icdf(torch.ones_like(eps), torch.ones_like(eps), eps).float()  # (n, k): −ln ε ~ Exp(1) = W(1, 1)
        return self.decode(h.numpy())

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.net.dec.weight.detach().T.cpu().numpy().copy()  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._build(state["enc_k.weight"].shape[1])  # enc_k.weight: (k, pixels)
        self.net.load_state_dict({key: torch.as_tensor(v) for key, v in state.items()})
        self.net.eval()


def _to_cpu(value: Any) -> Any:
    """A copy of an optimizer state_dict with every tensor on the CPU (nested dicts and lists)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return value
