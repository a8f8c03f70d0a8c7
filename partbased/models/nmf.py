"""NMF by Lee–Seung multiplicative updates for the Euclidean cost (seed: eggert-koerner-sparse-coding-nmf).

Rows are samples: X (n, pixels) ≈ H (n, k) @ W (k, pixels); the seed's columns V_i are our rows,
its basis vectors W_j our atoms (rows of W), its activities H_i^j our codes H[i, j].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Model, resolve_device, seed_everything


@dataclass
class NMFConfig:
    k: int = 16  # number of basis vectors (atoms)
    seed: int = 0  # seed of the uniform initialisation of W and H
    max_iter: int = 200  # multiplicative updates of H and W during fit
    encode_iter: int = 200  # updates of H with W fixed to encode unseen data
    eps: float = 1e-10  # guard added to the update denominators against 0/0
    dtype: str = "float32"  # tensor precision of the updates: float32 | float64
    device: str = "auto"  # torch device; auto = CUDA when present


def euclidean_cost(x: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> float:
    """F = 1/2 ||X − HW||² per sample (Eggert & Körner eq. 3), summed in float64."""
    residual = x.double() - h.double() @ w.double()  # (n, pixels)
    return 0.5 * float((residual**2).sum()) / len(x)


class NMF(Model):
    name = "nmf"
    config_class = NMFConfig

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=getattr(torch, self.config.dtype), device=self.device)

    def __init__(self, config: NMFConfig):
        super().__init__(config)
        self.device = resolve_device(config.device)
        self.w: torch.Tensor | None = None  # (k, pixels)

    def _init(self, n: int, m: int, scale: float, generator: torch.Generator) -> torch.Tensor:
        # uniform random init scaled like scikit-learn's: H W then has the data's mean
        return scale * torch.rand(n, m, generator=generator, dtype=torch.float64).to(self.device, getattr(torch, self.config.dtype))

    def _update_h(self, x: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        eps = self.config.eps
        return h * (x @ w.T) / (h @ (w @ w.T) + eps)  # Eggert & Körner eq. 6 (R = HW, eq. 5)

    def _check(self, x: np.ndarray) -> None:
        if not np.all(np.isfinite(x)):
            raise ValueError("nmf: input contains NaN or inf")
        if np.min(x) < 0:
            raise ValueError(f"nmf: input must be nonnegative, found minimum {np.min(x):.4g}")

    def fit(self, x: np.ndarray) -> "NMF":
        self._check(x)
        seed_everything(self.config.seed)
        generator = torch.Generator().manual_seed(self.config.seed)
        xt = self._tensor(x)  # (n, pixels), the whole set on the device
        n, pixels = xt.shape
        scale = float(np.sqrt(max(float(x.mean()), 1e-12) / self.config.k))
        h = self._init(n, self.config.k, scale, generator)  # (n, k)
        w = self._init(self.config.k, pixels, scale, generator)  # (k, pixels)
        eps = self.config.eps
        self.history = []
        for iteration in range(self.config.max_iter):
            h = self._update_h(xt, h, w)
            w = w * (h.T @ xt) / ((h.T @ h) @ w + eps)  # Eggert & Körner eq. 8 (R = HW, eq. 7)
            self.history.append({"iteration": iteration, "loss": euclidean_cost(xt, h, w)})
        self.w = w
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        generator = torch.Generator().manual_seed(self.config.seed + 1)  # deterministic codes
        xt = self._tensor(x)
        scale = float(np.sqrt(max(float(x.mean()), 1e-12) / self.config.k))
        h = self._init(len(xt), self.config.k, scale, generator)  # (n, k)
        for _ in range(self.config.encode_iter):
            h = self._update_h(xt, h, self.w)  # W fixed: only eq. 6
        return h.float().cpu().numpy()

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        atoms = self.atoms if atoms is None else atoms
        return (np.asarray(codes, dtype=np.float32) @ np.asarray(atoms, dtype=np.float32)).astype(np.float32)  # (n, pixels)

    @property
    def atoms(self) -> np.ndarray:
        return self.w.float().cpu().numpy()  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        return {"w": self.w.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.w = state["w"].to(self.device, getattr(torch, self.config.dtype))
