"""The model families behind one interface, and their checkpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from .ae import AE, AEConfig
from .base import Model
from .nmf import NMF, NMFConfig
from .pca import PCA, PCAConfig

MODELS: dict[str, type[Model]] = {cls.name: cls for cls in (PCA, NMF, AE)}

__all__ = ["MODELS", "Model", "build_model", "load_model", "PCA", "PCAConfig", "NMF", "NMFConfig", "AE", "AEConfig"]


def build_model(family: str, params: dict) -> Model:
    """A model of `family` configured by `params` (grid values and settings, seed included)."""
    if family not in MODELS:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(MODELS)}")
    cls = MODELS[family]
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ValueError(f"{family}: unknown parameter(s) {unknown}; allowed: {sorted(fields)}")
    plain = {key: value.item() if isinstance(value, np.generic) else value for key, value in params.items()}
    return cls(cls.config_class(**plain))


def load_model(path: str | Path) -> Model:
    """Rebuild a model from the checkpoint written by Model.save."""
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(payload["model"], payload["config"])
    model.load_state_dict(payload["state"])
    model.history = payload["history"]
    model.metadata = payload.get("metadata", {})
    return model
