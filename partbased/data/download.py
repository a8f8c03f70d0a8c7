"""Real data: checksummed downloads (MNIST, Fashion-MNIST), user matrices, CBCL and Olivetti faces.

Every loader returns images (n, h, w) float32; labels are int64 or None. Errors about bytes
on disk are `DataFormatError` (a ValueError) naming the file; a file that no mirror could
deliver intact is a `DownloadError` (a RuntimeError) naming every source tried and why.
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import hashlib
import math
import os
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DownloadError",
    "DataFormatError",
    "RemoteFile",
    "IdxDataset",
    "IDX_DATASETS",
    "default_cache_dir",
    "fetch",
    "read_idx",
    "load_idx_dataset",
    "load_matrix",
    "read_pgm",
    "nmfpack_preprocess",
    "load_cbcl",
    "load_olivetti",
]


class DownloadError(RuntimeError):
    """No source delivered a file with the expected checksum."""


class DataFormatError(ValueError):
    """A file's contents are not what the loader expects."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    sha256: str
    size: int  # bytes as served (gzip); informative, the hash is what is checked


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
        train_images=RemoteFile("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        train_labels=RemoteFile("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        test_images=RemoteFile("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    ),
    "fashion_mnist": IdxDataset(
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        train_images=RemoteFile("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        train_labels=RemoteFile("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        test_images=RemoteFile("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    ),
}


def default_cache_dir() -> Path:
    """$PARTBASED_DATA if set, else the OS user cache (e.g. ~/.cache/partbased)."""
    if os.environ.get("PARTBASED_DATA"):
        return Path(os.environ["PARTBASED_DATA"])
    import pooch

    return Path(pooch.os_cache("partbased"))


# --------------------------------------------------------------------------- fetching


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _HashMismatch(Exception):
    pass


def _is_remote(url: str) -> bool:
    return urllib.parse.urlparse(url).scheme in ("http", "https", "ftp")


def _local_path(url: str) -> Path:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(url)


def _copy_verified(src: Path, target: Path, sha256: str) -> None:
    """Copy while hashing into a temp file beside the target; rename only when it matches."""
    if src.is_dir():
        src = src / target.name
    with open(src, "rb") as fin:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as fout:
                for block in iter(lambda: fin.read(1 << 20), b""):
                    h.update(block)
                    fout.write(block)
            if h.hexdigest() != sha256:
                raise _HashMismatch(h.hexdigest())
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)


def _download_verified(url: str, target: Path, sha256: str) -> None:
    """pooch streams to a temp file in the same folder and deletes it on a hash mismatch."""
    import pooch

    if url.endswith("/"):
        url += target.name
    pooch.retrieve(
        url,
        known_hash=f"sha256:{sha256}",
        fname=target.name,
        path=target.parent,
        downloader=pooch.HTTPDownloader(progressbar=False, timeout=60),
    )


def _reason(exc: BaseException) -> str:
    """A short, human reason for one failed source."""
    import requests

    if isinstance(exc, _HashMismatch):
        return f"sha256 mismatch (got {exc})"
    if isinstance(exc, ValueError) and "hash" in str(exc):
        return "sha256 mismatch"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text:
            return "connection refused"
        if "resolve" in text or "Name or service" in text:
            return "host not found"
        return f"connection failed: {text}"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"{type(exc).__name__}: {exc}"


def fetch(url_list: list[str], filename: str, sha256: str, cache_dir: Path) -> Path:
    """`cache_dir/filename` with the given sha256, fetched from the first source that delivers it.

    Sources are http(s) URLs, file:// URLs or local paths; one ending in "/" (or a local
    directory) gets `filename` appended. A verified cached file is returned without any
    access to the sources; a cached file with a wrong hash is deleted and fetched again.
    Raises DownloadError naming the file and every source with its reason.
    """
    if isinstance(url_list, str):
        url_list = [url_list]
    sha256 = sha256.lower()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / filename
    if target.exists():
        if _sha256(target) == sha256:
            return target
        target.unlink()  # corrupt or outdated: never hand it out
    failures = []
    for url in url_list:
        try:
            if _is_remote(url):
                _download_verified(url, target, sha256)
            else:
                _copy_verified(_local_path(url), target, sha256)
            return target
        except Exception as exc:  # any failure of one source: try the next
            failures.append(f"  - {url}: {_reason(exc)}")
    tried = "\n".join(failures) if failures else "  (no sources given)"
    raise DownloadError(f"could not fetch {filename} (sha256 {sha256}) from any source:\n{tried}")


# --------------------------------------------------------------------------- IDX


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


def _idx_pair(ds: IdxDataset, images: RemoteFile, labels: RemoteFile, bases: list[str], folder: Path) -> tuple[np.ndarray, np.ndarray]:
    paths = [fetch([_join(b, f.filename) for b in bases], f.filename, f.sha256, folder) for f in (images, labels)]
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
    folders) replaces the registry's mirrors.
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


# --------------------------------------------------------------------------- user matrices


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv_has_header(path: Path) -> bool:
    """A first line in which no field is a number is a header (e.g. "p0,p1,..."); a numeric
    first line is always data, since it cannot be told apart from a sample."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        first = next(csv.reader(f), [])
    return bool(first) and not any(_is_number(field) for field in first)


def _read_csv(path: Path) -> tuple[np.ndarray, int]:
    """A numeric CSV as float64 and the number of header lines skipped; names the first
    non-numeric cell (1-based line and column)."""
    import pandas as pd

    header = _csv_has_header(path)
    try:
        df = pd.read_csv(path, header=None, skiprows=1 if header else 0, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a readable CSV matrix ({exc})") from exc
    values = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & df.notna().to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataFormatError(f"{path}: non-numeric value {df.iat[r, c]!r} at {_cell(r, c, int(header))}")
    return values, int(header)


def _cell(row: int, col: int, header_lines: int | None) -> str:
    """1-based position; for a CSV also the line in the file."""
    line = "" if header_lines is None else f" (line {row + 1 + header_lines})"
    return f"row {row + 1}{line}, column {col + 1}"


def _check_values(values: np.ndarray, path: Path, header_lines: int | None) -> None:
    """Finite and nonnegative, else name the first bad cell."""
    bad = ~np.isfinite(values) | (values < 0)
    if not bad.any():
        return
    r, c = np.argwhere(bad)[0]
    value = float(values[r, c])
    problem = "negative value" if np.isfinite(value) else "non-finite value (missing, NaN or inf)"
    raise DataFormatError(f"{path}: {problem} {value!r} at {_cell(r, c, header_lines)}")


def _zarr_matrix(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """`image` of a store (or a bare zarr array, or the one 2-D numeric array of a group), plus `label` if any."""
    import zarr

    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        return node[...], None
    names = list(node.array_keys())
    if "image" in names:
        data = node["image"]
    else:
        matrices = [k for k in names if node[k].ndim == 2 and np.issubdtype(node[k].dtype, np.number)]
        if len(matrices) != 1:
            raise DataFormatError(f"{path}: no `image` variable and {len(matrices)} 2-D numeric arrays ({matrices}); expected one")
        data = node[matrices[0]]
    labels = node["label"][...] if "label" in names else None
    return data[...], labels


def _load_labels(path: Path, n: int) -> np.ndarray:
    raw = np.load(path, allow_pickle=False) if path.suffix == ".npy" else _read_csv(path)[0]
    if raw.ndim == 2 and raw.shape[1] == 1:  # a one-column CSV
        raw = raw[:, 0]
    if raw.ndim != 1 or len(raw) != n:
        raise DataFormatError(f"{path}: labels of shape {raw.shape}, expected ({n},), one per sample")
    if not np.issubdtype(raw.dtype, np.number) or not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
        raise DataFormatError(f"{path}: labels must be integers")
    return raw.astype(np.int64)


def _as_images(x: np.ndarray, path: Path, image_shape: tuple[int, int] | None) -> np.ndarray:
    if x.ndim == 3 and image_shape is None:
        return x
    x = x.reshape(len(x), -1)
    d = x.shape[1]
    if image_shape is not None:
        h, w = image_shape
        if h * w != d:
            raise DataFormatError(f"{path}: {d} features per sample do not fit image_shape {tuple(image_shape)}")
        return x.reshape(-1, h, w)
    side = math.isqrt(d)
    return x.reshape(-1, side, side) if side * side == d else x.reshape(-1, 1, d)


def load_matrix(path: str | Path, labels_path: str | Path | None = None, image_shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A user's nonnegative data matrix, one sample per row, as images (n, h, w) float32.

    Formats by name: `.csv`/`.csv.gz`/`.txt` (comma separated; a first line with no numeric
    field is a header and skipped, otherwise every line is data), `.npy` (2-D, or 3-D
    images), a zarr store (`.zarr` or any directory: `image`, else its single 2-D array;
    its `label` array gives labels). Values must be numeric, finite and >= 0. Without
    image_shape a square image is inferred when the feature count is a perfect square,
    else (n, 1, features). labels_path (CSV or NPY, one integer per row) overrides labels.
    """
    path = Path(path)
    labels, header = None, None  # header: lines skipped in a CSV, None for other formats
    if path.is_dir() or path.suffix == ".zarr":
        x, labels = _zarr_matrix(path)
    elif path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
    elif path.suffix in (".csv", ".txt") or path.name.endswith(".csv.gz"):
        x, header = _read_csv(path)
    else:
        raise DataFormatError(f"{path}: unknown matrix format; use .csv, .npy or a zarr store")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise DataFormatError(f"{path}: data of dtype {x.dtype} is not real numeric")
    if x.ndim not in (2, 3) or len(x) == 0:
        raise DataFormatError(f"{path}: data of shape {x.shape}, expected (samples, features) with samples > 0")
    x = np.asarray(x, dtype=np.float64)
    _check_values(x.reshape(len(x), -1), path, header)
    if labels_path is not None:
        labels = _load_labels(Path(labels_path), len(x))
    elif labels is not None:
        labels = _load_labels_array(labels, path, len(x))
    return _as_images(x.astype(np.float32), path, image_shape), labels


def _load_labels_array(labels: np.ndarray, path: Path, n: int) -> np.ndarray:
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(f"{path}: `label` of shape {labels.shape} and dtype {labels.dtype}, expected ({n},) integers")
    return labels.astype(np.int64)


# --------------------------------------------------------------------------- CBCL faces


def _pgm_header(data: bytes, name: str) -> tuple[bytes, int, int, int, int]:
    """Magic, width, height, maxval and the offset of the raster; '#' comments allowed."""
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if pos >= len(data):
            raise DataFormatError(f"{name}: PGM header truncated")
        if data[pos : pos + 1] == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
            pos += 1
        tokens.append(data[start:pos])
    magic = tokens[0]
    if magic not in (b"P2", b"P5"):
        raise DataFormatError(f"{name}: not a PGM file (magic {magic[:8]!r}, expected P2 or P5)")
    try:
        w, h, maxval = (int(t) for t in tokens[1:])
    except ValueError as exc:
        raise DataFormatError(f"{name}: bad PGM header {tokens!r}") from exc
    if w <= 0 or h <= 0 or not 0 < maxval < 65536:
        raise DataFormatError(f"{name}: bad PGM size {w}x{h} or maxval {maxval}")
    return magic, w, h, maxval, pos + 1  # exactly one whitespace byte ends the header


def read_pgm(data: bytes, name: str = "<pgm>") -> tuple[np.ndarray, int]:
    """Pixels (h, w) as integers and maxval of a P2 (ASCII) or P5 (binary) PGM."""
    magic, w, h, maxval, offset = _pgm_header(data, name)
    if magic == b"P5":
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        need = w * h * dtype.itemsize
        if len(data) - offset < need:
            raise DataFormatError(f"{name}: PGM raster truncated ({len(data) - offset} of {need} bytes)")
        pixels = np.frombuffer(data, dtype=dtype, count=w * h, offset=offset).astype(np.int64)
    else:
        text = b"\n".join(line.split(b"#")[0] for line in data[offset:].splitlines())
        try:
            pixels = np.array([int(t) for t in text.split()], dtype=np.int64)
        except ValueError as exc:
            raise DataFormatError(f"{name}: non-integer pixel in P2 data") from exc
        if pixels.size != w * h:
            raise DataFormatError(f"{name}: {pixels.size} pixels, header says {w}x{h}")
    if pixels.min() < 0 or pixels.max() > maxval:
        raise DataFormatError(f"{name}: pixel values outside [0, {maxval}]")
    return pixels.reshape(h, w), maxval


def nmfpack_preprocess(images: np.ndarray) -> np.ndarray:
    """Hoyer's nmfpack CBCL preprocessing (cbcldata.m), per image: subtract the mean, divide by
    the RMS, add 0.25, multiply by 0.25, clip to [0, 1], floor at 1e-4."""
    x = images.reshape(len(images), -1).astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt((x * x).mean(axis=1, keepdims=True))
    x = np.divide(x, rms, out=np.zeros_like(x), where=rms > 0)  # a flat image stays 0, not NaN
    x = (x + 0.25) * 0.25
    x = np.maximum(np.clip(x, 0.0, 1.0), 1e-4)
    return x.reshape(images.shape).astype(np.float32)


def _pgm_members(source: Path, pattern: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of every file whose base name matches, from a folder, tar or zip archive."""
    if source.is_dir():
        return [(str(p), p.read_bytes()) for p in source.rglob(pattern) if p.is_file()]
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            return [(f"{source}:{n}", zf.read(n)) for n in zf.namelist() if fnmatch.fnmatch(Path(n).name, pattern)]
    if tarfile.is_tarfile(source):
        with tarfile.open(source) as tf:  # read members in memory: nothing is extracted
            return [(f"{source}:{m.name}", tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile() and fnmatch.fnmatch(Path(m.name).name, pattern)]
    raise DataFormatError(f"{source}: neither a folder nor a tar/zip archive")


def load_cbcl(source: str | Path, preprocess: str | None = None, pattern: str = "face*.pgm") -> tuple[np.ndarray, None]:
    """CBCL face database #1 from a folder (searched recursively) or a tar/zip archive.

    Files whose base name matches `pattern` (the 2429 training faces face00001.pgm ...) are
    read in name order. preprocess=None scales pixels by maxval to [0, 1];
    "nmfpack" applies `nmfpack_preprocess`. Returns (images (n, 19, 19) float32, None).
    """
    if preprocess not in (None, "none", "nmfpack"):
        raise ValueError(f"unknown CBCL preprocessing {preprocess!r}; use None or 'nmfpack'")
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"CBCL source {source} does not exist")
    members = sorted(_pgm_members(source, pattern), key=lambda m: (Path(m[0]).name, m[0]))
    if not members:
        raise DataFormatError(f"{source}: no files matching {pattern!r}")
    images = []
    for name, data in members:
        pixels, maxval = read_pgm(data, name)
        if images and pixels.shape != images[0].shape:
            raise DataFormatError(f"{name}: image of shape {pixels.shape}, the others are {images[0].shape}")
        images.append(pixels / maxval)
    stack = np.stack(images)
    if preprocess == "nmfpack":
        return nmfpack_preprocess(stack), None
    return stack.astype(np.float32), None


# --------------------------------------------------------------------------- Olivetti


def load_olivetti(cache_dir: str | Path, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """ORL/Olivetti faces via scikit-learn (which checks the file's sha256): images
    (400, 64, 64) float32 in [0, 1], subject labels int64."""
    from sklearn.datasets import fetch_olivetti_faces

    cache_dir = Path(cache_dir)
    try:
        faces = fetch_olivetti_faces(data_home=str(cache_dir), download_if_missing=download)
    except OSError as exc:  # missing with download off, or no network (URLError is an OSError)
        how = "download failed" if download else "not in the cache and download is off"
        raise DownloadError(f"Olivetti faces: {how} (data_home {cache_dir}): {exc}") from exc
    return faces.images.astype(np.float32), faces.target.astype(np.int64)
