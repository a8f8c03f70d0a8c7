"""NMF by Lee–Seung multiplicative updates (seed: eggert-koerner-sparse-coding-nmf, Sec. II, eq. 3–8).

Rows are samples: X (n, pixels) ≈ H (n, k) @ W (k, pixels), i.e. the paper's V ≈ WH transposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Model, resolve_device, seed_everything
from .resume import Resume

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class NMFConfig:
    k: int = 16  # number of atoms (basis vectors W_j)
    seed: int = 0  # seeds the uniform init of W and H
    max_iter: int = 200  # joint H, W update rounds in fit
    encode_iter: int = 200  # updates of H with W fixed, to encode unseen data
    eps: float = 1e-10  # denominator guard against 0/0
    dtype: str = "float32"  # "float32" | "float64": precision of the updates
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"NMF: dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.k < 1 or self.max_iter < 0 or self.encode_iter < 0:
            raise ValueError(f"NMF: need k >= 1, max_iter >= 0, encode_iter >= 0; got {self}")


class Factorization(Model):
    """What the NMF families share: nonnegative input on the device, atoms = rows of W, R = H W.

    Subclasses set `name` and `config_class` (a config with `dtype` and `device`) and fit `self.W`.
    """

    def __init__(self, config):
        super().__init__(config)
        self.device = resolve_device(self.config.device)
        self.dtype = _DTYPES[self.config.dtype]
        self.W: torch.Tensor | None = None  # (k, pixels)

    def _as_tensor(self, x: np.ndarray, what: str) -> torch.Tensor:
        x = np.asarray(x)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.name} {what}: input holds NaN or inf")
        if x.size and x.min() < 0:
            raise ValueError(f"{self.name} {what}: input must be non-negative, min is {float(x.min())}")
        return torch.as_tensor(x, dtype=self.dtype, device=self.device)  # (n, pixels)

    def _check_fitted(self) -> None:
        if self.W is None:
            raise RuntimeError(f"{self.name}: call fit() or load_state_dict() first")

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        w = self.atoms if atoms is None else np.asarray(atoms, dtype=np.float32)  # (k, pixels)
        return (np.asarray(codes, dtype=np.float32) @ w).astype(np.float32)  # (n, pixels): R = HW, eq. (5)

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.W.cpu().numpy().astype(np.float32)  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"W": self.W.detach().cpu().clone()}  # (k, pixels), in cfg.dtype

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.W = torch.as_tensor(state["W"]).to(self.device, self.dtype)  # (k, pixels)


class NMF(Factorization):
    """history: {"iteration", "loss"} with loss = eq. (3) cost / n = 0.5·‖X − HW‖² / n, in float64."""

    name = "nmf"
    config_class = NMFConfig

    def __init__(self, config: NMFConfig | None = None):
        super().__init__(config or NMFConfig())

    # -- helpers -------------------------------------------------------------------------------
    def _rand(self, shape: tuple[int, int], scale: float, offset: int) -> torch.Tensor:
        # Uniform init on CPU from a seeded generator: same numbers on every device.
        g = torch.Generator().manual_seed(self.config.seed + offset)
        return (torch.rand(shape, generator=g, dtype=torch.float64) * scale).to(self.device, self.dtype)

    def _scale(self, x: torch.Tensor) -> float:
        # sklearn's random init: entries of size sqrt(mean(X)/k), so HW has X's mean.
        return float(np.sqrt(max(float(x.double().mean()), 0.0) / self.config.k)) or 1.0

    def _update_h(self, x: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # eq. (5)-(6): H ← H ⊙ (X Wᵀ) / (R Wᵀ), R = H W; H W Wᵀ computed as H (W Wᵀ), cheaper.
        return h * (x @ w.T) / (h @ (w @ w.T) + self.config.eps)  # (n, k)

    def _update_w(self, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # eq. (7)-(8): W ← W ⊙ (Hᵀ X) / (Hᵀ R), R = H W with the new H; Hᵀ R = (Hᵀ H) W.
        return w * hx / (hh @ w + self.config.eps)  # (k, pixels)

    @staticmethod
    def _cost(xx: float, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor, n: int) -> float:
        # eq. (3) per sample without the (n, pixels) residual: ‖X − HW‖² = ‖X‖² − 2⟨HᵀX, W⟩ + ⟨HᵀH, WWᵀ⟩,
        # the small products summed in float64 so monotonicity is visible beyond float32 rounding.
        w64 = w.double()
        cross = float((hx.double() * w64).sum())
        quad = float((hh.double() * (w64 @ w64.T)).sum())
        return 0.5 * (xx - 2 * cross + quad) / n

    # -- Model interface -----------------------------------------------------------------------
    def fit(self, x: np.ndarray, resume: Resume | None = None) -> "NMF":
        """Train on x (n, pixels); with `resume`, continue from its saved W, H and save every few iterations."""
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        n, pixels = xt.shape
        scale = self._scale(xt)
        w = self._rand((cfg.k, pixels), scale, 0)  # (k, pixels)
        h = self._rand((n, cfg.k), scale, 1)  # (n, k)
        xx = float((xt.double() ** 2).sum())  # ‖X‖², once
        self.history = [{"iteration": 0, "loss": self._cost(xx, h.T @ xt, h.T @ h, w, n)}]
        state = resume.load() if resume else None
        if state is not None:
            h, w = state["h"].to(self.device), state["w"].to(self.device)
            self.history = state["history"]
        with torch.no_grad():
            for i in range((state or {}).get("step", 0) + 1, cfg.max_iter + 1):
                h = self._update_h(xt, h, w)  # eq. (6)
                hx, hh = h.T @ xt, h.T @ h  # (k, pixels), (k, k): shared by eq. (8) and the cost
                w = self._update_w(hx, hh, w)  # eq. (8)
                loss = self._cost(xx, hx, hh, w, n)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"NMF: loss became {loss} at iteration {i}")
                self.history.append({"iteration": i, "loss": loss})
                if resume and resume.due(i):
                    resume.save({"step": i, "h": h.cpu(), "w": w.cpu(), "history": list(self.history)})
        self.W = w
        self.metadata["device"] = str(self.device)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """H for unseen x: same seeded init, encode_iter updates of eq. (6) with W fixed."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode")  # (n, pixels)
        h = self._rand((xt.shape[0], self.config.k), self._scale(xt), 1)  # (n, k)
        with torch.no_grad():
            for _ in range(self.config.encode_iter):
                h = self._update_h(xt, h, self.W)  # eq. (6), W fixed
        return h.cpu().numpy().astype(np.float32)  # (n, k)

