"""Shallow sparse, optionally nonnegative autoencoder (seed: part-based-autoencoders-report Sec. 3).

h = σ_e(x W_e + b_e) with σ_e the sigmoid; x̂ = σ_d(h W_d + b_d). Atoms are the rows of W_d.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Model, resolve_device, seed_everything

ACTIVATIONS = {"sigmoid": torch.sigmoid, "linear": lambda z: z, "relu": torch.relu}


@dataclass
class AEConfig:
    k: int = 16  # code units = atoms (report: k = 100)
    seed: int = 0  # seed of the init and of the minibatch order
    p: float = 0.05  # KL target mean activation p, in (0, 1) (report Sec. 3.2)
    beta: float = 0.0  # weight β of the KL sparsity penalty (report Sec. 3.2)
    decoder_activation: str = "sigmoid"  # σ_d: sigmoid | linear | relu (report Sec. 3.1)
    project: bool = True  # clamp W_d ≥ 0 after every optimizer step (report Sec. 3.3)
    epochs: int = 20  # passes over the training set
    batch_size: int = 64  # minibatch size (report: 128)
    lr: float = 1e-3  # Adam learning rate
    device: str = "auto"  # torch device; auto = CUDA when present


def kl_sparsity(p: float, p_hat: torch.Tensor) -> torch.Tensor:
    """Σ_j KL(p ‖ p̂_j) between Bernoulli means (report Sec. 3.2, S_KL)."""
    p_hat = p_hat.clamp(1e-6, 1 - 1e-6)  # the log needs p̂ strictly inside (0, 1)
    return (p * torch.log(p / p_hat) + (1 - p) * torch.log((1 - p) / (1 - p_hat))).sum()


class ShallowAE(nn.Module):
    def __init__(self, pixels: int, k: int, decoder_activation: str):
        super().__init__()
        self.encoder = nn.Linear(pixels, k)
        self.decoder = nn.Linear(k, pixels)
        self.decoder_activation = ACTIVATIONS[decoder_activation]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x))  # (batch, k): h = σ_e(W_e x + b_e), report Sec. 3.1

    def decode(self, h: torch.Tensor, atoms: torch.Tensor | None = None) -> torch.Tensor:
        atoms = self.decoder.weight.T if atoms is None else atoms  # (k, pixels)
        return self.decoder_activation(h @ atoms + self.decoder.bias)  # (batch, pixels): σ_d(W_d h + b_d)


class AE(Model):
    name = "ae"
    config_class = AEConfig

    def __init__(self, config: AEConfig):
        super().__init__(config)
        if config.decoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: decoder_activation must be one of {sorted(ACTIVATIONS)}, got {config.decoder_activation!r}")
        self.device = resolve_device(config.device)
        self.net: ShallowAE | None = None

    def _build(self, pixels: int) -> None:
        self.net = ShallowAE(pixels, self.config.k, self.config.decoder_activation).to(self.device)

    def fit(self, x: np.ndarray) -> "AE":
        cfg = self.config
        seed_everything(cfg.seed)
        data = torch.as_tensor(x, dtype=torch.float32, device=self.device)  # (n, pixels): whole set on the device
        self._build(data.shape[1])
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        self.history = []
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(data), generator=generator).to(self.device)
            totals = torch.zeros(3, device=self.device)  # loss, recon, sparsity (summed over batches)
            n_batches = 0
            for start in range(0, len(data), cfg.batch_size):
                batch = data[order[start : start + cfg.batch_size]]  # (batch, pixels)
                h = self.net.encode(batch)  # (batch, k)
                recon = torch.mean((self.net.decode(h) - batch) ** 2)  # MSE, report Sec. 3 L_AE
                sparsity = kl_sparsity(cfg.p, h.mean(dim=0)) if cfg.beta > 0 else torch.zeros((), device=self.device)
                loss = recon + cfg.beta * sparsity  # report Sec. 3.2: L = MSE + β Σ_j S(p, p̂_j)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if cfg.project:
                    with torch.no_grad():
                        self.net.decoder.weight.clamp_(min=0)  # projection onto W_d ≥ 0, report Sec. 3.3
                totals += torch.stack([loss.detach(), recon.detach(), sparsity.detach()])
                n_batches += 1
            loss_mean, recon_mean, sparsity_mean = (totals / n_batches).tolist()  # one sync per epoch
            if not np.isfinite(loss_mean):
                raise FloatingPointError(f"ae: loss became {loss_mean} in epoch {epoch}")
            self.history.append({"epoch": epoch, "loss": loss_mean, "recon": recon_mean, "sparsity": sparsity_mean})
        return self

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        self.net.eval()
        return self.net.encode(torch.as_tensor(x, dtype=torch.float32, device=self.device)).cpu().numpy()

    @torch.no_grad()
    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        self.net.eval()
        h = torch.as_tensor(codes, dtype=torch.float32, device=self.device)
        a = None if atoms is None else torch.as_tensor(atoms, dtype=torch.float32, device=self.device)
        return self.net.decode(h, a).cpu().numpy()

    @property
    def atoms(self) -> np.ndarray:
        return self.net.decoder.weight.detach().T.cpu().numpy().copy()  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        return {key: value.cpu() for key, value in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._build(state["encoder.weight"].shape[1])
        self.net.load_state_dict(state)
