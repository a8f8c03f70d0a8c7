"""The protocol's linear SVMs in torch: every C × every split × every class solved together.

The problem is exactly the one `LinearSVC(dual=False)` hands to liblinear (solver L2R_L2LOSS_SVC):
for each one-vs-rest problem (binary data: one problem, +1 for the second class, as liblinear),
with the intercept as an extra feature of value intercept_scaling = 1 that is regularised like
the weights,

    min_w f(w) = ½‖w‖² + C Σ_i max(0, 1 − y_i wᵀx_i)²                      (l2r_l2_svc_fun::fun)
    ∇f(w) = w + 2C Σ_{i∈I} y_i (y_i wᵀx_i − 1) x_i,  I = {i : y_i wᵀx_i < 1}   (l2r_l2_svc_fun::grad)
    ∇²f(w) v = v + 2C Σ_{i∈I} x_i x_iᵀ v   (the generalised Hessian)          (l2r_l2_svc_fun::Hv)

(scikit-learn's bundled liblinear, sklearn/svm/src/liblinear/linear.cpp).

Stopping rule (a deviation from liblinear, whose test ‖∇f(w)‖ ≤ eps·max(min(#pos, #neg), 1)/l·‖∇f(0)‖,
train_one's primal_solver_tol, scales with ‖∇f(0)‖ = 2C‖Σ y_i x_i‖ and is loose at large C: with
it, warm-started solves stopped 5e-3 above the optimum at LinearSVC's eps = 1e-4, and 2e-4 above
it at eps = 1e-6 on digits at C = 1000 (measured)): f is 1-strongly convex (the ½‖w‖² term), so f(w) − f* ≤ ½‖∇f(w)‖², and each
problem stops when ½‖∇f(w)‖² ≤ TOL·f(w): its objective is then provably within TOL (1e-9) relative
of the optimum.

The method is liblinear's line-search Newton (cjlin1/liblinear newton.cpp, v2.40+; Galli & Lin, "A study
on truncated Newton methods for linear classification", IEEE TNNLS 2022), run as batched tensor work:
- the Newton direction by preconditioned CG on the generalised Hessian with liblinear's
  preconditioner M = (1 − 0.01)·I + 0.01·diag(∇²f) and its stopping rule on the quadratic model
  (NEWTON::pcg: stop when k·(Q_k − Q_{k−1}) ≥ min(ETA_CG, √‖g‖_{M⁻¹})·Q_k), at most max(d, 5) steps;
  once CG needs d/2 steps (ill-conditioned: large C, nearly separable classes), the exact direction
  by a Cholesky factorisation of the d × d Hessian instead (cheaper then, and exact);
- the step by an exact line search instead of liblinear's backtracking: f(w + t s) is a convex
  piecewise quadratic in t whose derivative costs O(n) once X s is known (safeguarded Newton on
  it; the same idea as the modified finite Newton method of Keerthi & DeCoste, JMLR 6, 2005);
- warm starts along the increasing C path (liblinear's warm-start parameter search, linear.cpp
  find_parameters), each C starting from the previous solutions extrapolated linearly in log C;
- all problems of one C at once: every split's training set is a mask on the same rows, so one
  matrix product X @ W (n, d)·(d, splits × classes) serves them all. On the CPU the problems go one
  class at a time (the arrays stay in cache) on a working set of rows (inactive rows add nothing to
  f, ∇f, ∇²f; all rows are checked at the end); on CUDA everything is one batch.

All arithmetic is float64 (the stopping rule at TOL needs it; the codes arrive as float32).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from partbased.models.base import resolve_device

log = logging.getLogger("partbased")

TOL = 1e-9  # stop when ½‖∇f‖² ≤ TOL·f: the objective is within TOL relative of the optimum
ALPHA_PCG = 0.01  # newton.cpp: M = (1 - alpha_pcg) I + alpha_pcg diag(H)
ETA_CG = 0.01  # CG forcing term (newton.cpp eps_cg = 0.1; 0.01 measured faster here: fewer Newton steps)
LINE_SEARCH_STEPS = 40  # safeguarded Newton steps on f'(t); 1–3 are typical
WORKING_MARGIN = 0.5  # CPU: iterate on rows with margin < 1 + this in some column, then check all rows


@dataclass
class PathFit:
    """One-vs-rest linear SVMs for every C (rows) and every split (columns) of one protocol stage."""

    Cs: np.ndarray  # (n_C,) the C values, increasing
    classes: np.ndarray  # (K,) sorted labels, as LinearSVC.classes_
    accuracy: np.ndarray  # (n_C, S) accuracy on each split's test rows, as accuracy_score
    converged: np.ndarray  # (n_C, S) bool: every problem of the fit met the stopping rule within max_iter
    objective: np.ndarray  # (n_C, S, P) f(w) at the solution, P problems (1 if K == 2, else K)
    n_iter: np.ndarray  # (n_C, S, P) Newton iterations of each problem at that C
    coef: np.ndarray | None  # (n_C, S, P, k + 1) weights, intercept last (only with keep_coef)


def _targets(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """±1 targets (n, P): one column per class, or one (+1 = classes[1]) for two classes (liblinear's train)."""
    if len(classes) == 2:
        return np.where(labels == classes[1], 1.0, -1.0)[:, None]
    return np.where(labels[:, None] == classes[None, :], 1.0, -1.0)


def fit_path(
    x: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    Cs: Sequence[float],
    *,
    max_iter: int,
    tol: float = TOL,
    device: str = "auto",
    keep_coef: bool = False,
    batch: str = "auto",
    progress: Callable[[int, int, float], None] | None = None,
) -> PathFit:
    """Fit LinearSVC(dual=False)'s problem on each split's training rows for each C, score its test rows.

    x (n, k) codes, labels (n,), splits: (train_idx, test_idx) pairs into x, Cs: the C grid
    (solved in increasing order, each from the previous ones' solutions). Each problem stops when
    its objective is provably within tol (relative) of the optimum; max_iter caps its Newton
    iterations at each C, and a problem that misses the stopping rule by then is reported in
    `converged`. batch: "class" solves one class's problems (all splits) at a time on
    working sets of rows, "all" every problem of a C in one batch on all rows, "auto" the first on
    the CPU and the second on CUDA (both give the same solutions). progress(done, total, seconds)
    is called after each (C, chunk) solve, total = n_C × chunks.
    """
    if batch not in ("auto", "class", "all"):
        raise ValueError(f"fit_path: batch must be 'auto', 'class' or 'all', got {batch!r}")
    t_start = time.perf_counter()
    dev = resolve_device(device)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"fit_path needs at least 2 classes, got {len(classes)}")
    Cs = np.asarray(Cs, dtype=np.float64)
    if Cs.ndim != 1 or len(Cs) == 0 or not np.all(Cs > 0) or not np.all(np.isfinite(Cs)):
        raise ValueError(f"fit_path: Cs must be a non-empty list of finite C > 0, got {Cs}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(labels) or not np.all(np.isfinite(x)):
        raise ValueError(f"fit_path: x must be finite (n, k) rows with n == len(labels); got shape {x.shape}")
    order = np.argsort(Cs, kind="stable")
    n, k = x.shape
    S = len(splits)
    targets = _targets(labels, classes)  # (n, P)
    P = targets.shape[1]
    train = np.zeros((n, S), dtype=bool)
    for s, (tr, _) in enumerate(splits):
        train[tr, s] = True
    # A class absent from a split's training rows is absent from that fit's classes_ in scikit-learn:
    # it can never be predicted there.
    present = np.stack([np.isin(classes, labels[tr]) for tr, _ in splits])  # (S, K)
    for s in range(S):
        if present[s].sum() < 2:
            raise ValueError(f"split {s}: its training rows hold {present[s].sum()} class(es); a linear SVM needs 2")

    X = torch.as_tensor(np.c_[x, np.ones(n)], device=dev)  # (n, d): bias feature = 1
    d = k + 1
    # One chunk of columns per class on the CPU (cache-sized arrays, CG on the chunk's active rows);
    # one chunk with all of them on CUDA.
    gather = batch == "class" or (batch == "auto" and dev.type == "cpu")
    chunks = [[p] for p in range(P)] if gather else [list(range(P))]
    # (n, S·p) targets in {-1, 0, 1} of each chunk: column (s, q) is problem q on split s's training rows
    chunk_T = [torch.as_tensor((train[:, :, None] * targets[:, None, ps]).reshape(n, S * len(ps)), device=dev) for ps in chunks]
    n_C = len(Cs)
    objective = np.zeros((n_C, S, P))
    n_iter = np.zeros((n_C, S, P), dtype=np.int64)
    ok = np.zeros((n_C, S, P), dtype=bool)
    coef = np.zeros((n_C, S, P, d)) if keep_coef else None
    tests = [np.asarray(te) for _, te in splits]
    decision = [np.zeros((n_C, len(te), P)) for te in tests]  # decision values on each split's test rows

    def solve_chunk(c: int) -> None:
        """The whole C path of one chunk's problems (classes are independent problems)."""
        ps = chunks[c]
        shape = (S, len(ps))
        W = W_before = None
        for step, j in enumerate(order):
            C = float(Cs[j])
            if W is None:
                start = torch.zeros(d, chunk_T[c].shape[1], dtype=torch.float64, device=dev)
            elif W_before is None or Cs[order[step - 1]] == Cs[order[step - 2]]:
                start = W
            else:  # the solution path is smooth in log C: extrapolate the last two solutions linearly
                ratio = np.log(C / Cs[order[step - 1]]) / np.log(Cs[order[step - 1]] / Cs[order[step - 2]])
                start = W + float(ratio) * (W - W_before)
            W_before = W
            W, z, it, conv, f = _newton(X, chunk_T[c], C, start, tol, max_iter, gather)
            z = z.cpu().numpy().reshape(n, *shape)
            for s, te in enumerate(tests):
                decision[s][j][:, ps] = z[te, s]
            ok[j][:, ps] = conv.cpu().numpy().reshape(shape)
            objective[j][:, ps] = f.cpu().numpy().reshape(shape)
            n_iter[j][:, ps] = it.cpu().numpy().reshape(shape)
            if keep_coef:
                coef[j][:, ps] = W.T.cpu().numpy().reshape(*shape, d)
            if progress is not None:
                progress(c * n_C + step + 1, n_C * len(chunks), time.perf_counter() - t_start)

    for c in range(len(chunks)):  # (Python threads over chunks measured slower than torch's own threads)
        solve_chunk(c)
    converged = ok.all(axis=2)
    y_index = np.searchsorted(classes, labels)
    accuracy = np.stack([[np.mean(_predict(decision[s][j], present[s]) == y_index[te]) for s, te in enumerate(tests)] for j in range(n_C)])
    return PathFit(Cs, classes, accuracy, converged, objective, n_iter, coef)


def _predict(decision: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Class indices as LinearClassifierMixin.predict: decision > 0 for two classes, else the first argmax."""
    if decision.shape[1] == 1:
        return (decision[:, 0] > 0).astype(np.int64)
    return np.where(present, decision, -np.inf).argmax(axis=1)


def _newton(
    X: torch.Tensor, T: torch.Tensor, C: float, W: torch.Tensor, tol: float, max_iter: int, gather: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Minimise f for every column of T (targets ±1, 0 = row not in that problem) from W (d, P).

    Returns W, z = X W (n, P), Newton iterations (P,), converged (P,) bool and f(W) (P,).

    Rows with margin y_i wᵀx_i ≥ 1 add nothing to f, ∇f or ∇²f. With `gather` (CPU) the Newton
    iterations run on a working set, the rows whose margin is below 1 + WORKING_MARGIN in some
    column, and the full data is checked at the end: if no row outside the working set has entered
    I (margin < 1), f, ∇f and the stopping rule on the working set are those on all rows, so the
    solution is exact; otherwise the working set is rebuilt and the iterations go on.
    """
    P = W.shape[1]
    n_iter = torch.zeros(P, dtype=torch.long, device=W.device)
    converged = torch.zeros(P, dtype=torch.bool, device=W.device)
    entered = torch.zeros(P, dtype=torch.bool, device=W.device)  # columns with rows outside the working set in I
    included = T != 0
    z = X @ W  # (n, P) decision values
    while True:
        if gather:
            rows = torch.nonzero(((T * z < 1 + WORKING_MARGIN) & included).any(dim=1)).squeeze(1)
            Xw, Tw, zw = X[rows], T[rows], z[rows]
        else:
            Xw, Tw, zw = X, T, z
        W, zw = _newton_on(Xw, Tw, zw, C, W, tol, max_iter, n_iter, converged, gather)
        if not gather:
            z = zw
            break
        z = X @ W
        outside = torch.ones(len(X), dtype=torch.bool, device=X.device)
        outside[rows] = False
        entered = ((T[outside] * z[outside] < 1) & included[outside]).any(dim=0)  # (P,)
        if not bool((entered & (n_iter < max_iter)).any()):
            break
    margin = T * z
    hinge = torch.where((margin < 1) & included, 1 - margin, 0.0)
    f = 0.5 * (W * W).sum(0) + C * (hinge * hinge).sum(0)  # l2r_l2_svc_fun::fun
    return W, z, n_iter, converged & ~entered, f


def _newton_on(
    X: torch.Tensor,
    T: torch.Tensor,
    z: torch.Tensor,
    C: float,
    W: torch.Tensor,
    tol: float,
    max_iter: int,
    n_iter: torch.Tensor,
    converged: torch.Tensor,
    gather: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Newton iterations on the rows given (z = X W) until every column meets ½‖∇f‖² ≤ tol·f or has
    max_iter iterations; n_iter and converged are updated in place. Returns W and z.

    Columns that stop are set aside, so that the products run on the columns still iterating only.
    """
    W, z = W.clone(), z.clone()
    cols = torch.arange(W.shape[1], device=W.device)  # the columns still iterating
    Tc, zc, Wc = T, z, W
    exact = False
    while True:
        included = Tc != 0  # (n, p)
        margin = Tc * zc  # (n, p): y_i wᵀx_i, 0 on excluded rows
        active = (margin < 1) & included  # the set I of the generalised Hessian
        if gather:  # only rows in I count for ∇f and ∇²f
            rows = torch.nonzero(active.any(dim=1)).squeeze(1)
            Xa, Ta, act, ma = X[rows], Tc[rows], active[rows], margin[rows]
        else:
            Xa, Ta, act, ma = X, Tc, active, margin
        resid = torch.where(act, ma - 1, 0.0)  # (n_a, p): y_i wᵀx_i − 1 on I
        grad = Wc + (2 * C) * (Xa.T @ (Ta * resid))  # (d, p) l2r_l2_svc_fun::grad
        f = 0.5 * (Wc * Wc).sum(0) + C * (resid * resid).sum(0)  # (p,) l2r_l2_svc_fun::fun
        # f is 1-strongly convex (the ½‖w‖² term), so f(w) − f* ≤ ½‖∇f(w)‖²: a certificate.
        met = 0.5 * (grad * grad).sum(0) <= tol * f
        stop = met | (n_iter[cols] >= max_iter)
        if bool(stop.any()):
            done = cols[stop]
            W[:, done], z[:, done], converged[done] = Wc[:, stop], zc[:, stop], met[stop]
            keep = ~stop
            if not bool(keep.any()):
                return W, z
            cols, Tc, zc, Wc = cols[keep], Tc[:, keep], zc[:, keep], Wc[:, keep]
            included, margin, grad, Ta, act = included[:, keep], margin[:, keep], grad[:, keep], Ta[:, keep], act[:, keep]
        n_iter[cols] += 1
        if exact:
            s = _newton_direction(Xa, act.to(X.dtype), C, grad)  # (d, p)
        else:
            s, cg_steps = _pcg(Xa, act.to(X.dtype), C, grad)  # (d, p) truncated Newton direction
            # Ill-conditioned Hessians (large C, nearly separable classes) make CG long and its
            # directions poor; past d/2 steps a d x d Cholesky per column is cheaper than CG, and exact.
            exact = cg_steps >= X.shape[1] // 2
        u = X @ s  # (n, p): all rows given, inactive ones may enter I along the step
        t = _line_search(margin, Tc * u, included, C, Wc, s, grad)
        Wc = Wc + t * s
        zc = zc + t * u


def _pcg(Xa: torch.Tensor, act: torch.Tensor, C: float, grad: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Preconditioned CG for ∇²f s = −g, one system per column (newton.cpp NEWTON::pcg); returns s and the steps run."""
    d = grad.shape[0]
    # get_diag_preconditioner: diag(∇²f) = 1 + 2C Σ_{i∈I} x_ij², mixed with I by alpha_pcg.
    M = (1 - ALPHA_PCG) + ALPHA_PCG * (1 + (2 * C) * ((Xa * Xa).T @ act))  # (d, P)
    live = torch.ones(grad.shape[1], dtype=torch.bool, device=grad.device)
    s = torch.zeros_like(grad)
    r = -grad
    zr = r / M
    p = zr.clone()
    rz = torch.linalg.vecdot(zr, r, dim=0)
    cgtol = torch.clamp(torch.sqrt(torch.sqrt(rz)), max=ETA_CG)  # min(eps_cg, sqrt(‖g‖_{M⁻¹}))
    Q = torch.zeros_like(rz)
    # Columns that have stopped keep alpha = 0, so s stays theirs; their p, r, rz may go on changing.
    for k in range(1, max(d, 5) + 1):
        Hp = torch.addmm(p, Xa.T, act * (Xa @ p), alpha=2 * C)  # (d, P) l2r_l2_svc_fun::Hv: p + 2C Xᵀ D X p
        pHp = torch.linalg.vecdot(p, Hp, dim=0)
        live &= pHp > 1e-16  # newton.cpp: avoid 0/0
        alpha = torch.where(live, rz / pHp, 0.0)
        s.addcmul_(p, alpha)
        r.addcmul_(Hp, alpha, value=-1.0)
        Q_new = -0.5 * torch.linalg.vecdot(s, r - grad, dim=0)  # quadratic model at s: gᵀs + ½ sᵀHs
        # newton.cpp: stop when k·(Q_k − Q_{k−1}) ≥ cgtol·Q_k (relative decrease has stalled)
        dQ = Q_new - Q
        live &= (Q_new <= 0) & (dQ <= 0) & (k * dQ < cgtol * Q_new)
        if not bool(live.any()):
            break
        Q = Q_new
        zr = r / M
        rz_new = torch.linalg.vecdot(zr, r, dim=0)
        p = torch.addcmul(zr, torch.where(live, rz_new / rz, 0.0), p)
        rz = rz_new
    return s, k


def _newton_direction(Xa: torch.Tensor, act: torch.Tensor, C: float, grad: torch.Tensor) -> torch.Tensor:
    """The exact Newton direction −(∇²f)⁻¹ g per column, by Cholesky of the generalised Hessian
    I + 2C Σ_{i∈I} x_i x_iᵀ (d × d per column, formed in blocks of columns to bound memory)."""
    n_a, d = Xa.shape
    P = grad.shape[1]
    block = max(1, (1 << 24) // max(1, n_a * d))
    eye = torch.eye(d, dtype=Xa.dtype, device=Xa.device)
    out = torch.empty_like(grad)
    for b in range(0, P, block):
        a = act[:, b : b + block].T  # (p, n_a)
        H = eye + (2 * C) * torch.matmul((Xa[None] * a[:, :, None]).transpose(1, 2), Xa)  # (p, d, d)
        L = torch.linalg.cholesky(H)
        out[:, b : b + block] = torch.cholesky_solve(-grad[:, b : b + block].T[:, :, None], L)[:, :, 0].T
    return out


def _line_search(
    margin: torch.Tensor, v: torch.Tensor, included: torch.Tensor, C: float, W: torch.Tensor, s: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    """Step t minimising φ(t) = f(W + t s) per column; φ'(t) = t sᵀs + wᵀs + 2C Σ_{m_i + t v_i < 1} (m_i + t v_i − 1) v_i.

    margin (n, P) = y_i wᵀx_i and v = y_i sᵀx_i. φ' is increasing and piecewise linear, φ'(0) = gᵀs < 0:
    safeguarded Newton steps on it inside the bracket [lo, hi] where φ' changes sign, from t = 1
    (the Newton step of an unchanged active set). Only rows in I for some t ≤ t_max enter the sums
    (those in I at t = 0 or at t_max: m + t v is linear in t); t_max grows if a step needs it.
    """
    ss = (s * s).sum(0)
    ws = (W * s).sum(0)
    slope0 = (grad * s).sum(0)  # φ'(0) < 0
    t = torch.ones_like(ss)
    lo = torch.zeros_like(ss)
    hi = torch.full_like(ss, float("inf"))
    done = torch.zeros_like(ss, dtype=torch.bool)
    t_max = 4.0
    while True:
        rows = torch.nonzero((((margin < 1) | (margin + t_max * v < 1)) & included).any(dim=1)).squeeze(1)
        m, vr, inc = margin[rows], v[rows], included[rows]
        for _ in range(LINE_SEARCH_STEPS):
            m_t = m + t * vr
            on = (m_t < 1) & inc
            slope = t * ss + ws + (2 * C) * torch.where(on, (m_t - 1) * vr, 0.0).sum(0)
            curv = ss + (2 * C) * torch.where(on, vr * vr, 0.0).sum(0)
            done = done | (slope.abs() <= 1e-12 * slope0.abs()) | (torch.isfinite(hi) & (hi - lo <= 1e-15 * hi))
            if bool(done.all()):
                return t
            lo = torch.where(slope < 0, t, lo)
            hi = torch.where(slope > 0, t, hi)
            t_new = t - slope / curv
            outside = (t_new <= lo) | (t_new >= hi)
            t_new = torch.where(outside, torch.where(torch.isinf(hi), 2 * t, 0.5 * (lo + hi)), t_new)
            t = torch.where(done, t, t_new)
            if bool((t > t_max).any()):  # beyond the rows gathered: gather for a longer range
                break
        else:
            return t
        t_max = 4 * float(t.max())
