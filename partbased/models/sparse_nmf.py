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
from .nmf_base import _DTYPES, Factorization, floor_, frobenius_cost, init_scale, squared_norm  # decode = H W̄ (eq. 13), atoms = W̄
from .resume import Resume

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
    The cost comes from the products HᵀX and HᵀH that the eq. (18) update already forms.
    """

    name = "sparse_nmf"
    config_class = SparseNMFConfig
    supports_resume = True  # fit(x, resume=Resume(...)) continues a killed run bit for bit

    def __init__(self, config: SparseNMFConfig | None = None):
        super().__init__(config or SparseNMFConfig())  # self.W: (k, pixels), rows of unit L2 norm: W̄

    # -- helpers -------------------------------------------------------------------------------
    def _init_h(self, x: torch.Tensor) -> torch.Tensor:
        """Seeded initial activities for x (n, pixels), from the H stream: the same draw in fit and encode."""
        n = x.shape[0]
        if self.config.init == "eggert":
            return self._uniform("H", (n, self.config.k), 0.5, 1.0)  # (n, k): U[0.5, 1], Sec. IV A
        return self._uniform("H", (n, self.config.k), 0.0, init_scale(x, self.config.k))  # (n, k), as NMF (sklearn)

    def _init_w(self, x: torch.Tensor) -> torch.Tensor:
        """Initial W (k, pixels), not yet normalised, from the W stream."""
        if self.config.init == "eggert":
            return self._uniform("W", (self.config.k, x.shape[1]), 0.5, 1.0)  # U[0.5, 1], Sec. IV A
        return self._uniform("W", (self.config.k, x.shape[1]), 0.0, init_scale(x, self.config.k))

    @staticmethod
    def _normalise(w: torch.Tensor) -> torch.Tensor:
        return w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)  # (k, pixels): W̄_j = W_j/‖W_j‖, eq. 12 (point 2)

    def _update_h(self, x: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
        # eq. (17): H_ij ← H_ij (V_iᵀW̄_j) / (R_iᵀW̄_j + λ), R = H W̄ (eq. 13) so R W̄ᵀ = H (W̄W̄ᵀ).
        return floor_(h * (x @ wbar.T) / (h @ gram + self.config.lam + self.config.eps))  # (n, k), above the denormals

    def _update_w(self, hx: torch.Tensor, hh: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
        # eq. (18) with R = H W̄ from the new H (eq. 15); all (n, pixels) products avoided:
        #   Σ_i H_ij V_i = (HᵀX)_j,  Σ_i H_ij R_i = (HᵀH W̄)_j,
        #   Σ_i H_ij (R_iᵀW̄_j) = Σ_i H_ij (H W̄W̄ᵀ)_ij,  Σ_i H_ij (V_iᵀW̄_j) = ⟨(HᵀX)_j, W̄_j⟩.
        r_w = (h * (h @ gram)).sum(dim=0)  # (k,): Σ_i H_ij R_iᵀW̄_j
        v_w = (hx * wbar).sum(dim=1)  # (k,): Σ_i H_ij V_iᵀW̄_j
        num = hx + r_w[:, None] * wbar  # (k, pixels): numerator of eq. (18)
        den = hh @ wbar + v_w[:, None] * wbar  # (k, pixels): denominator of eq. (18)
        return floor_(wbar * num / (den + self.config.eps))  # (k, pixels): W_j, not yet normalised

    def _cost(self, xx: float, hx: torch.Tensor, hh: torch.Tensor, h: torch.Tensor, wbar: torch.Tensor, gram: torch.Tensor) -> float:
        # eq. (11): ½‖X − HW̄‖² + λΣH, the first term from HᵀX, HᵀH and W̄W̄ᵀ (frobenius_cost).
        return frobenius_cost(xx, hx, hh, wbar, gram) + self.config.lam * float(h.sum(dtype=torch.float64))

    # -- Model interface -----------------------------------------------------------------------
    def fit(self, x: np.ndarray, resume: Resume | None = None) -> "SparseNMF":
        """Train on x (n, pixels); with `resume`, continue from its saved W̄, H and save every few iterations."""
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        n = xt.shape[0]
        xx = squared_norm(xt)  # ‖X‖², once
        state = resume.load() if resume else None
        if state is not None:
            h, w = state["h"].to(self.device), state["w"].to(self.device)
            self.history = state["history"]
        else:
            h, w = self._init_h(xt), self._init_w(xt)  # (n, k), (k, pixels)
            if cfg.init == "uniform":
                h = h * w.norm(dim=1)[None, :]  # (n, k): keeps H W̄ = H W of the NMF init after normalising
            w = self._normalise(w)  # point 2
            self.history = [{"iteration": 0, "loss": self._cost(xx, h.T @ xt, h.T @ h, h, w, w @ w.T) / n}]
        gram = w @ w.T  # (k, k): W̄W̄ᵀ
        with torch.no_grad():
            for i in range((state or {}).get("step", 0) + 1, cfg.max_iter + 1):
                h = self._update_h(xt, h, w, gram)  # eq. (17), points 3–4
                hx, hh = h.T @ xt, h.T @ h  # (k, pixels), (k, k) of the new H
                w = self._normalise(self._update_w(hx, hh, h, w, gram))  # eq. (18), points 5–6, then point 2
                gram = w @ w.T  # for the cost and the next eq. (17)
                loss = self._cost(xx, hx, hh, h, w, gram) / n
                if not np.isfinite(loss):
                    raise FloatingPointError(f"sparse_nmf: loss became {loss} at iteration {i}")
                self.history.append({"iteration": i, "loss": loss})
                if resume and resume.due(i):
                    resume.save({"step": i, "h": h.cpu().clone(), "w": w.cpu().clone(), "history": list(self.history)})
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
