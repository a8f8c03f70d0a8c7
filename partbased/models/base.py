"""The common model interface every family implements, plus checkpoint I/O and seeding."""

from __future__ import annotations

import dataclasses
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from .checkpoint import save_payload


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


HistoryObserver = Callable[[dict], None]


class History(list):
    """Model.history: a list that tells its observers about every row appended (progress, partial CSVs).

    The families only append rows and assign whole lists, so observing needs nothing from them.
    """

    def __init__(self, rows: Iterable[dict] = (), observers: list[HistoryObserver] | None = None):
        super().__init__(rows)
        self.observers = observers if observers is not None else []

    def append(self, row: dict) -> None:
        super().append(row)
        for observer in self.observers:
            observer(row)

    def extend(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.append(row)

    def __iadd__(self, rows: Iterable[dict]) -> "History":
        self.extend(rows)
        return self


class Model(ABC):
    """fit(train) -> model; encode(x) -> (n, k); decode(codes, atoms=None) -> (n, pixels); atoms -> (k, pixels).

    Arrays crossing this interface are NumPy float32, one flattened image per row.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    # fit() takes `resume=Resume(...)`: it continues from a saved loop state and saves one every few steps
    supports_resume: ClassVar[bool] = False

    def __init__(self, config):
        self.config = config
        # One dict per epoch/iteration, written as the training-history CSV.
        self.history: list[dict[str, float]] = []
        # Facts about the run (train_seconds, device, image_shape), saved with the checkpoint.
        self.metadata: dict[str, Any] = {}
        # (n_fit, k): the codes fit() found for the data it was fitted on, where the family's fit makes its own
        # (nmf_sc: H, which satisfies sH across those samples; encode() of the same data would not). None elsewhere.
        self.fitted_codes: np.ndarray | None = None

    @property
    def history(self) -> History:
        return self._history

    @history.setter
    def history(self, rows: Iterable[dict]) -> None:  # a restored or fresh list keeps the observers
        self._history = History(rows, self.__dict__.setdefault("_history_observers", []))

    def observe_history(self, observer: HistoryObserver) -> None:
        """Call observer(row) for every row appended to the history from now on."""
        self.__dict__.setdefault("_history_observers", []).append(observer)

    def progress(self, row: dict) -> tuple[int, int | None]:
        """(steps done, steps in the whole fit or None) after the history row `row`.

        Default: rows counted by "epoch" (from 0) out of config.epochs, or by "iteration" (0 = the
        initial state) out of config.max_iter; families with other rows override this.
        """
        if "epoch" in row:
            return int(row["epoch"]) + 1, getattr(self.config, "epochs", None)
        if "iteration" in row:
            return int(row["iteration"]), getattr(self.config, "max_iter", None)
        return len(self.history), None

    @abstractmethod
    def fit(self, x: np.ndarray) -> "Model":
        """Train on x (n, pixels). Families with `supports_resume` also take `resume=Resume(...)`."""

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
        """True when fit stopped on a NaN/inf loss (metadata status set by run.run_point)."""
        return self.metadata.get("status") == "diverged"

    def save(self, path: str | Path) -> None:
        """Atomic checkpoint: {"model": family, "config": asdict(cfg), "state": ..., "history": [...], "metadata": {...},
        "fitted_codes": ...}.

        Plain types and tensors only (NumPy scalars converted), with a digest: models.load_model reads
        it with torch.load(weights_only=True) and checks it (models/checkpoint.py). fitted_codes are kept only
        for a model fitted on the test split (metadata fit_split "test"): its evaluation reads them instead of
        encoding the same images again, as the part-based AE study evaluated nmfsc's own H.
        """
        keep_codes = self.metadata.get("fit_split") == "test" and self.fitted_codes is not None and not self.diverged
        payload = {
            "model": self.name,
            "config": dataclasses.asdict(self.config),
            "state": None if self.diverged else self.state_dict(),
            "history": list(self.history),
            "metadata": self.metadata,
            "fitted_codes": self.fitted_codes if keep_codes else None,
        }
        save_payload(payload, path)

    def history_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.history)
