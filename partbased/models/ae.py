"""Shallow sparse, optionally nonnegative autoencoder (seed: part-based-autoencoders-report Sec. 3).

h = sigmoid(x W_e + b_e); x̂ = σ_d(h W_d + b_d) (Sec. 3.1). Atoms are the rows of W_d (k, pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Model, resolve_device, seed_everything

ACTIVATIONS = {"sigmoid": torch.sigmoid, "linear": lambda z: z, "relu": torch.relu}
_INFER_BATCH = 8192  # rows per encode/decode chunk: bounds device memory on large inputs


@dataclass
class AEConfig:
    k: int = 16  # code units = atoms
    seed: int = 0  # seeds the weight init and the minibatch order
    p: float = 0.05  # KL target mean activation of each code unit, in (0, 1) (Sec. 3.2)
    beta: float = 0.0  # weight of the KL sparsity penalty; 0 = plain AE (Sec. 3.2)
    decoder_activation: str = "sigmoid"  # σ_d: "sigmoid" | "linear" | "relu" (Sec. 3.1)
    project: bool = True  # clamp W_d ≥ 0 after every optimizer step (Sec. 3.3)
    epochs: int = 20  # passes over the training set
    batch_size: int = 64  # minibatch size
    lr: float = 1e-3  # Adam learning rate
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.decoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: decoder_activation must be one of {sorted(ACTIVATIONS)}, got {self.decoder_activation!r}")
        if not 0 < self.p < 1:
            raise ValueError(f"ae: p must lie in (0, 1) for the KL penalty, got {self.p}")
        if self.k < 1 or self.epochs < 0 or self.batch_size < 1 or self.beta < 0:
            raise ValueError(f"ae: need k >= 1, epochs >= 0, batch_size >= 1, beta >= 0; got {self}")


def kl_sparsity(p: float, p_hat: torch.Tensor) -> torch.Tensor:
    """Σ_j KL(p ‖ p̂_j) between Bernoulli means (Sec. 3.2, S_KL); p_hat (k,)."""
    p_hat = p_hat.clamp(1e-6, 1 - 1e-6)  # keeps both logs finite when a unit is always off/on
    return (p * torch.log(p / p_hat) + (1 - p) * torch.log((1 - p) / (1 - p_hat))).sum()


class ShallowAE(nn.Module):
    def __init__(self, pixels: int, k: int, decoder_activation: str):
        super().__init__()
        self.encoder = nn.Linear(pixels, k)  # W_e, b_e
        self.decoder = nn.Linear(k, pixels)  # W_d stored (pixels, k) by torch; atoms = its transpose
        self.sigma_d = ACTIVATIONS[decoder_activation]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x))  # (batch, k): H = sigmoid(X W_e + b_e), Sec. 3.1

    def decode(self, h: torch.Tensor, atoms: torch.Tensor | None = None) -> torch.Tensor:
        w = self.decoder.weight.T if atoms is None else atoms  # (k, pixels)
        return self.sigma_d(h @ w + self.decoder.bias)  # (batch, pixels): X̂ = σ_d(H W_d + b_d), Sec. 3.1


class AE(Model):
    """history per epoch: {"epoch", "loss", "recon" (MSE), "sparsity" (Σ_j KL, unweighted)}, batch means."""

    name = "ae"
    config_class = AEConfig

    def __init__(self, config: AEConfig | None = None):
        super().__init__(config or AEConfig())
        self.device = resolve_device(self.config.device)
        self.net: ShallowAE | None = None

    def _build(self, pixels: int) -> None:
        self.net = ShallowAE(pixels, self.config.k, self.config.decoder_activation).to(self.device)

    def fit(self, x: np.ndarray) -> "AE":
        cfg = self.config
        seed_everything(cfg.seed)  # weight init draws from the global torch RNG
        data = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)  # (n, pixels), all on device
        n = data.shape[0]
        self._build(data.shape[1])
        if cfg.project:
            with torch.no_grad():  # start feasible: |W_d| of the default init, not half of it clamped to 0
                self.net.decoder.weight.abs_()
        self.net.train()
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        generator = torch.Generator().manual_seed(cfg.seed)  # CPU: same order on every device
        self.history = []
        for epoch in range(cfg.epochs):
            order = torch.randperm(n, generator=generator).to(self.device)  # (n,)
            totals = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, recon, sparsity sums
            n_batches = 0
            for start in range(0, n, cfg.batch_size):
                batch = data[order[start : start + cfg.batch_size]]  # (batch, pixels)
                h = self.net.encode(batch)  # (batch, k)
                recon = torch.mean((self.net.decode(h) - batch) ** 2)  # MSE term of L_AE, Sec. 3.2
                sparsity = kl_sparsity(cfg.p, h.mean(dim=0))  # p̂_j = batch mean of h_j, Sec. 3.2
                loss = recon + cfg.beta * sparsity  # L_AE = MSE + β Σ_j KL(p ‖ p̂_j), Sec. 3.2
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if cfg.project:
                    with torch.no_grad():
                        self.net.decoder.weight.clamp_(min=0)  # projection onto W_d ≥ 0, Sec. 3.3
                totals += torch.stack([loss.detach(), recon.detach(), sparsity.detach()]).double()
                n_batches += 1
            loss_mean, recon_mean, sparsity_mean = (totals / max(n_batches, 1)).tolist()  # one sync per epoch
            if not np.isfinite(loss_mean):
                raise FloatingPointError(f"ae: loss became {loss_mean} in epoch {epoch}; try a smaller lr or beta")
            self.history.append({"epoch": epoch, "loss": loss_mean, "recon": recon_mean, "sparsity": sparsity_mean})
        self.net.eval()
        self.metadata["device"] = str(self.device)
        return self

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
