"""MNIST-style IDX data (MNIST, Fashion-MNIST): the registry of files and mirrors, the IDX
reader, and the official train/test split."""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataFormatError
from .fetch import _is_remote, fetch


@dataclass(frozen=True)
class RemoteFile:
    filename: str  # as served, e.g. "train-images-idx3-ubyte.gz"
    sha256: str  # of the file as served
    size: int  # bytes as served (gzip); informative, the hash is what is checked
    # sha256 of the unpacked IDX file: where known, the unpacked file (name without .gz) or any
    # other gzip of it is accepted too, e.g. a folder of files recompressed with `gzip -n -9`
    content_sha256: str | None = None


@dataclass(frozen=True)
class IdxDataset:
    mirrors: tuple[str, ...]  # base URLs, tried in order
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile
    image_shape: tuple[int, int] = (28, 28)


IDX_DATASETS: dict[str, IdxDataset] = {
    "mnist": IdxDataset(
        mirrors=(
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",  # last: often answers 403 nowadays
        ),
        # unpacked sha256: the hashes published widely for the official files (the table of
        # ../shared/data/mnist/README.md, whose recompressed files hold exactly this content)
        train_images=RemoteFile("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422,
                                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        train_labels=RemoteFile("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881,
                                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        test_images=RemoteFile("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877,
                               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542,
                               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    "fashion_mnist": IdxDataset(
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        # unpacked sha256: published as the decompressed files' hashes by the dataset-ml crate
        # (docs.rs/crate/dataset-ml/0.5.0/source/src/dataset/fashion_mnist.rs), and recomputed
        # here, identical, from the files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
        train_images=RemoteFile("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880,
                                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        train_labels=RemoteFile("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515,
                                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        test_images=RemoteFile("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102,
                               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148,
                               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
}


_IDX_NDIM = {0x00000803: 3, 0x00000801: 1}  # uint8 images (n, h, w) / uint8 labels (n,)


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":  # not gzip: accept a plain IDX file too
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataFormatError(f"{path}: corrupt or truncated gzip ({exc})") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (gzip or plain) of uint8 images (n, h, w) or labels (n,)."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataFormatError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in _IDX_NDIM:
        raise DataFormatError(f"{path}: IDX magic 0x{magic:08x}, expected 0x00000803 (uint8 images) or 0x00000801 (uint8 labels)")
    ndim = _IDX_NDIM[magic]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataFormatError(f"{path}: IDX header truncated ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = offset + math.prod(shape)
    if len(raw) != expected:
        raise DataFormatError(f"{path}: header says shape {shape} ({expected} bytes) but the data holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


def _join(base: str, filename: str) -> str:
    if _is_remote(base) or base.startswith("file:"):
        return base.rstrip("/") + "/" + filename
    return str(Path(base) / filename)


def _sources(f: RemoteFile, bases: list[str]) -> list[str]:
    """Per mirror, the file as served, then (where its content hash is known) the unpacked file."""
    names = [f.filename] + ([f.filename.removesuffix(".gz")] if f.content_sha256 and f.filename.endswith(".gz") else [])
    return [_join(base, name) for base in bases for name in names]


def _idx_pair(ds: IdxDataset, images: RemoteFile, labels: RemoteFile, bases: list[str], folder: Path) -> tuple[np.ndarray, np.ndarray]:
    paths = [fetch(_sources(f, bases), f.filename, f.sha256, folder, f.content_sha256) for f in (images, labels)]
    x, y = read_idx(paths[0]), read_idx(paths[1])
    if x.ndim != 3 or x.shape[1:] != ds.image_shape:
        raise DataFormatError(f"{paths[0]}: images of shape {x.shape}, expected (n, {ds.image_shape[0]}, {ds.image_shape[1]})")
    if y.ndim != 1 or len(y) != len(x):
        raise DataFormatError(f"{paths[1]}: labels of shape {y.shape} for {len(x)} images in {paths[0]}")
    return x, y


def load_idx_dataset(name: str, cache_dir: str | Path, mirrors: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-style data in its official split: train files first, then t10k.

    Returns images float32 in [0, 1] (n, 28, 28), labels int64 (n,), split object array
    of "train"/"test". Files are cached in `cache_dir/name/`; `mirrors` (base URLs or local
    folders) replaces the registry's mirrors. A mirror may hold each file as served (its
    sha256 as served), or unpacked or in any other gzip (the sha256 of the unpacked content).
    """
    if name not in IDX_DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; known: {sorted(IDX_DATASETS)}")
    ds = IDX_DATASETS[name]
    bases = [mirrors] if isinstance(mirrors, str) else list(mirrors if mirrors is not None else ds.mirrors)
    folder = Path(cache_dir) / name  # MNIST and Fashion-MNIST share file names
    x_train, y_train = _idx_pair(ds, ds.train_images, ds.train_labels, bases, folder)
    x_test, y_test = _idx_pair(ds, ds.test_images, ds.test_labels, bases, folder)
    images = np.concatenate([x_train, x_test]).astype(np.float32) / np.float32(255)
    labels = np.concatenate([y_train, y_test]).astype(np.int64)
    split = np.array(["train"] * len(x_train) + ["test"] * len(x_test), dtype=object)
    return images, labels, split
