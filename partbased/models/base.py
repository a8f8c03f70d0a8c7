"""The common model interface every family implements, plus checkpoint I/O and seeding."""

from __future__ import annotations

import dataclasses
import os
import random
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch


def seed_everything(seed: int) -> None:
    """One explicit seeding call, made first by every fit()."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Model(ABC):
    """fit(train) -> model; encode(x) -> (n, k); decode(codes, atoms=None) -> (n, pixels); atoms -> (k, pixels).

    Arrays crossing this interface are NumPy float32, one flattened image per row.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config):
        self.config = config
        # One dict per epoch/iteration, written as the training-history CSV.
        self.history: list[dict[str, float]] = []
        # Facts about the run (train_seconds, device, image_shape), saved with the checkpoint.
        self.metadata: dict[str, Any] = {}

    @abstractmethod
    def fit(self, x: np.ndarray) -> "Model":
        """Train on x (n, pixels). Families with a training loop (nmf, ae) also take `resume=Resume(...)`."""

    @abstractmethod
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Codes (n, k) of x (n, pixels)."""

    @abstractmethod
    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        """Reconstruction (n, pixels) of codes (n, k); `atoms` (k, pixels) replaces the learnt ones."""

    @property
    @abstractmethod
    def atoms(self) -> np.ndarray:
        """The dictionary, one atom image per row: (k, pixels)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything learnt, as tensors/arrays, enough to rebuild the model with load_state_dict."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of state_dict."""

    @property
    def diverged(self) -> bool:
        """True when fit stopped on a NaN/inf loss (metadata status set by the training script)."""
        return self.metadata.get("status") == "diverged"

    def save(self, path: str | Path) -> None:
        """Atomic checkpoint: {"model": family, "config": asdict(cfg), "state": ..., "history": [...], "metadata": {...}}."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": self.name,
            "config": dataclasses.asdict(self.config),
            "state": None if self.diverged else self.state_dict(),
            "history": self.history,
            "metadata": self.metadata,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def history_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.history)
