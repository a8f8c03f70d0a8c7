"""PCA baseline: the optimal linear rank-k reconstruction, a reference for the part-based models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Model, seed_everything


@dataclass
class PCAConfig:
    k: int = 16  # number of principal components (atoms)
    seed: int = 0  # seeds everything; the "full" SVD itself is deterministic


class PCA(Model):
    """codes = (x - mean) @ componentsᵀ; x_hat = codes @ components + mean."""

    name = "pca"
    config_class = PCAConfig

    def __init__(self, config: PCAConfig | None = None):
        super().__init__(config or PCAConfig())
        self.components: np.ndarray | None = None  # (k, pixels)
        self.mean: np.ndarray | None = None  # (pixels,)

    def fit(self, x: np.ndarray) -> "PCA":
        seed_everything(self.config.seed)
        x = np.asarray(x, dtype=np.float32)  # (n, pixels)
        from sklearn.decomposition import PCA as _SkPCA  # here: NMF/AE jobs skip sklearn's import cost

        pca = _SkPCA(n_components=self.config.k, svd_solver="full", random_state=self.config.seed).fit(x)
        self.components = pca.components_.astype(np.float32)  # (k, pixels)
        self.mean = pca.mean_.astype(np.float32)  # (pixels,)
        x_hat = self.decode(self.encode(x))  # (n, pixels)
        mse = float(np.mean((x.astype(np.float64) - x_hat) ** 2))
        self.history = [{"iteration": 0, "loss": mse}]  # loss = train MSE per pixel
        return self

    def _check_fitted(self) -> None:
        if self.components is None:
            raise RuntimeError("PCA: call fit() or load_state_dict() first")

    def encode(self, x: np.ndarray) -> np.ndarray:
        self._check_fitted()
        x = np.asarray(x, dtype=np.float32)  # (n, pixels)
        return ((x - self.mean) @ self.components.T).astype(np.float32)  # (n, k)

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        w = self.components if atoms is None else np.asarray(atoms, dtype=np.float32)  # (k, pixels)
        return (np.asarray(codes, dtype=np.float32) @ w + self.mean).astype(np.float32)  # (n, pixels)

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.components  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        # Tensors, so a checkpoint loads with torch.load(weights_only=True).
        return {"components": torch.from_numpy(self.components.copy()), "mean": torch.from_numpy(self.mean.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.components = _to_numpy(state["components"])  # (k, pixels)
        self.mean = _to_numpy(state["mean"])  # (pixels,)


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles in degrees, ascending, between the row spans of a (k_a, pixels) and b (k_b, pixels).

    min(k_a, k_b) angles (scipy.linalg.subspace_angles on the transposes); 0 where the spans share a
    direction, 90 where orthogonal. Used to compare a linear AE's atoms with the PCA subspace
    (properties-of-autoencoders Sec. 3; Bourlard & Kamp 1988).
    """
    from scipy.linalg import subspace_angles

    a = np.asarray(a, dtype=np.float64)  # (k_a, pixels)
    b = np.asarray(b, dtype=np.float64)  # (k_b, pixels)
    return np.sort(np.degrees(subspace_angles(a.T, b.T)))


def _to_numpy(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float32)
