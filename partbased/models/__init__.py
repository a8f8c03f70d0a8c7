"""The model families behind one interface (base.Model), and their checkpoints."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .ae import AE, AEConfig
from .base import Model
from .nmf import NMF, NMFConfig
from .nmf_sc import NMFSC, NMFSCConfig
from .nnsae import NNSAE, NNSAEConfig
from .pae_nmf import PAENMF, PAENMFConfig
from .pca import PCA, PCAConfig, principal_angles
from .sparse_nmf import SparseNMF, SparseNMFConfig

MODELS: dict[str, type[Model]] = {
    "pca": PCA,
    "nmf": NMF,
    "ae": AE,
    "sparse_nmf": SparseNMF,
    "nmf_sc": NMFSC,
    "pae_nmf": PAENMF,
    "nnsae": NNSAE,
}

__all__ = [
    "MODELS",
    "Model",
    "build_model",
    "load_model",
    "principal_angles",
    "PCA",
    "PCAConfig",
    "NMF",
    "NMFConfig",
    "AE",
    "AEConfig",
    "SparseNMF",
    "SparseNMFConfig",
    "NMFSC",
    "NMFSCConfig",
    "PAENMF",
    "PAENMFConfig",
    "NNSAE",
    "NNSAEConfig",
]


def _plain(value: Any, field_type: Any) -> Any:
    """NumPy scalars -> Python; ints where a float field is declared -> float (YAML writes 1 for 1.0)."""
    if isinstance(value, np.generic):
        value = value.item()
    if field_type in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def build_model(family: str, params: dict) -> Model:
    """A model of `family` configured by `params` (grid values and settings, seed included)."""
    if family not in MODELS:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(MODELS)}")
    cls = MODELS[family]
    fields = {f.name: f.type for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ValueError(f"{family}: unknown parameter(s) {unknown}; allowed: {sorted(fields)}")
    return cls(cls.config_class(**{key: _plain(value, fields[key]) for key, value in params.items()}))


def load_model(path: str | Path) -> Model:
    """Rebuild a model from the checkpoint written by Model.save (config, state, history, metadata)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain containers only
    except pickle.UnpicklingError:
        # Metadata written by other code may hold NumPy scalars; our own checkpoints are trusted.
        payload = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(payload["model"], payload["config"])
    if payload["state"] is not None:  # None: the run diverged before a usable state existed
        model.load_state_dict(payload["state"])
    model.history = list(payload.get("history", []))
    model.metadata = dict(payload.get("metadata", {}))
    return model
