"""PCA through scikit-learn: the linear baseline (a linear AE with MSE spans the same space,
part-based-autoencoders-report Sec. 3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import PCA as SkPCA

from .base import Model, seed_everything


@dataclass
class PCAConfig:
    k: int = 16  # number of principal components (code size)
    seed: int = 0  # seed of the SVD solver (unused by the exact solver; kept for the grid)


class PCA(Model):
    name = "pca"
    config_class = PCAConfig

    def fit(self, x: np.ndarray) -> "PCA":
        seed_everything(self.config.seed)
        pca = SkPCA(n_components=self.config.k, svd_solver="full").fit(x)
        self.components = pca.components_.astype(np.float32)  # (k, pixels)
        self.mean = pca.mean_.astype(np.float32)  # (pixels,)
        self.history = [{"iteration": 0, "loss": float(np.mean((self.decode(self.encode(x)) - x) ** 2, dtype=np.float64))}]
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) @ self.components.T).astype(np.float32)  # (n, k)

    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        atoms = self.components if atoms is None else atoms
        return (codes @ atoms + self.mean).astype(np.float32)  # (n, pixels); the mean acts as the bias

    @property
    def atoms(self) -> np.ndarray:
        return self.components

    def state_dict(self) -> dict[str, Any]:
        return {"components": self.components, "mean": self.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.components = np.asarray(state["components"], dtype=np.float32)
        self.mean = np.asarray(state["mean"], dtype=np.float32)
