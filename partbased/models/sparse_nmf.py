"""Sparse NMF with normalised basis vectors (seed: eggert-koerner-sparse-coding-nmf, Sec. III, eq. 11–18).

Rows are samples: X (n, pixels) ≈ H (n, k) @ W̄ (k, pixels), the paper's V ≈ W̄H transposed, with
W̄_j = W_j / ‖W_j‖₂ (eq. 12). Cost (eq. 11) with g(x) = x:
    F = ½ Σ_i ‖x_i − Σ_j H_ij W̄_j‖² + λ Σ_ij H_ij.
Updates in the Euclidean-norm form: eq. 17 for H, eq. 18 for W, then W ← W̄ (point 2). Because the
cost depends on W only through W̄, we store W already normalised: each round starts at point 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .base import seed_everything
from .nmf import _DTYPES, Factorization  # decode = H W̄ (eq. 13), atoms = W̄
INITS = ("uniform", "eggert")


@dataclass
class SparseNMFConfig:
    k: int = 16  # number of basis vectors W_j (atoms)
    seed: int = 0  # seeds the uniform init of W and H
    max_iter: int = 200  # rounds of (eq. 17, eq. 18, normalisation) in fit; the paper runs 1000 (Sec. IV)
    encode_iter: int = 200  # eq. 17 updates of H with W̄ fixed, to encode unseen data
    lam: float = 0.0  # λ ≥ 0, weight of the sparsity term λ Σ g(H_ij), g(x) = x (eq. 10–11, 17)
    eps: float = 1e-10  # denominator guard against 0/0 in eq. 17–18
    init: str = "uniform"  # "uniform": NMF's scaled U[0, s) init, H rescaled so HW̄ = HW at start;
    #                        "eggert": W, H ~ U[0.5, 1] as in the paper's experiments (Sec. IV A)
    dtype: str = "float32"  # "float32" | "float64": precision of the updates
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"sparse_nmf: dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.init not in INITS:
            raise ValueError(f"sparse_nmf: init must be one of {list(INITS)}, got {self.init!r}")
        if self.k < 1 or self.max_iter < 0 or self.encode_iter < 0 or self.lam < 0 or self.eps <= 0:
            raise ValueError(f"sparse_nmf: need k >= 1, max_iter >= 0, encode_iter >= 0, lam >= 0, eps > 0; got {self}")


class SparseNMF(Factorization):
    """history: {"iteration", "loss"} with loss = eq. (11) cost / n, in float64.

    atoms = W̄ (unit-L2 rows); encode = eq. (17) with W̄ fixed; decode = codes @ W̄ (eq. 13).
    """

    name = "sparse_nmf"
    config_class = SparseNMFConfig

    def __init__(self, config: SparseNMFConfig | None = None):
        super().__init__(config or SparseNMFConfig())  # self.W: (k, pixels), rows of unit L2 norm: W̄

    # -- helpers -------------------------------------------------------------------------------
    def _rand(self, shape: tuple[int, int], low: float, high: float, offset: int) -> torch.Tensor:
        # Uniform init on CPU from a seeded generator: same numbers on every device.
        g = torch.Generator().manual_seed(self.config.seed + offset)
        u = torch.rand(shape, generator=g, dtype=torch.float64)
        return (low + (high - low) * u).to(self.device, self.dtype)

    def _init_h(self, x: torch.Tensor) -> torch.Tensor:
        """Seeded initial activities for x (n, pixels): the same draw in fit and encode."""
        n = x.shape[0]
        if self.config.init == "eggert":
            return self._rand((n, self.config.k), 0.5, 1.0, 1)  # (n, k): U[0.5, 1], Sec. IV A
        scale = float(np.sqrt(max(float(x.double().mean()), 0.0) / self.config.k)) or 1.0  # as NMF (sklearn)
        return self._rand((n, self.config.k), 0.0, scale, 1)  # (n, k)

    @staticmethod
    def _normalise(w: torch.Tensor) -> torch.Tensor:
        return w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)  # (k, pixels): W̄_j = W_j/‖W_j‖, eq. 12 (point 2)

    def _update_h(self, x: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
        # eq. (17): H_ij ← H_ij (V_iᵀW̄_j) / (R_iᵀW̄_j + λ), R = H W̄ (eq. 13) so R W̄ᵀ = H (W̄W̄ᵀ).
        return h * (x @ wbar.T) / (h @ gram + self.config.lam + self.config.eps)  # (n, k)

    def _update_w(self, x: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor) -> torch.Tensor:
        # eq. (18) with R = H W̄ from the new H (eq. 15); all (n, pixels) products avoided:
        #   Σ_i H_ij V_i = (HᵀX)_j,  Σ_i H_ij R_i = (HᵀH W̄)_j,
        #   Σ_i H_ij (R_iᵀW̄_j) = Σ_i H_ij (H W̄W̄ᵀ)_ij,  Σ_i H_ij (V_iᵀW̄_j) = Σ_i H_ij (X W̄ᵀ)_ij.
        hx = h.T @ x  # (k, pixels)
        hh = h.T @ h  # (k, k)
        gram = wbar @ wbar.T  # (k, k)
        r_w = (h * (h @ gram)).sum(dim=0)  # (k,): Σ_i H_ij R_iᵀW̄_j
        v_w = (hx * wbar).sum(dim=1)  # (k,): Σ_i H_ij V_iᵀW̄_j = ⟨(HᵀX)_j, W̄_j⟩
        num = hx + r_w[:, None] * wbar  # (k, pixels): numerator of eq. (18)
        den = hh @ wbar + v_w[:, None] * wbar  # (k, pixels): denominator of eq. (18)
        return wbar * num / (den + self.config.eps)  # (k, pixels): W_j, not yet normalised

    def _cost(self, xx: float, x: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor) -> float:
        # eq. (11) per sample: ½‖X − HW̄‖² + λΣH, expanded as ½(‖X‖² − 2⟨HᵀX, W̄⟩ + ⟨HᵀH, W̄W̄ᵀ⟩),
        # the small products summed in float64 so monotonicity is visible beyond float32 rounding.
        h64, w64 = h.double(), wbar.double()
        cross = float(((h64.T @ x.double()) * w64).sum())
        quad = float(((h64.T @ h64) * (w64 @ w64.T)).sum())
        return (0.5 * (xx - 2 * cross + quad) + self.config.lam * float(h64.sum())) / x.shape[0]

    # -- Model interface -----------------------------------------------------------------------
    def fit(self, x: np.ndarray) -> "SparseNMF":
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        n, pixels = xt.shape
        h = self._init_h(xt)  # (n, k)
        if cfg.init == "eggert":
            w = self._rand((cfg.k, pixels), 0.5, 1.0, 0)  # (k, pixels): U[0.5, 1], Sec. IV A
        else:
            scale = float(np.sqrt(max(float(xt.double().mean()), 0.0) / cfg.k)) or 1.0
            w = self._rand((cfg.k, pixels), 0.0, scale, 0)  # (k, pixels)
            h = h * w.norm(dim=1)[None, :]  # (n, k): keeps H W̄ = H W of the NMF init after normalising
        w = self._normalise(w)  # point 2
        xx = float((xt.double() ** 2).sum())  # ‖X‖², once
        self.history = [{"iteration": 0, "loss": self._cost(xx, xt, h, w)}]
        with torch.no_grad():
            for i in range(1, cfg.max_iter + 1):
                h = self._update_h(xt, h, w, w @ w.T)  # eq. (17), points 3–4
                w = self._normalise(self._update_w(xt, h, w))  # eq. (18), points 5–6, then point 2
                loss = self._cost(xx, xt, h, w)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"sparse_nmf: loss became {loss} at iteration {i}")
                self.history.append({"iteration": i, "loss": loss})
        self.W = w
        self.metadata["device"] = str(self.device)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """H for unseen x: fit's seeded init, encode_iter updates of eq. (17) with W̄ fixed."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode")  # (n, pixels)
        h = self._init_h(xt)  # (n, k)
        gram = self.W @ self.W.T  # (k, k)
        with torch.no_grad():
            for _ in range(self.config.encode_iter):
                h = self._update_h(xt, h, self.W, gram)  # eq. (17), W̄ fixed
        return h.cpu().numpy().astype(np.float32)  # (n, k)

