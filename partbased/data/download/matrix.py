"""A user's own data matrix: CSV, NPY or a zarr store, one sample per row."""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import DataFormatError


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _open_text(path: Path):
    return (gzip.open if path.suffix == ".gz" else open)(path, "rt", newline="")


def _csv_has_header(path: Path) -> bool:
    """A first line in which no field is a number is a header (e.g. "p0,p1,..."); a numeric
    first line is always data, since it cannot be told apart from a sample."""
    with _open_text(path) as f:
        first = next(csv.reader(f), [])
    return bool(first) and not any(_is_number(field) for field in first)


def _ragged_row(path: Path, header: bool) -> str | None:
    """The first data row whose field count is not the most common one, described; None when all agree.

    Only called once pandas found a problem (a short row reads as NaN-padded, a long one fails
    to tokenize): one pass of the csv module, rows counted as a user counts them (blank lines skipped).
    """
    rows = []  # (line in the file, number of fields) of each data row
    with _open_text(path) as f:
        reader = csv.reader(f)
        for fields in reader:
            if fields:
                rows.append((reader.line_num, len(fields)))
    rows = rows[1:] if header else rows
    if not rows:
        return None
    expected = Counter(n for _, n in rows).most_common(1)[0][0]
    for row, (line, n) in enumerate(rows, start=1):
        if n != expected:
            return f"row {row} has {n} fields, {expected} expected (line {line})"
    return None


def _read_csv(path: Path) -> tuple[np.ndarray, int]:
    """A numeric CSV as float64 and the number of header lines skipped; names the first row
    with a wrong number of fields, or the first non-numeric cell (1-based line and column)."""
    import pandas as pd

    header = _csv_has_header(path)
    try:
        df = pd.read_csv(path, header=None, skiprows=1 if header else 0, skip_blank_lines=True)
    except pd.errors.ParserError as exc:  # e.g. a row longer than the first
        raise DataFormatError(f"{path}: {_ragged_row(path, header) or f'not a readable CSV matrix ({exc})'}") from exc
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a readable CSV matrix ({exc})") from exc
    if df.isna().to_numpy().any() and (ragged := _ragged_row(path, header)):  # pandas pads a short row with NaN
        raise DataFormatError(f"{path}: {ragged}")
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
