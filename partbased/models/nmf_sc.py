"""NMF with sparseness constraints, Hoyer's nmfsc (Hoyer, JMLR 2004; shared/REFERENCE.md "Hoyer 2004 projection").

Rows are samples: X (n, pixels) ≈ s · H (n, k) @ W (k, pixels), s = max(X) (nmfsc divides the data by
its max first). Hoyer's V ≈ WH has atoms in the columns of his W and one row of his H per component
across samples; here those are the rows of our W and the *columns* of our H.

Constraints (each optional):
- sW: every atom W_j has Hoyer sparseness sW, its L2 norm left free (projection at the current norm);
- sH: every component H[:, j] (a row of Hoyer's H, across the n training samples) has unit L2 norm and
  sparseness sH. This is a constraint over the training set, not per sample.
A constrained factor moves by projected gradient with step halving on failure and ×1.2 after success;
an unconstrained one by Lee–Seung multiplicative updates, as nmfpack does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import seed_everything
from .nmf_base import _DTYPES, Factorization, abs_normal, dot64, floor_, frobenius_cost, init_scale, squared_norm
from .resume import Resume

_MU_EPS = 1e-9  # nmfpack's guard in the multiplicative updates
_MIN_STEP = 1e-200  # nmfpack stops when a step size falls below this
_FLAT = 1e-24  # v is the face's centre m when ‖v − m‖² ≤ _FLAT·‖m‖² (float64 rounding of v − m is ~1e-32·‖m‖²)


# --------------------------------------------------------------------------- projection


def l1_for_sparseness(n: int, s: float) -> float:
    """L1 norm of a unit-L2 vector of length n with Hoyer sparseness s: √n − (√n − 1)·s (REFERENCE)."""
    if n < 1 or not 0 <= s <= 1:
        raise ValueError(f"l1_for_sparseness: need n >= 1 and s in [0, 1], got n={n}, s={s}")
    return math.sqrt(n) - (math.sqrt(n) - 1) * s


def hoyer_projection(s: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Closest v ≥ 0 (Euclidean) to s with ‖v‖₁ = l1 and ‖v‖₂ = l2 (Hoyer 2004, nmfpack projfunc).

    Needs l2 ≤ l1 ≤ √n·l2 (else no such v exists). Works in float64 and returns float64 (n,).
    Algorithm (REFERENCE.md): v = s + (l1 − Σs)/n; loop: m = l1/(n − |Z|) on the support, 0 on the
    zero set Z; v ← m + α(v − m) with α ≥ 0 solving ‖v‖₂ = l2; stop if v ≥ 0, else zero the
    negatives (add them to Z), shift the rest to sum l1 again, repeat. Each pass grows Z, so at
    most n passes.
    """
    s = np.asarray(s, dtype=np.float64).ravel()
    n = s.size
    if n == 0:
        raise ValueError("hoyer_projection: empty vector")
    if not (l2 > 0 and l2 * (1 - 1e-12) <= l1 <= math.sqrt(n) * l2 * (1 + 1e-12)):
        raise ValueError(f"hoyer_projection: need 0 < l2 <= l1 <= sqrt(n)*l2, got l1={l1}, l2={l2}, n={n}")
    support = np.ones(n, dtype=bool)  # complement of Z
    v = s + (l1 - s.sum()) / n  # onto the hyperplane Σv = l1
    for _ in range(n + 1):
        d = int(support.sum())
        m = np.where(support, l1 / d, 0.0)  # centre of the simplex face {Σv = l1, v_Z = 0}
        w = v - m  # lies in the face's hyperplane: Σ_support w = 0, w_Z = 0
        ww = float(w @ w)
        room = l2 * l2 - l1 * l1 / d  # ‖v‖² − ‖m‖² to reach, since ⟨m, w⟩ = 0
        if ww <= _FLAT * l1 * l1 / d:  # ‖v − m‖ at rounding level of ‖m‖: scaling it up would amplify noise
            # v is the centre: every direction in the face is equally close; take a fixed one.
            idx = np.flatnonzero(support)
            w = np.zeros(n)
            w[idx[0]], w[idx[-1]] = 1.0, -1.0 if d > 1 else 0.0
            ww = float(w @ w)
            if ww == 0.0:
                return m  # d == 1: the only point of the face
        alpha = math.sqrt(max(room, 0.0) / ww)  # ‖m + αw‖₂ = l2 with α ≥ 0
        v = m + alpha * w
        if np.all(v >= 0):
            return v
        support &= v > 0  # zero the negatives: Z grows
        v = np.where(support, v, 0.0)
        v = np.where(support, v + (l1 - v.sum()) / support.sum(), 0.0)  # back onto Σv = l1
    raise RuntimeError("hoyer_projection: did not converge")  # unreachable: Z grows every pass


def hoyer_projection_rows(s: torch.Tensor, l1: torch.Tensor, l2: torch.Tensor) -> torch.Tensor:
    """hoyer_projection applied to every row of s (m, n) at once, in torch float64 on s's device.

    l1, l2: (m,) targets per row. Same passes as hoyer_projection, each reduced to three sums per row:
    on its support, every iterate of Hoyer's loop is an increasing affine function of s (each pass
    shifts it onto Σv = l1 and scales it about the face's centre by α ≥ 0), so the zero set Z only ever
    takes the smallest remaining entries and the support is {s > τ} for a threshold τ. For that
    support (d entries, mean μ, Σ(s − μ)² = var) the pass's result is
        v = l1/d + c (s − μ),  c = sqrt((l2² − l1²/d) / var)       (Σv = l1, ‖v‖₂ = l2),
    and its next support is {v > 0} = {s > μ − l1/(d c)}. So a pass needs only d, Σs and Σs² over
    {s > τ}; v is formed once, after the last pass. Rows that reach the face's centre at some pass
    (v − m = 0: their top entries all equal) take hoyer_projection's fixed direction through
    _hoyer_passes, also in torch.
    """
    s = s.double()
    m, n = s.shape
    l1 = l1.to(s).reshape(-1, 1)  # (m, 1)
    l2 = l2.to(s).reshape(-1, 1)  # (m, 1)
    powers = torch.empty(m, 3, n, dtype=s.dtype, device=s.device)  # (m, 3, n): 1, s, s² per row, for the three sums
    powers[:, 0] = 1
    centred = torch.sub(s, s.amax(dim=1, keepdim=True), out=powers[:, 1])  # v depends on s only through s − μ:
    torch.mul(centred, centred, out=powers[:, 2])  #                             shifted by the max, Σ(s − μ)² cancels less
    tau = torch.full_like(l1, -math.inf)  # support {s > τ}: all of it
    count = torch.full_like(l1, float(n))
    slope = torch.ones_like(l1)  # the iterate's slope in s on the support: 1 before the first pass, then c
    degenerate = torch.zeros_like(l1, dtype=torch.bool)
    for p in range(n + 1):  # each pass shrinks the support or ends the loop: at most n passes
        support = (centred > tau).to(s)  # (m, n): 1 on the support
        sums = torch.bmm(powers, support.unsqueeze(2))[:, :, 0]  # (m, 3): d, Σs, Σs² over the support, in one product
        d, mu = sums[:, :1], sums[:, 1:2] / sums[:, :1]
        var = (sums[:, 2:] - d * mu * mu).clamp_min(0)  # Σ(s − μ)² on the support
        degenerate |= slope * slope * var <= _FLAT * l1 * l1 / d  # this pass's ‖v − m‖²: at the centre
        c = torch.sqrt((l2 * l2 - l1 * l1 / d).clamp_min(0) / var.clamp_min(1e-300))  # ‖m + c(s − μ)‖₂ = l2
        if p and bool((d == count).all()):  # support unchanged by the last pass: its v is ≥ 0 (one host sync per pass)
            break
        theta = torch.where(c > 0, mu - l1 / (d * c), -math.inf)  # v > 0 ⇔ s > θ
        tau, count, slope = torch.where(degenerate, tau, torch.maximum(tau, theta)), d, c
    out = (centred - mu).mul_(c).add_(l1 / d).mul_(support)  # (m, n): v on the support, 0 elsewhere
    if bool(degenerate.any()):
        rows = degenerate[:, 0].nonzero()[:, 0]
        out[rows] = _hoyer_passes(s[rows], l1[rows, 0], l2[rows, 0])
    return out


def _hoyer_passes(s: torch.Tensor, l1: torch.Tensor, l2: torch.Tensor) -> torch.Tensor:
    """hoyer_projection's loop, pass for pass, on every row of s (m, n) float64 at once (each pass works
    on the rows not yet done), its fixed direction at the degenerate centre included. The slow path
    of hoyer_projection_rows, for the (measure-zero) rows that reach the centre."""
    l1, l2 = l1.reshape(-1, 1), l2.reshape(-1, 1)  # (m, 1)
    n = s.shape[1]
    out = s + (l1 - s.sum(dim=1, keepdim=True)) / n  # (m, n): onto Σv = l1; rows are finished in place
    rows = torch.arange(s.shape[0], device=s.device)  # rows still iterating
    v, support, a1, a2 = out, torch.ones_like(s, dtype=torch.bool), l1, l2  # the active rows' state
    cols = torch.arange(n, device=s.device)[None, :]
    for _ in range(n + 1):
        if rows.numel() == 0:
            break
        d = support.sum(dim=1, keepdim=True).to(s)  # (r, 1)
        m = torch.where(support, a1 / d, 0.0)  # (r, n): centre of the face {Σv = l1, v_Z = 0}
        w = v - m  # (r, n)
        ww = (w * w).sum(dim=1, keepdim=True)  # (r, 1)
        flat = ww <= _FLAT * a1 * a1 / d  # at the centre: hoyer_projection's fixed direction e_first − e_last of the support
        first = torch.where(support, cols, n).amin(dim=1, keepdim=True)
        final = torch.where(support, cols, -1).amax(dim=1, keepdim=True)
        e = (cols == first).to(s) - ((cols == final) & (first != final)).to(s)
        w = torch.where(flat, e, w)
        ww = torch.where(flat, (e * e).sum(dim=1, keepdim=True), ww)
        alpha = torch.sqrt((a2 * a2 - a1 * a1 / d).clamp_min(0) / ww.clamp_min(1e-300))  # ‖m + αw‖₂ = l2
        v = m + alpha * w  # (r, n); a one-entry face (e = 0) gives its only point m
        ok = (v >= 0).all(dim=1)  # (r,)
        out[rows[ok]] = v[ok]
        keep = ~ok
        rows, v, support, a1, a2 = rows[keep], v[keep], support[keep] & (v[keep] > 0), a1[keep], a2[keep]
        v = torch.where(support, v, 0.0)  # zero the negatives (Z grows) ...
        v = torch.where(support, v + (a1 - v.sum(dim=1, keepdim=True)) / support.sum(dim=1, keepdim=True), 0.0)  # ... back onto Σv = l1
    return out


def _project_columns(h: torch.Tensor, l1: float) -> torch.Tensor:
    """Each column of h (n, k) onto {≥ 0, ‖·‖₁ = l1, ‖·‖₂ = 1}: sH per component (nmfpack H(i,:))."""
    k = h.shape[1]
    ones = torch.ones(k, dtype=torch.float64, device=h.device)
    return hoyer_projection_rows(h.T, l1 * ones, ones).T.to(h.dtype).contiguous()  # (n, k)


def _project_rows_keep_norm(w: torch.Tensor, l1a: float) -> torch.Tensor:
    """Each row of w (k, pixels) onto sparseness sW at its current L2 norm (nmfpack W(:,i), L1 = L1a·‖W_i‖)."""
    norms = w.double().norm(dim=1)  # (k,)
    safe = norms.clamp_min(1e-30)
    out = hoyer_projection_rows(w / safe[:, None].to(w.dtype), l1a * torch.ones_like(norms), torch.ones_like(norms))
    return torch.where(norms[:, None] > 0, out * norms[:, None], w.double()).to(w.dtype)  # (k, pixels)


# --------------------------------------------------------------------------- model


@dataclass
class NMFSCConfig:
    k: int = 16  # number of atoms (Hoyer's rdim)
    seed: int = 0  # seeds the |randn| init of W and H
    max_iter: int = 200  # rounds of (H update, W update) in fit
    encode_iter: int = 200  # multiplicative updates of H with W fixed, to encode unseen data
    sW: float | None = None  # Hoyer sparseness of every atom, in [0, 1]; None = unconstrained (MU)
    sH: float | None = None  # Hoyer sparseness of every code component across the training samples
    #                          (rows of Hoyer's H = columns of our codes), in [0, 1]; None = unconstrained (MU)
    dtype: str = "float32"  # "float32" | "float64": precision of the updates
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"nmf_sc: dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.k < 1 or self.max_iter < 0 or self.encode_iter < 0:
            raise ValueError(f"nmf_sc: need k >= 1, max_iter >= 0, encode_iter >= 0; got {self}")
        for name in ("sW", "sH"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"nmf_sc: {name} must be None or in [0, 1], got {value}")


class NMFSC(Factorization):
    """history: {"iteration", "loss", "step_W", "step_H"}; loss = ½‖X − s·HW‖²/n in the data's units (float64).

    encode(x): multiplicative updates of H with W fixed (non-negative least squares, each sample on
    its own). The sH constraint is a property of the training set's codes (per component, across
    samples), so it is not imposed on unseen data: a projection across an arbitrary batch would make a
    sample's code depend on the other samples in the batch. The codes of the fitted data, which satisfy sH,
    are kept in `fitted_codes` after fit (saved in the checkpoint only for a point fitted on its test split,
    whose evaluation reads them: Model.save).
    decode(codes) = s · codes @ W, s = max of the training data.

    Every cost (the history and each step-size trial) is ½(‖X‖² − 2⟨XWᵀ, H⟩ + ⟨WWᵀ, HᵀH⟩) from products
    of k columns, never the (n, pixels) residual: XWᵀ and WWᵀ once per H update, HᵀH once per H trial
    (and reused by the W update), HᵀX once per W update.
    """

    name = "nmf_sc"
    config_class = NMFSCConfig
    supports_resume = True  # fit(x, resume=Resume(...)) continues a killed run bit for bit

    def __init__(self, config: NMFSCConfig | None = None):
        super().__init__(config or NMFSCConfig())  # self.W: (k, pixels), for the data divided by `scale`
        self.scale: float | None = None  # max of the training data (nmfsc: V = V/max(V(:)))

    def _init_factors(self, n: int, pixels: int, l1a: float | None, l1s: float | None) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        w = abs_normal(cfg.seed, "W", (cfg.k, pixels), self.device, self.dtype)  # (k, pixels): nmfpack W = abs(randn(vdim, rdim))
        h = abs_normal(cfg.seed, "H", (n, cfg.k), self.device, self.dtype)  # (n, k): nmfpack H = abs(randn(rdim, samples))
        h = h / h.norm(dim=0, keepdim=True)  # (n, k): unit-L2 components (rows of Hoyer's H)
        if l1a is not None:
            w = _project_rows_keep_norm(w / w.norm(dim=1, keepdim=True), l1a)  # nmfpack: projfunc(W(:,i),1,L1a²,1)
        if l1s is not None:
            h = _project_columns(h, l1s)  # nmfpack: projfunc(H(i,:)', L1s, 1, 1)
        return h, w

    # -- Model interface -----------------------------------------------------------------------
    def fit(self, x: np.ndarray, resume: Resume | None = None) -> "NMFSC":
        """Train on x (n, pixels); with `resume`, continue from its saved W, H and step sizes."""
        cfg = self.config
        seed_everything(cfg.seed)
        xt = self._as_tensor(x, "fit")  # (n, pixels)
        self.scale = float(xt.max()) if xt.numel() and float(xt.max()) > 0 else 1.0
        xt = xt / self.scale  # nmfsc: V = V/max(V(:)), avoids over/underflow
        n, pixels = xt.shape
        l1a = l1_for_sparseness(pixels, cfg.sW) if cfg.sW is not None else None  # L1 of a unit-norm atom
        l1s = l1_for_sparseness(n, cfg.sH) if cfg.sH is not None else None  # L1 of a unit-norm component
        xx = squared_norm(xt)  # ‖X‖², once
        s2n = self.scale**2 / n  # history in the original units, per sample
        state = resume.load() if resume else None
        if state is not None:
            h, w = state["h"].to(self.device), state["w"].to(self.device)
            step_w, step_h, self.history = state["step_w"], state["step_h"], state["history"]
        else:
            h, w = self._init_factors(n, pixels, l1a, l1s)
            step_w = step_h = 1.0  # nmfpack's initial step sizes
            obj = frobenius_cost(xx, h.T @ xt, h.T @ h, w)
            self.history = [{"iteration": 0, "loss": obj * s2n, "step_W": step_w, "step_H": step_h}]
        converged = False
        hh = h.T @ h  # (k, k): HᵀH of the current H, carried from the W update to the next H update
        with torch.no_grad():
            for i in range((state or {}).get("step", 0) + 1, cfg.max_iter + 1):
                # ---- H update
                xw, ww = xt @ w.T, w @ w.T  # (n, k), (k, k)
                if l1s is not None:
                    dh = torch.addmm(xw, h, ww, beta=-1)  # (n, k): ∂/∂H ½‖X − HW‖² = (HW − X)Wᵀ (nmfpack dH = W'(WH − V))
                    begobj = _cost_h(xx, xw, ww, h, hh)
                    while True:
                        h_new = _project_columns(torch.add(h, dh, alpha=-step_h), l1s)  # step then project each component
                        hh_new = h_new.T @ h_new  # (k, k)
                        newobj = _cost_h(xx, xw, ww, h_new, hh_new)
                        if newobj <= begobj:
                            break
                        step_h /= 2  # failure: halve the step and retry
                        if step_h < _MIN_STEP:
                            converged = True
                            break
                    if converged:
                        break
                    step_h *= 1.2  # success: slightly larger next time
                    h, hh = h_new, hh_new
                else:
                    h = floor_(h * xw / (h @ ww + _MU_EPS))  # Lee–Seung MU (nmfpack H.*(W'V)./(W'WH + 1e-9)), above the denormals
                    norms = h.norm(dim=0).clamp_min(1e-30)  # (k,): nmfpack renormalises H's rows to unit energy
                    h = h / norms
                    w = w * norms[:, None]  # HW unchanged
                    hh = h.T @ h
                # ---- W update
                hx = h.T @ xt  # (k, pixels)
                if l1a is not None:
                    dw = torch.addmm(hx, hh, w, beta=-1)  # (k, pixels): ∂/∂W ½‖X − HW‖² = Hᵀ(HW − X) (nmfpack dW = (WH − V)H')
                    begobj = frobenius_cost(xx, hx, hh, w)
                    while True:
                        w_new = _project_rows_keep_norm(torch.add(w, dw, alpha=-step_w), l1a)  # sW at each atom's new norm
                        newobj = frobenius_cost(xx, hx, hh, w_new)
                        if newobj <= begobj:
                            break
                        step_w /= 2
                        if step_w < _MIN_STEP:
                            converged = True
                            break
                    if converged:
                        break
                    step_w *= 1.2
                    w = w_new
                else:
                    w = floor_(w * hx / (hh @ w + _MU_EPS))  # Lee–Seung MU (nmfpack W.*(VH')./(WHH' + 1e-9)), above the denormals
                obj = frobenius_cost(xx, hx, hh, w)
                if not np.isfinite(obj):
                    raise FloatingPointError(f"nmf_sc: loss became {obj} at iteration {i}")
                self.history.append({"iteration": i, "loss": obj * s2n, "step_W": step_w, "step_H": step_h})
                if resume and resume.due(i):
                    resume.save({"step": i, "h": h.cpu().clone(), "w": w.cpu().clone(), "step_w": step_w, "step_h": step_h, "history": list(self.history)})
        self.W = w
        self.fitted_codes = h.cpu().numpy().astype(np.float32)  # (n, k)
        self.metadata["device"] = str(self.device)
        self.metadata["converged_early"] = converged  # a step size fell below 1e-200 (nmfpack's stop)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """H for unseen x with W fixed: encode_iter Lee–Seung MU steps from a seeded init (see class doc)."""
        self._check_fitted()
        xt = self._as_tensor(x, "encode") / self.scale  # (n, pixels), in the units W was fitted in
        h = self._uniform("encode", (xt.shape[0], self.config.k), 0.0, init_scale(xt, self.config.k))  # (n, k), sklearn-style scale
        xw, ww = xt @ self.W.T, self.W @ self.W.T  # (n, k), (k, k)
        with torch.no_grad():
            for _ in range(self.config.encode_iter):
                h = floor_(h * xw / (h @ ww + _MU_EPS))  # (n, k): Lee–Seung MU with W fixed
        return h.cpu().numpy().astype(np.float32)  # (n, k)

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        return (self.scale * super().decode(codes, atoms)).astype(np.float32)  # (n, pixels), back in data units

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "scale": torch.tensor(self.scale, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.scale = float(state["scale"])


def _cost_h(xx: float, xw: torch.Tensor, ww: torch.Tensor, h: torch.Tensor, hh: torch.Tensor) -> float:
    """½‖X − HW‖² = ½(‖X‖² − 2⟨XWᵀ, H⟩ + ⟨WWᵀ, HᵀH⟩) for trials of H with W fixed (frobenius_cost's
    expansion from the H side)."""
    return 0.5 * (xx - 2 * dot64(xw, h) + dot64(ww, hh))
