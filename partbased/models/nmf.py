"""NMF of the Euclidean cost (seed: eggert-koerner-sparse-coding-nmf, Sec. II, eq. 3): by Lee–Seung
multiplicative updates (eq. 5–8, the seeds' method, `solver: mu`) or by Fast HALS (Cichocki & Phan,
"Fast local algorithms for large scale nonnegative matrix and tensor factorizations", IEICE Trans.
Fundamentals E92-A(3), 2009, Algorithm 2; `solver: hals`).

Rows are samples: X (n, pixels) ≈ H (n, k) @ W (k, pixels), i.e. the paper's V ≈ WH transposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import seed_everything
from .nmf_base import _DTYPES, Factorization, floor_, frobenius_cost, init_scale, squared_norm  # noqa: F401 (re-exported)
from .resume import Resume

SOLVERS = ("mu", "hals")


@dataclass
class NMFConfig:
    k: int = 16  # number of atoms (basis vectors W_j)
    seed: int = 0  # seeds the uniform init of W and H
    max_iter: int = 200  # joint H, W update rounds in fit
    encode_iter: int = 200  # updates of H with W fixed, to encode unseen data
    eps: float = 1e-10  # denominator guard against 0/0 (mu only)
    solver: str = "mu"  # "mu": Lee–Seung multiplicative updates (the seeds' method, Eggert & Körner eq. 5–8);
    #                     "hals": Fast HALS (Cichocki & Phan 2009, Alg. 2; scikit-learn's solver="cd")
    dtype: str = "float32"  # "float32" | "float64": precision of the updates
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"NMF: dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"NMF: solver must be one of {list(SOLVERS)}, got {self.solver!r}")
        if self.k < 1 or self.max_iter < 0 or self.encode_iter < 0:
            raise ValueError(f"NMF: need k >= 1, max_iter >= 0, encode_iter >= 0; got {self}")


class NMF(Factorization):
    """history: {"iteration", "loss"} with loss = eq. (3) cost / n = 0.5·‖X − HW‖² / n, in float64.

    Each iteration walks X once, a block of rows at a time: both solvers update H row by row (the rows
    are independent given W), so a block's new H rows go straight into Hᵀ X and Hᵀ H while that block
    of X is still in cache, and the W update and the cost use only those two products. The updates
    run in place on arrays reused from block to block. After fit, `H` holds the training codes (n, k)
    on the device.

    solver "hals" (Cichocki & Phan 2009, Algorithm 2, "Fast HALS"; the update of scikit-learn's
    `_update_cdnmf_fast`): one sweep over the components t = 1..k per factor, each an exact
    minimisation of the cost over one column of H (or row of W) with the others fixed,
        H[:, t] ← max(0, H[:, t] + ((X Wᵀ)[:, t] − (H W Wᵀ)[:, t]) / (W Wᵀ)[t, t]),
        W[t]    ← max(0, W[t] + ((Hᵀ X)[t] − (Hᵀ H W)[t]) / (Hᵀ H)[t, t]),
    the components in order (no shuffle), H before W as in scikit-learn's `_fit_coordinate_descent`.
    As there (and unlike the paper's max(ε, ·)), entries may reach exactly 0; a component whose
    (W Wᵀ)[t, t] or (Hᵀ H)[t, t] is 0 is left as it is (scikit-learn: `if hess != 0`).
    """

    name = "nmf"
    config_class = NMFConfig
    supports_resume = True  # fit(x, resume=Resume(...)) continues a killed run bit for bit
    cpu_block_rows = 2048  # rows per block on the CPU (cache-sized); a GPU takes all rows at once
    cpu_block_rows_hals = 8192  # HALS: its sweep's per-component steps cost Python calls per block

    def __init__(self, config: NMFConfig | None = None):
        super().__init__(config or NMFConfig())
        self.H: torch.Tensor | None = None  # (n, k), the training codes

    # -- helpers -------------------------------------------------------------------------------
    def _block_rows(self, n: int) -> int:
        cpu = self.cpu_block_rows if self.config.solver == "mu" else self.cpu_block_rows_hals
        return max(1, min(n, cpu if self.device.type == "cpu" else n))

    def _work(self, rows: int) -> dict[str, torch.Tensor]:
        """Per-block scratch arrays, reused by every block: eq. (6)'s numerator and denominator (mu);
        X Wᵀ, a group of components' gradients and one component's step (hals; H itself is held component-major)."""
        k, opts = self.config.k, {"dtype": self.dtype, "device": self.device}
        if self.config.solver == "mu":
            return {"num": torch.empty(rows, k, **opts), "den": torch.empty(rows, k, **opts)}
        return {name: torch.empty(size, rows, **opts) for name, size in (("wx", k), ("grad", min(k, HALS_GROUP)))} | {"step": torch.empty(rows, **opts)}

    def _component_major(self, h: torch.Tensor) -> torch.Tensor:
        """H (n, k) with the same values, stored as Hᵀ (k, n) for hals: its sweep then updates each block's
        components in place, without copying the block to Hᵀ and back at every iteration (16 % of an
        iteration at n = 20,000, k = 100). MU keeps H row-major (its products read rows)."""
        return h.T.contiguous().T if self.config.solver == "hals" else h

    def _update_h_(self, x: torch.Tensor, h: torch.Tensor, w: torch.Tensor, ww: torch.Tensor, work: dict[str, torch.Tensor], sweeps: int = 1) -> None:
        """`sweeps` updates of a block of rows of H (rows, k), in place, W fixed."""
        rows = len(x)
        if self.config.solver == "mu":
            for _ in range(sweeps):
                # eq. (5)-(6): H ← H ⊙ (X Wᵀ) / (R Wᵀ), R = H W, with R Wᵀ = H (W Wᵀ).
                num = torch.mm(x, w.T, out=work["num"][:rows])  # (rows, k)
                den = torch.mm(h, ww, out=work["den"][:rows]).add_(self.config.eps)  # (rows, k)
                floor_(h.mul_(num).div_(den))  # above the denormals (nmf_base.floor_)
            return
        wx = torch.mm(w, x.T, out=work["wx"][:, :rows])  # (k, rows): (X Wᵀ)ᵀ
        assert h.stride(0) == 1, "hals: H must be held component-major (_component_major)"
        ht = h.T  # (k, rows): a view of H, a component per contiguous row, updated in place
        inv = _inverse_diagonal(ww)  # (k,): 1 / (W Wᵀ)[t, t], 0 where that is 0
        for _ in range(sweeps):
            _hals_sweep_(ht, wx, ww, inv, work["grad"][:, :rows], work["step"][:rows])

    def _update_w_(self, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor) -> None:
        """W (k, pixels) in place from Hᵀ X and Hᵀ H of the new H."""
        if self.config.solver == "mu":
            # eq. (7)-(8): W ← W ⊙ (Hᵀ X) / (Hᵀ R), R = H W with the new H; Hᵀ R = (Hᵀ H) W.
            den = (hh @ w).add_(self.config.eps)  # (k, pixels), from W before the update
            floor_(w.mul_(hx).div_(den))
        else:
            grad = torch.empty(min(len(w), HALS_GROUP), w.shape[1], dtype=w.dtype, device=w.device)
            _hals_sweep_(w, hx, hh, _inverse_diagonal(hh), grad, torch.empty_like(w[0]))  # Cichocki & Phan Alg. 2, W step

    def _init_factors(self, xt: torch.Tensor, init: tuple[np.ndarray, np.ndarray] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(H (n, k), W (k, pixels)): the given nonnegative pair, or the seeded uniform init U[0, s),
        s = sqrt(mean(X)/k) (scikit-learn's init="random"), H and W from their own random streams."""
        n, pixels = xt.shape
        if init is None:
            scale = init_scale(xt, self.config.k)
            return self._uniform("H", (n, self.config.k), 0.0, scale), self._uniform("W", (self.config.k, pixels), 0.0, scale)
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
            self.history = [{"iteration": 0, "loss": frobenius_cost(xx, h.T @ xt, h.T @ h, w) / n}]
        h = self._component_major(h)
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
                    self._update_h_(x_rows, h_rows, w, ww, work)  # eq. (6) or the HALS H sweep
                    hx.addmm_(h_rows.T, x_rows)  # the new H's rows folded into Hᵀ X and Hᵀ H
                    hh.addmm_(h_rows.T, h_rows)
                self._update_w_(hx, hh, w)  # eq. (8) or the HALS W sweep
                ww = w @ w.T  # for the cost and the next H update
                loss = frobenius_cost(xx, hx, hh, w, ww) / n  # eq. (3) per sample
                if not np.isfinite(loss):
                    raise FloatingPointError(f"NMF: loss became {loss} at iteration {i}")
                self.history.append({"iteration": i, "loss": loss})
                if resume and resume.due(i):
                    resume.save({"step": i, "h": h.cpu().clone(), "w": w.cpu().clone(), "history": list(self.history)})
        self.W, self.H = w, h.contiguous()  # row-major again for the codes and the checkpoint
        self.metadata["device"] = str(self.device)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """H for unseen x: fit's seeded init of H, encode_iter updates of the fit's solver with W fixed."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode")  # (n, pixels)
        n = xt.shape[0]
        h = self._component_major(self._uniform("H", (n, self.config.k), 0.0, init_scale(xt, self.config.k)))  # (n, k)
        rows = self._block_rows(n)
        work, ww = self._work(rows), self.W @ self.W.T
        with torch.no_grad():
            for start in range(0, n, rows):  # rows are independent: each block runs all its updates in cache
                self._update_h_(xt[start : start + rows], h[start : start + rows], self.W, ww, work, sweeps=self.config.encode_iter)
        return h.cpu().numpy().astype(np.float32)  # (n, k)


def _inverse_diagonal(gram: torch.Tensor) -> torch.Tensor:
    """1 / diag(gram), 0 where the diagonal is 0 (a zero component: its step is then 0, as
    scikit-learn's `if hess != 0` skip), without a host sync."""
    d = gram.diagonal()
    return torch.where(d > 0, 1 / d.clamp_min(torch.finfo(d.dtype).tiny), torch.zeros_like(d))


HALS_GROUP = 16  # components whose gradients come from one matrix product (see _hals_sweep_)


def _hals_sweep_(a: torch.Tensor, b: torch.Tensor, gram: torch.Tensor, inv: torch.Tensor, grad: torch.Tensor, step: torch.Tensor) -> None:
    """One Fast HALS sweep (Cichocki & Phan 2009, Alg. 2) of a (k, m), in place: for t = 1..k in turn,

        a[t] ← max(0, a[t] − g_t · inv[t]),   g_t = (gram a − b)[t] with the rows before t already new,

    the exact minimiser of ½‖X − ·‖² over row t with the other rows fixed (b = the factor's cross
    product with X, gram = the other factor's Gram matrix, inv = 1/diag(gram)). This is scikit-learn's
    `_update_cdnmf_fast` (grad = −XHt[i, t] + Σ_r HHt[t, r] W[i, r]; W[i, t] = max(W[i, t] − grad/hess, 0))
    reorganised, same arithmetic up to rounding: the gradients of a group of HALS_GROUP rows come from one
    matrix product at the group's start, and each update within the group is added to the gradients of
    the group's later rows (a rank-1 update), instead of one matrix-vector product per row.
    grad (≥ HALS_GROUP, m) and step (m,) are scratch arrays.
    """
    k = a.shape[0]
    for t0 in range(0, k, HALS_GROUP):
        t1 = min(k, t0 + HALS_GROUP)
        g = torch.addmm(b[t0:t1], gram[t0:t1], a, beta=-1, out=grad[: t1 - t0])  # (group, m): gradients now
        for j, t in enumerate(range(t0, t1)):
            torch.mul(g[j], inv[t], out=step)  # grad / hess, the unconstrained step
            torch.minimum(step, a[t], out=step)  # the step taken: a[t] − step = max(0, a[t] − grad/hess)
            a[t].sub_(step)
            if t + 1 < t1:
                g[j + 1 :].addr_(gram[t + 1 : t1, t], step, alpha=-1)  # later rows' gradients see the new a[t]
