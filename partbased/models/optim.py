"""Optimizers for training loops whose steps are short, over parameters held in one flat tensor.

The AE keeps all its parameters in one flat tensor and their gradients in another (AE._bind_flat), so an
update is a handful of whole-model kernels instead of a Python loop over parameters:

- FusedAdam: torch's fused Adam kernel through the public functional API (torch.optim.adam.adam,
  fused=True; CPU and CUDA), without torch.optim.Adam.step()'s ~60 µs of per-call bookkeeping.
- FlatAdadelta: torch.optim.Adadelta's update (Zeiler 2012, Alg. 1), op for op as its foreach path, on
  one tensor: 11 in-place kernels into preallocated buffers, no allocation. Keras 2's defaults.
- LBFGS: minFunc's L-BFGS (Schmidt; what NCAE ran) with its strong-Wolfe line search, in float64, on the
  device: the inverse-Hessian product in the compact form of Byrd, Nocedal & Schnabel (1994), three
  matrix-vector products over the stored pairs instead of the two-loop recursion's 4m vector operations.

The tests check FusedAdam and FlatAdadelta against torch.optim.Adam(fused=True) and torch.optim.Adadelta
bit for bit, and LBFGS against scipy's L-BFGS-B (tests/test_optim.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim.adam import adam as adam_step


class FusedAdam:
    """Adam (Kingma & Ba), no weight decay or amsgrad: the subset the models here use.

    params: tensors updated in place (on one device, of one dtype); grads: their gradients, same shapes
    (default: each parameter's .grad, read at every step).
    """

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        grads: Iterable[torch.Tensor] | None = None,
    ):
        self.params = list(params)
        self.grads = None if grads is None else list(grads)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]  # as Adam(fused=True)

    @torch.no_grad()
    def step(self) -> None:
        """One update from the gradients (the functional API increments the step counts itself)."""
        grads = self.grads if self.grads is not None else [p.grad for p in self.params]
        adam_step(
            self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps, fused=True,
            amsgrad=False, beta1=self.betas[0], beta2=self.betas[1], lr=self.lr, weight_decay=0.0, eps=self.eps, maximize=False,
        )

    def state_dict(self) -> dict[str, Any]:
        return {name: [t.detach().cpu().clone() for t in getattr(self, name)] for name in ("exp_avg", "exp_avg_sq", "steps")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("exp_avg", "exp_avg_sq", "steps"):
            for mine, saved in zip(getattr(self, name), state[name], strict=True):
                mine.copy_(saved)


class FlatAdadelta:
    """Adadelta (Zeiler 2012, Alg. 1) on one flat parameter tensor and its gradient.

    The same operations in the same order as torch.optim.Adadelta's foreach path (torch/optim/adadelta.py,
    _multi_tensor_adadelta), so the result is bit-identical to it, but each is one kernel over the whole
    model and writes into a buffer allocated once. Defaults are Keras 2's (keras/optimizers.py Adadelta:
    lr=1.0, rho=0.95, epsilon=K.epsilon()=1e-7), whose update is the same algorithm: E[g²] ← ρE[g²] + (1−ρ)g²,
    Δ = g·√(E[Δ²] + ε)/√(E[g²] + ε), E[Δ²] ← ρE[Δ²] + (1−ρ)Δ², θ ← θ − lr·Δ. torch's defaults are 0.9 and 1e-6.
    """

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float = 1.0, rho: float = 0.95, eps: float = 1e-7):
        self.param, self.grad = param, grad
        self.lr, self.rho, self.eps = lr, rho, eps
        self.square_avg = torch.zeros_like(param)  # E[g²]
        self.acc_delta = torch.zeros_like(param)  # E[Δ²]
        self._std = torch.empty_like(param)
        self._delta = torch.empty_like(param)

    @torch.no_grad()
    def step(self) -> None:
        rho, eps, g = self.rho, self.eps, self.grad
        self.square_avg.mul_(rho).addcmul_(g, g, value=1 - rho)
        std = torch.add(self.square_avg, eps, out=self._std).sqrt_()
        delta = torch.add(self.acc_delta, eps, out=self._delta).sqrt_().div_(std).mul_(g)
        self.acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        self.param.add_(delta, alpha=-self.lr)

    def state_dict(self) -> dict[str, Any]:
        return {"square_avg": self.square_avg.detach().cpu().clone(), "acc_delta": self.acc_delta.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.square_avg.copy_(state["square_avg"])
        self.acc_delta.copy_(state["acc_delta"])


# --------------------------------------------------------------------------- L-BFGS


def _cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, lo: float, hi: float) -> float:
    """Minimiser over [lo, hi] of the cubic through (x1, f1, f1'=g1) and (x2, f2, f2'=g2).

    minFunc's polyinterp.m for two points with values and derivatives: the cubic's stationary points
    inside the bounds and the bounds themselves, the one where the cubic is lowest; the midpoint of the
    bounds when the fit is not finite.
    """
    if x1 == x2 or not all(map(math.isfinite, (x1, f1, g1, x2, f2, g2))):
        return 0.5 * (lo + hi)
    # p(x) = a (x−x1)³ + b (x−x1)² + g1 (x−x1) + f1, matched to f2 and g2 at x2 (Nocedal & Wright eq. 3.59 setting)
    h = x2 - x1
    a = (g1 + g2) / h**2 - 2 * (f2 - f1) / h**3
    b = 3 * (f2 - f1) / h**2 - (2 * g1 + g2) / h
    candidates = [lo, hi]
    if a != 0:
        disc = b * b - 3 * a * g1
        if disc >= 0:
            root = math.sqrt(disc)
            candidates += [x1 + (-b + root) / (3 * a), x1 + (-b - root) / (3 * a)]
    elif b != 0:
        candidates.append(x1 - g1 / (2 * b))
    inside = [c for c in candidates if lo <= c <= hi and math.isfinite(c)]

    def p(x: float) -> float:
        u = x - x1
        return ((a * u + b) * u + g1) * u + f1

    return min(inside, key=p)


class LBFGS:
    """minFunc's L-BFGS ('lbfgs' method with the bracketing strong-Wolfe line search; Schmidt's minFunc.m,
    lbfgs.m, lbfgsUpdate.m, WolfeLineSearch.m), one iteration per step(), all vectors float64 on x's device.

    fun(x) evaluates the objective at x (float64, (P,)) and returns (f, g, aux): f a Python float, g its
    gradient (any float dtype, copied at once) and aux anything the caller wants back for the accepted
    point (the AE's loss record). Defaults are minFunc's: history (Corr) 100, c1 1e-4, c2 0.9, 25 line-search
    evaluations, optTol 1e-5 on max|g|, progTol 1e-9 on max|t·d| and |Δf|, t = 1 after a first step of
    min(1, 1/Σ|g|).

    Deviations from minFunc, with reasons:
    - a curvature pair is stored when sᵀy > ε_machine·yᵀy (L-BFGS-B's test) instead of sᵀy > 1e-10: minFunc's
      absolute threshold depends on the loss scale and skips every update of an objective as small as the
      AE's mean squared error near its optimum.
    - the interpolation step keeps the trial point inside the bracket on both orders of its ends (minFunc's
      closed form assumes the low end comes first).
    - a NaN/inf trial value halves the step towards the last good one instead of switching to an Armijo
      backtracking search: same purpose, one code path.
    - H·g in the compact form (Byrd, Nocedal & Schnabel 1994, eq. 3.5 for H_k) instead of the two-loop
      recursion: mathematically the same direction (tests/test_optim.py), far fewer kernels on a GPU.
    """

    def __init__(
        self, x: torch.Tensor, fun: Callable[[torch.Tensor], tuple[float, torch.Tensor, Any]], history: int = 100,
        c1: float = 1e-4, c2: float = 0.9, max_ls: int = 25, opt_tol: float = 1e-5, prog_tol: float = 1e-9,
    ):
        if history < 1:
            raise ValueError(f"LBFGS: history must be >= 1, got {history}")
        self.fun = fun
        self.history, self.c1, self.c2, self.max_ls, self.opt_tol, self.prog_tol = history, c1, c2, max_ls, opt_tol, prog_tol
        dev, p = x.device, x.numel()
        self.x = x.detach().to(torch.float64).clone().reshape(-1)  # (P,) the current iterate
        self.pairs = torch.zeros(2, history, p, dtype=torch.float64, device=dev)  # s_i (row 0), y_i (row 1), by slot
        self.sy = torch.zeros(history, history, dtype=torch.float64, device=dev)  # sy[i, j] = s_iᵀ y_j (i stored before j)
        self.yy = torch.zeros(history, history, dtype=torch.float64, device=dev)  # y_iᵀ y_j
        self.slots: list[int] = []  # slot indices from oldest to newest pair
        self.gamma = 1.0  # H_0 = γI, γ = sᵀy/yᵀy of the newest pair (minFunc's Hdiag)
        self.x_old = torch.zeros_like(self.x)
        self.g = torch.zeros(p, dtype=torch.float64, device=dev)
        self.g_old = torch.zeros_like(self.g)
        self.d = torch.zeros_like(self.g)
        self.f, self.f_old, self.t = math.nan, math.nan, 1.0
        self.iteration = 0  # completed iterations
        self.evaluations = 0
        self.stop: str | None = None  # why the last step ended the run (None: keep going)
        self.aux: Any = None  # fun's aux at the current iterate

    # -- evaluation ------------------------------------------------------------------------------

    def _eval(self, x: torch.Tensor) -> tuple[float, torch.Tensor, Any]:
        f, g, aux = self.fun(x)
        self.evaluations += 1
        return float(f), g.detach().to(torch.float64, copy=True).reshape(-1), aux

    def start(self) -> float:
        """Evaluate the initial point (minFunc's first function evaluation); the initial loss."""
        self.f, g, self.aux = self._eval(self.x)
        self.g.copy_(g)
        if not math.isfinite(self.f):
            self.stop = "objective not finite at the initial point"
        elif self.g.abs().max().item() <= self.opt_tol:
            self.stop = "optimality condition below optTol"
        return self.f

    def moved(self, x: torch.Tensor) -> None:
        """The caller moved the iterate (a projection): evaluate there, so the next pair is a true secant pair."""
        if torch.equal(self.x, x.to(self.x)):
            return
        self.x.copy_(x)
        self.f, g, self.aux = self._eval(self.x)
        self.g.copy_(g)

    # -- direction ---------------------------------------------------------------------------------

    def _store_pair(self, s: torch.Tensor, y: torch.Tensor) -> None:
        """minFunc lbfgsUpdate.m: keep (s, y) if it has positive curvature, dropping the oldest past `history`."""
        ys, yy = torch.dot(y, s).item(), torch.dot(y, y).item()
        if not ys > torch.finfo(torch.float64).eps * yy:
            return  # skip: BFGS needs sᵀy > 0 (see the class doc for the threshold)
        slot = self.slots.pop(0) if len(self.slots) == self.history else len(self.slots)
        self.pairs[0, slot].copy_(s)
        self.pairs[1, slot].copy_(y)
        self.slots.append(slot)
        used = torch.tensor(self.slots, device=self.x.device)
        prods = self.pairs[:, used] @ y  # (2, m): s_iᵀy and y_iᵀy for every stored pair, one GEMV
        self.sy[used, slot] = prods[0]
        self.yy[used, slot] = prods[1]
        self.yy[slot, used] = prods[1]
        self.gamma = ys / yy  # minFunc: Hdiag = ys/(y'y)

    def _direction(self) -> torch.Tensor:
        """d = −H g, H the L-BFGS inverse Hessian of the stored pairs (BNS94 eq. 3.5, two-loop recursion's H)."""
        if not self.slots:
            return self.g.neg()
        used = torch.tensor(self.slots, device=self.x.device)  # oldest to newest: the order R needs
        sy, yy, gam = self.sy[used][:, used], self.yy[used][:, used], self.gamma
        r = sy.triu()  # R_ij = s_iᵀ y_j, i ≤ j
        d_diag = sy.diagonal()  # D = diag(s_iᵀ y_i)
        stacked = self.pairs[:, used].reshape(2 * len(self.slots), -1)  # [S; Y], (2m, P)
        ab = stacked @ self.g  # [Sᵀg; Yᵀg], one GEMV
        a, b = ab[: len(self.slots)], ab[len(self.slots) :]
        p1 = torch.linalg.solve_triangular(r, a[:, None], upper=True)[:, 0]  # R⁻¹ Sᵀg
        inner = d_diag * p1 + gam * (yy @ p1) - gam * b  # (D + γYᵀY) R⁻¹Sᵀg − γYᵀg
        top = torch.linalg.solve_triangular(r.mT, inner[:, None], upper=False)[:, 0]  # R⁻ᵀ(…)
        hg = torch.cat([top, -gam * p1]) @ stacked  # S·top − γY·R⁻¹Sᵀg, one GEMV
        return hg.add_(self.g, alpha=gam).neg_()  # −(γg + …)

    # -- line search -------------------------------------------------------------------------------

    def _line_search(self, t: float, gtd: float) -> tuple[float, float, torch.Tensor, Any, int]:
        """minFunc WolfeLineSearch.m (bracketing, then zoom with cubic interpolation): (t, f, g, aux, evals)."""
        x0, d, f0, c1, c2 = self.x, self.d, self.f, self.c1, self.c2
        d_max = d.abs().max().item()

        def at(step: float) -> tuple[float, torch.Tensor, Any, float]:
            f, g, aux = self._eval(torch.add(x0, d, alpha=step))
            return f, g, aux, torch.dot(g, d).item()

        evals = 1  # minFunc's LSiter is evals − 1
        f_new, g_new, aux_new, gtd_new = at(t)
        t_prev, f_prev, g_prev, aux_prev, gtd_prev = 0.0, f0, self.g, self.aux, gtd
        bracket: list[tuple[float, float, torch.Tensor, Any, float]] | None = None
        done = False
        while evals - 1 < self.max_ls:
            if not math.isfinite(f_new) or not math.isfinite(gtd_new):  # stepped into overflow: halve back
                t = 0.5 * (t + t_prev)
                f_new, g_new, aux_new, gtd_new = at(t)
                evals += 1
                continue
            if f_new > f0 + c1 * t * gtd or (evals > 2 and f_new >= f_prev):
                bracket = [(t_prev, f_prev, g_prev, aux_prev, gtd_prev), (t, f_new, g_new, aux_new, gtd_new)]
                break
            if abs(gtd_new) <= -c2 * gtd:  # strong Wolfe conditions hold
                bracket, done = [(t, f_new, g_new, aux_new, gtd_new)], True
                break
            if gtd_new >= 0:
                bracket = [(t_prev, f_prev, g_prev, aux_prev, gtd_prev), (t, f_new, g_new, aux_new, gtd_new)]
                break
            lo, hi = t + 0.01 * (t - t_prev), 10 * t  # extrapolate
            t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, lo, hi)
            t_prev, f_prev, g_prev, aux_prev, gtd_prev = t, f_new, g_new, aux_new, gtd_new
            t = t_next
            f_new, g_new, aux_new, gtd_new = at(t)
            evals += 1
        if bracket is None:  # out of evaluations while extrapolating
            bracket = [(0.0, f0, self.g, self.aux, gtd), (t, f_new, g_new, aux_new, gtd_new)]

        insufficient = False
        while not done and evals - 1 < self.max_ls:
            lo_i = 0 if bracket[0][1] <= bracket[1][1] else 1  # the end with the lower value
            hi_i = 1 - lo_i
            (t1, f1, _, _, d1), (t2, f2, _, _, d2) = bracket
            left, right = min(t1, t2), max(t1, t2)
            t = _cubic_min(t1, f1, d1, t2, f2, d2, left, right)
            if min(right - t, t - left) < 0.1 * (right - left):  # too close to an end: progress guard
                if insufficient or t >= right or t <= left:
                    t = right - 0.1 * (right - left) if abs(t - right) < abs(t - left) else left + 0.1 * (right - left)
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            f_new, g_new, aux_new, gtd_new = at(t)
            evals += 1
            point = (t, f_new, g_new, aux_new, gtd_new)
            if f_new > f0 + c1 * t * gtd or f_new >= bracket[lo_i][1]:
                bracket[hi_i] = point  # Armijo fails or not below the low end
            else:
                if abs(gtd_new) <= -c2 * gtd:
                    done = True
                elif gtd_new * (bracket[hi_i][0] - bracket[lo_i][0]) >= 0:
                    bracket[hi_i] = bracket[lo_i]  # the old low end becomes the high end
                bracket[lo_i] = point
            if not done and abs(bracket[0][0] - bracket[1][0]) * d_max < self.prog_tol:
                break  # minFunc: the line search can make no further progress
        best = min(bracket, key=lambda b: b[1])
        return best[0], best[1], best[2], best[3], evals

    # -- iteration ---------------------------------------------------------------------------------

    def step(self) -> torch.Tensor:
        """One L-BFGS iteration (minFunc.m's loop body); returns the new iterate. Sets .stop when done."""
        if self.stop is not None:
            return self.x
        if self.iteration == 0:
            self.d = self.g.neg()
        else:
            self._store_pair(self.x - self.x_old, self.g - self.g_old)  # s = t·d unless the caller moved x
            self.d = self._direction()
        self.g_old.copy_(self.g)
        self.x_old.copy_(self.x)
        gtd = torch.dot(self.g, self.d).item()
        if not gtd < -self.prog_tol:
            self.stop = "directional derivative below progTol"
            return self.x
        t = min(1.0, 1.0 / self.g.abs().sum().item()) if self.iteration == 0 else 1.0
        self.f_old = self.f
        t, f, g, aux, _ = self._line_search(t, gtd)
        self.x.add_(self.d, alpha=t)
        self.t, self.f, self.aux = t, f, aux
        self.g.copy_(g)
        self.iteration += 1
        if self.g.abs().max().item() <= self.opt_tol:
            self.stop = "optimality condition below optTol"
        elif (self.d.abs().max().item() * abs(t)) <= self.prog_tol:
            self.stop = "step size below progTol"
        elif abs(self.f - self.f_old) < self.prog_tol:
            self.stop = "function value changing by less than progTol"
        return self.x

    # -- state -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        used = self.slots
        cpu = lambda t: t.detach().cpu().clone()  # noqa: E731
        return {
            "x": cpu(self.x), "x_old": cpu(self.x_old), "g": cpu(self.g), "g_old": cpu(self.g_old), "d": cpu(self.d),
            "pairs": cpu(self.pairs[:, used]), "sy": cpu(self.sy[used][:, used]), "yy": cpu(self.yy[used][:, used]),
            "gamma": self.gamma, "f": self.f, "f_old": self.f_old, "t": self.t, "iteration": self.iteration,
            "evaluations": self.evaluations, "stop": self.stop, "aux": self.aux,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        m = state["pairs"].shape[1]
        if m > self.history:
            raise ValueError(f"LBFGS: saved state holds {m} pairs, more than history={self.history}")
        for name in ("x", "x_old", "g", "g_old", "d"):
            getattr(self, name).copy_(state[name])
        self.pairs[:, :m].copy_(state["pairs"])
        self.sy[:m, :m].copy_(state["sy"])
        self.yy[:m, :m].copy_(state["yy"])
        self.slots = list(range(m))  # saved oldest to newest
        for name in ("gamma", "f", "f_old", "t", "iteration", "evaluations", "stop", "aux"):
            setattr(self, name, state[name])
