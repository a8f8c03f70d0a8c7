"""The experiment grid: one point per (dataset, model entry, hyperparameter combination, seed).

Paths come from snakemake's Paramspace, so they read `k~16/beta~0.1/seed~0`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from snakemake.utils import Paramspace


@dataclass(frozen=True)
class GridPoint:
    dataset: str
    model: str  # the entry's name (defaults to its family)
    family: str  # pca | nmf | ae
    params: str  # Paramspace instance path, e.g. "k~16/seed~0"
    hyperparams: dict = field(hash=False)  # grid values of this point, seed included (plain Python types)
    settings: dict = field(hash=False)  # model-wide settings shared by all points of the entry


def _python(value):
    """numpy scalar -> Python scalar (checkpoints and JSON want plain types)."""
    return value.item() if isinstance(value, np.generic) else value


def model_paramspace(entry: dict) -> Paramspace:
    """Cartesian product of the entry's grid lists and seeds, wrapped once in a Paramspace."""
    columns = {**entry["grid"], "seed": entry["seeds"]}
    rows = list(itertools.product(*columns.values()))
    frame = pd.DataFrame(rows, columns=list(columns))
    return Paramspace(frame)


def image_pixels(dataset: dict) -> int | None:
    """Pixels per image of a dataset entry when known before any data is prepared, else None."""
    known = {"mnist5k": 784, "mnist": 784, "fashion_mnist": 784, "digits": 64, "lfw_faces": 625, "olivetti": 4096, "cbcl": 361}
    if dataset["source"] == "bars":
        return dataset["size"] ** 2
    if dataset["source"] == "matrix" and "image_shape" in dataset:
        return dataset["image_shape"][0] * dataset["image_shape"][1]
    return known.get(dataset["source"])


def incompatibility(family: str, hyperparams: dict, dataset: dict) -> str | None:
    """Why a point cannot run (written down and skipped), or None."""
    pixels = image_pixels(dataset)
    if family == "pca" and pixels is not None and hyperparams["k"] > pixels:
        return f"pca needs k <= pixels per image ({pixels}), got k={hyperparams['k']}"
    return None


def build_grid(config: dict) -> tuple[list[GridPoint], list[dict]]:
    """All runnable points of a validated config, and the skipped ones with their reason."""
    datasets = {d["name"]: d for d in config["datasets"]}
    points, skipped = [], []
    for entry in config["models"]:
        name = entry.get("name", entry["type"])
        paramspace = model_paramspace(entry)
        rows = paramspace.dataframe.to_dict("records")
        for dataset in entry.get("datasets", list(datasets)):
            for path, row in zip(paramspace.instance_patterns, rows):
                hyperparams = {k: _python(v) for k, v in row.items()}
                reason = incompatibility(entry["type"], hyperparams, datasets[dataset])
                if reason:
                    skipped.append({"dataset": dataset, "model": name, "params": path, "reason": reason})
                    continue
                points.append(GridPoint(dataset, name, entry["type"], path, hyperparams, dict(entry["settings"])))
    return points, skipped


def kl_free_twins(points: list[GridPoint]) -> dict[GridPoint, GridPoint]:
    """Each PAE-NMF point with kl_weight != 0 -> its grid twin with kl_weight = 0, where the grid has one.

    One dict pass, so that a large PAE grid does not cost a scan of the grid per point.
    """

    def key(p: GridPoint, **override) -> tuple:
        return p.dataset, p.model, tuple(sorted({**p.hyperparams, **override}.items()))

    pae = [p for p in points if p.family == "pae_nmf"]
    without_kl = {key(p): p for p in pae if p.hyperparams.get("kl_weight") == 0}
    twins = {p: without_kl.get(key(p, kl_weight=0.0)) for p in pae if p.hyperparams.get("kl_weight") != 0}
    return {p: twin for p, twin in twins.items() if twin is not None}
