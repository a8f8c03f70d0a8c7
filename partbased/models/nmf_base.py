"""What the NMF families (nmf, sparse_nmf, nmf_sc) share, written once: the model base class, the
seeded random streams of their inits, the init scale, ‖X‖² and the Euclidean cost from reused products.

Rows are samples throughout: X (n, pixels) ≈ H (n, k) @ W (k, pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base import Model, resolve_device

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

# One independent random stream per use. Stream s of seed q is np.random.SeedSequence(q).spawn(...)[s]
# (= SeedSequence(q, spawn_key=(s,))): its PCG64 state is a hash of (q, s), so no stream of one seed is a
# shifted copy of another seed's (Generator(seed + offset) made W of seed 1 the H of seed 0).
STREAMS = {"W": 0, "H": 1, "encode": 2, "order": 3, "eps": 4}


def stream(seed: int, name: str) -> np.random.Generator:
    """The NumPy generator of stream `name` (a key of STREAMS) of `seed`; draws are on the CPU, so every
    device gets the same numbers."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream {name!r}; known: {sorted(STREAMS)}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(STREAMS[name],))))


def uniform(seed: int, name: str, shape: tuple[int, ...], low: float, high: float, device, dtype) -> torch.Tensor:
    """U[low, high) of `shape` from stream `name`, drawn in float64 on the CPU, then moved and cast."""
    u = stream(seed, name).random(shape)  # float64
    return torch.from_numpy(low + (high - low) * u).to(device, dtype)


def abs_normal(seed: int, name: str, shape: tuple[int, ...], device, dtype) -> torch.Tensor:
    """|N(0, 1)| of `shape` from stream `name` (nmfpack's abs(randn(...))), drawn on the CPU."""
    return torch.from_numpy(np.abs(stream(seed, name).standard_normal(shape))).to(device, dtype)


def squared_norm(x: torch.Tensor, rows: int = 4096) -> float:
    """‖x‖² summed in float64, a block of rows at a time (a float32 sum over ~50M values is off by ~1 %;
    a float64 copy of the whole matrix would double its memory)."""
    return sum(float(torch.sum(block * block, dtype=torch.float64)) for block in x.split(rows))


def init_scale(x: torch.Tensor, k: int) -> float:
    """scikit-learn's random-init scale sqrt(mean(X)/k), so that H W starts with X's mean (1 if X is 0).
    The mean is summed in float64 without a float64 copy of X."""
    mean = float(x.sum(dtype=torch.float64)) / max(x.numel(), 1)
    return float(np.sqrt(max(mean, 0.0) / k)) or 1.0


def floor_(factor: torch.Tensor) -> torch.Tensor:
    """Clamp a multiplicatively updated factor at tiny/eps of its dtype (≈ 1e-31 in float32, 1e-292 in
    float64), in place. Multiplicative updates shrink unused entries geometrically; below the smallest
    normal number (1.2e-38 in float32) they become denormals, on which x86 arithmetic is 10–100×
    slower (400 MU iterations of 5000 MNIST rows, k = 100: 56 s against 6 s with the floor). At the
    floor an entry adds nothing measurable to HW (its products with entries ≥ eps stay normal) and can
    still grow back. A positive lower bound ε is also the usual modification of Lee–Seung updates for
    their convergence (Takahashi & Hibi 2014, Comput. Optim. Appl. 57).
    """
    info = torch.finfo(factor.dtype)
    return factor.clamp_min_(info.tiny / info.eps)


def dot64(a: torch.Tensor, b: torch.Tensor) -> float:
    """⟨a, b⟩ = Σ a⊙b, summed in float64 (the operands stay in their dtype: no float64 copies)."""
    return float(torch.sum(a * b, dtype=torch.float64))


def frobenius_cost(xx: float, hx: torch.Tensor, hh: torch.Tensor, w: torch.Tensor, ww: torch.Tensor | None = None) -> float:
    """½‖X − H W‖² without the (n, pixels) residual (Eggert & Körner eq. 3, Hoyer 2004 eq. 2):

        ‖X − HW‖² = ‖X‖² − 2⟨HᵀX, W⟩ + ⟨HᵀH, W Wᵀ⟩,

    from ‖X‖² (`xx`), HᵀX (k, pixels) and HᵀH (k, k) that the W update already has. The small
    inner products are summed in float64, so that monotonicity is visible beyond float32 rounding.
    """
    ww = w @ w.T if ww is None else ww  # (k, k)
    return 0.5 * (xx - 2 * dot64(hx, w) + dot64(hh, ww))


class Factorization(Model):
    """Nonnegative input on the device, atoms = rows of W, R = H W.

    Subclasses set `name` and `config_class` (a config with `k`, `seed`, `dtype` and `device`) and fit `self.W`.
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

    def _uniform(self, name: str, shape: tuple[int, int], low: float, high: float) -> torch.Tensor:
        return uniform(self.config.seed, name, shape, low, high, self.device, self.dtype)

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
