"""The model families behind one interface (base.Model), and their checkpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..io import CorruptFileError
from .ae import AE, AEConfig
from .base import Model, resolve_device
from .checkpoint import load_payload
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


def build_model(family: str, params: dict, device: str | None = None) -> Model:
    """A model of `family` configured by `params` (grid values and settings, seed included).

    `device` ("auto", "cpu", "cuda", ...), when given, is where the model runs, whatever `params` say
    (the torch families; PCA has no device). The config is left as given: it says what was trained,
    the model's metadata["device"] where.
    """
    if family not in MODELS:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(MODELS)}")
    cls = MODELS[family]
    fields = {f.name: f.type for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ValueError(f"{family}: unknown parameter(s) {unknown}; allowed: {sorted(fields)}")
    model = cls(cls.config_class(**{key: _plain(value, fields[key]) for key, value in params.items()}))
    if device is not None and hasattr(model, "device"):  # the families place their tensors when they fit or load
        model.device = resolve_device(device)
    return model


def load_model(path: str | Path, device: str = "cpu") -> Model:
    """Rebuild a model from the checkpoint written by Model.save (config, state, history, metadata), on `device`.

    The CPU by default, whatever device trained it: evaluation and figures never open a GPU they
    did not ask for, and run on nodes without one. Loading is safe (tensors and plain types only,
    torch.load(weights_only=True)) and checked (a digest); a file that fails either raises
    CorruptFileError naming it and how to rebuild it.
    """
    payload = load_payload(path, "checkpoint")
    missing = sorted({"model", "config", "state"} - set(payload))
    if missing:
        raise CorruptFileError(path, "checkpoint", f"it lacks {missing}")
    model = build_model(payload["model"], payload["config"], device=device)
    if payload["state"] is not None:  # None: the run diverged before a usable state existed
        model.load_state_dict(payload["state"])
    model.history = list(payload.get("history", []))
    model.metadata = dict(payload.get("metadata", {}))
    codes = payload.get("fitted_codes")
    model.fitted_codes = None if codes is None else codes.numpy()
    return model
