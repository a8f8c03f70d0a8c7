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


def squared_norm(x: torch.Tensor, rows: int = 4096) -> float:
    """‖x‖² summed in float64, a block of rows at a time (a float32 sum over ~50M values is off by ~1 %;
    a float64 copy of the whole matrix would double its memory)."""
    return sum(float(torch.sum(block * block, dtype=torch.float64)) for block in x.split(rows))


class NMF(Factorization):
    """history: {"iteration", "loss"} with loss = eq. (3) cost / n = 0.5·‖X − HW‖² / n, in float64.

    Each iteration walks X once, a block of rows at a time: eq. (6) updates H row by row, so a block's
    new H rows go straight into Hᵀ X and Hᵀ H (eq. 8) while that block of X is still in cache, and the
    updates run in place on arrays reused from block to block. After fit, `H` holds the training codes
    (n, k) on the device.
    """

    name = "nmf"
    config_class = NMFConfig
    supports_resume = True
    cpu_block_rows = 2048  # rows per block on the CPU (cache-sized); a GPU takes all rows at once

    def __init__(self, config: NMFConfig | None = None):
        super().__init__(config or NMFConfig())
        self.H: torch.Tensor | None = None  # (n, k), the training codes

    # -- helpers -------------------------------------------------------------------------------
    def _rand(self, shape: tuple[int, int], scale: float, offset: int) -> torch.Tensor:
        # Uniform init on CPU from a seeded generator: same numbers on every device.
        g = torch.Generator().manual_seed(self.config.seed + offset)
        return (torch.rand(shape, generator=g, dtype=torch.float64) * scale).to(self.device, self.dtype)

    def _scale(self, x: torch.Tensor) -> float:
        # sklearn's random init: entries of size sqrt(mean(X)/k), so HW has X's mean.
        return float(np.sqrt(max(float(x.sum(dtype=torch.float64)) / x.numel(), 0.0) / self.config.k)) or 1.0

    def _block_rows(self, n: int) -> int:
        return max(1, min(n, self.cpu_block_rows if self.device.type == "cpu" else n))

    def _update_h_(self, x: torch.Tensor, h: torch.Tensor, w: torch.Tensor, ww: torch.Tensor, work: dict[str, torch.Tensor]) -> None:
        # eq. (5)-(6) on a block of rows, in place: H ← H ⊙ (X Wᵀ) / (R Wᵀ), R = H W, with R Wᵀ = H (W Wᵀ).
        num = torch.mm(x, w.T, out=work["num"][: len(x)])  # (rows, k)
        den = torch.mm(h, ww, out=work["den"][: len(x)]).add_(self.config.eps)  # (rows, k)
        h.mul_(num).div_(den)

    def _update_w_(self, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor) -> None:
        # eq. (7)-(8): W ← W ⊙ (Hᵀ X) / (Hᵀ R), R = H W with the new H; Hᵀ R = (Hᵀ H) W. In place.
        den = (hh @ w).add_(self.config.eps)  # (k, pixels), from W before the update
        w.mul_(hx).div_(den)

    @staticmethod
    def _cost(xx: float, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor, ww: torch.Tensor, n: int) -> float:
        # eq. (3) per sample without the (n, pixels) residual: ‖X − HW‖² = ‖X‖² − 2⟨HᵀX, W⟩ + ⟨HᵀH, WWᵀ⟩,
        # the products summed in float64 so monotonicity is visible beyond float32 rounding.
        cross = float((hx.double() * w.double()).sum())
        quad = float((hh.double() * ww.double()).sum())
        return 0.5 * (xx - 2 * cross + quad) / n

    def _work(self, rows: int) -> dict[str, torch.Tensor]:
        """The numerator and denominator of eq. (6) for one block of rows, reused by every block."""
        return {name: torch.empty(rows, self.config.k, dtype=self.dtype, device=self.device) for name in ("num", "den")}

    def _init_factors(self, xt: torch.Tensor, init: tuple[np.ndarray, np.ndarray] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(H (n, k), W (k, pixels)): the given nonnegative pair, or the seeded uniform init."""
        n, pixels = xt.shape
        if init is None:
            scale = self._scale(xt)
            return self._rand((n, self.config.k), scale, 1), self._rand((self.config.k, pixels), scale, 0)
        h0, w0 = (self._as_tensor(a, "init").clone() for a in init)
        if h0.shape != (n, self.config.k) or w0.shape != (self.config.k, pixels):
            raise ValueError(f"NMF init: need H {(n, self.config.k)} and W {(self.config.k, pixels)}, got {tuple(h0.shape)} and {tuple(w0.shape)}")
        return h0, w0

    # -- Model interface -----------------------------------------------------------------------
    def fit(self, x: np.ndarray, resume: Resume | None = None, init: tuple[np.ndarray, np.ndarray] | None = None) -> "NMF":
        """Train on x (n, pixels) from init = (H, W), else the seeded uniform init; with `resume`,
        continue from its saved W, H and save every few iterations."""
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        n = xt.shape[0]
        h, w = self._init_factors(xt, init)
        xx = squared_norm(xt)  # ‖X‖², once
        state = resume.load() if resume else None
        if state is not None:
            h, w = state["h"].to(self.device), state["w"].to(self.device)
            self.history = state["history"]
        else:
            self.history = [{"iteration": 0, "loss": self._cost(xx, h.T @ xt, h.T @ h, w, w @ w.T, n)}]
        rows = self._block_rows(n)
        work = self._work(rows)
        hx = torch.empty(cfg.k, xt.shape[1], dtype=self.dtype, device=self.device)  # Hᵀ X
        hh = torch.empty(cfg.k, cfg.k, dtype=self.dtype, device=self.device)  # Hᵀ H
        ww = w @ w.T  # (k, k)
        with torch.no_grad():
            for i in range((state or {}).get("step", 0) + 1, cfg.max_iter + 1):
                hx.zero_(), hh.zero_()
                for start in range(0, n, rows):
                    x_rows, h_rows = xt[start : start + rows], h[start : start + rows]
                    self._update_h_(x_rows, h_rows, w, ww, work)  # eq. (6)
                    hx.addmm_(h_rows.T, x_rows)  # the new H's rows folded into Hᵀ X and Hᵀ H
                    hh.addmm_(h_rows.T, h_rows)
                self._update_w_(hx, hh, w)  # eq. (8)
                ww = w @ w.T  # for the cost and the next eq. (6)
                loss = self._cost(xx, hx, hh, w, ww, n)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"NMF: loss became {loss} at iteration {i}")
                self.history.append({"iteration": i, "loss": loss})
                if resume and resume.due(i):
                    resume.save({"step": i, "h": h.cpu().clone(), "w": w.cpu().clone(), "history": list(self.history)})
        self.W, self.H = w, h
        self.metadata["device"] = str(self.device)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """H for unseen x: same seeded init, encode_iter updates of eq. (6) with W fixed."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode")  # (n, pixels)
        n = xt.shape[0]
        h = self._rand((n, self.config.k), self._scale(xt), 1)  # (n, k)
        rows = self._block_rows(n)
        work, ww = self._work(rows), self.W @ self.W.T
        with torch.no_grad():
            for start in range(0, n, rows):  # rows are independent: each block runs all its updates in cache
                x_rows, h_rows = xt[start : start + rows], h[start : start + rows]
                for _ in range(self.config.encode_iter):
                    self._update_h_(x_rows, h_rows, self.W, ww, work)  # eq. (6), W fixed
        return h.cpu().numpy().astype(np.float32)  # (n, k)
