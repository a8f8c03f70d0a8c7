"""The experiment grid: one point per (dataset, model entry, hyperparameter combination, seed).

A point's path and identity come from canonical, typed values (partbased.config.canonical): its path lists the
grid keys sorted by name, then the seed, each value spelt once, e.g. `beta~0.1/k~16/seed~0`. So reordering
grid keys, or adding a value to a list, leaves every existing point's path (and job) as it is.

The `key~value/...` layout is Snakemake's Paramspace's; the paths are built here rather than by a Paramspace
because it formats values by pandas dtype (`beta: [0, 1]` gives `beta~0`, `[0, 0.5, 1]` gives `beta~0.0`) and
writes None as NA (and pandas turns it into NaN on the way).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import SCHEMA_PATH, entry_grid, entry_settings, family_fields, load_schema


@dataclass(frozen=True)
class GridPoint:
    dataset: str
    model: str  # the entry's name (defaults to its family)
    family: str  # pca | nmf | sparse_nmf | nmf_sc | ae | pae_nmf
    params: str  # the path below the model: grid keys sorted, then seed, e.g. "beta~0.1/k~16/seed~0"
    hyperparams: dict = field(hash=False)  # grid values of this point and its seed, canonical, sorted by key
    settings: dict = field(hash=False)  # every other parameter: the entry's settings over the family defaults, sorted
    fit_split: str = "train"  # the split training reads (the entry's fit_split): "train", or "test" (nmfsc as Ponchon ran it)

    @property
    def config(self) -> dict:
        """Every parameter the point's training computes from, sorted by key (where it runs is not one)."""
        return dict(sorted((self.settings | self.hyperparams).items()))


def format_value(value: Any) -> str:
    """A canonical value as a path spells it: 16, 0.1, 1e-05, True, None, kl."""
    return repr(value) if isinstance(value, float) else str(value)


def point_path(grid_values: dict, seed: int) -> str:
    """`key~value/...` over the (sorted) grid values, then the seed."""
    return "/".join(f"{key}~{format_value(value)}" for key, value in [*grid_values.items(), ("seed", seed)])


def build_grid(config: dict, schema_path: str | Path = SCHEMA_PATH) -> list[GridPoint]:
    """Every point of a validated config (impossible points were rejected by validate_config)."""
    schema = load_schema(schema_path)
    datasets = [d["name"] for d in config["datasets"]]
    points = []
    for entry in config["models"]:
        name = entry.get("name", entry["type"])
        fields = family_fields(schema, entry["type"])
        grid, settings = entry_grid(entry, fields), entry_settings(entry, fields)
        combos = []
        for values in itertools.product(*grid.values()):
            grid_values = dict(zip(grid, values))
            for seed in entry["seeds"]:
                hyperparams = dict(sorted((grid_values | {"seed": int(seed)}).items()))
                combos.append((point_path(grid_values, int(seed)), hyperparams))
        for dataset in entry.get("datasets", datasets):
            points += [
                GridPoint(dataset, name, entry["type"], path, hyperparams, dict(settings), entry.get("fit_split", "train"))
                for path, hyperparams in combos
            ]
    return points


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
