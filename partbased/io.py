"""Small I/O helpers shared by the library and the workflow scripts: atomic writes, digests that catch
files corrupted after they were written, and logging to the rule's log."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CorruptFileError(RuntimeError):
    """A file (or zarr store) that exists but cannot be trusted: unreadable, or not what was written.

    `path`: what is damaged; `rebuild`: what to delete so that Snakemake writes it again (default `path`).
    """

    def __init__(self, path: str | Path, what: str, reason: str, rebuild: str | Path | None = None):
        self.path, self.rebuild = Path(path), Path(rebuild or path)
        super().__init__(
            f"{what} {path} cannot be used: {reason}. It was damaged or replaced after it was written; rebuild it: "
            f"delete {self.rebuild} (rm -r '{self.rebuild}') and run snakemake again, which reruns the job that writes "
            "it and everything downstream"
        )


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling path (file or directory); it replaces `path` only if the block completes.

    A failure leaves `path` as it was (absent, or its previous complete version) and no temporary
    behind; a full disk is reported as such, naming `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)  # a leftover of a killed process with the same pid
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)  # os.replace cannot replace a non-empty directory
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise OSError(
                exc.errno, f"no space left on the device of {path} while writing it; nothing was written "
                "(an earlier complete version stays). Free space and run again",
            ) from exc
        raise
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_bytes(data: bytes, path: str | Path) -> None:
    """`data` written atomically and flushed to disk before the rename (a crash leaves no torn file)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV written atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def sha256(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


STORE_DIGEST_ATTR = "sha256"  # the store attribute holding the digests written with it


def _variable_bytes(values: np.ndarray) -> bytes:
    """Bytes of one store variable's values: strings joined by NUL, numbers as their raw bytes."""
    if values.dtype.kind in "OUST":  # T: NumPy 2 StringDType, as zarr 3 reads strings back
        return "\0".join(map(str, values.ravel())).encode()
    return np.ascontiguousarray(values).tobytes()


def store_digests(ds, block_rows: int) -> dict[str, list[str]]:
    """sha256 of every variable and coordinate of an xarray Dataset, per block of `block_rows` along its first axis."""
    digests = {}
    for name, var in {**ds.coords, **ds.data_vars}.items():
        values = np.asarray(var.values)
        digests[str(name)] = [sha256(_variable_bytes(values[i : i + block_rows])) for i in range(0, max(len(values), 1), block_rows)]
    return digests


def store_digest_attr(ds, block_rows: int) -> str:
    """The attribute data.write_zarr stores: digests per block of rows (the image chunks), as JSON."""
    return json.dumps({"block_rows": block_rows, "digests": store_digests(ds, block_rows)})


def open_verified_store(path: str | Path):
    """The zarr store at `path` (written by data.write_zarr) as an in-memory xarray Dataset, every value checked
    against the digests written with it; CorruptFileError naming the damaged chunk file otherwise.

    This checks what zarr itself does not: a flipped byte in a zstd chunk may decode to other numbers,
    and a missing chunk reads as its fill value. A store from before digests is read unchecked.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset store {path} does not exist")
    try:
        ds = xr.open_zarr(path, consolidated=False).load()
    except Exception as exc:  # undecodable chunk or metadata: name the file
        bad = _undecodable_chunk(path)
        raise CorruptFileError(bad or path, "dataset store chunk" if bad else "dataset store", f"{type(exc).__name__}: {exc}", path) from exc
    written = json.loads(ds.attrs.get(STORE_DIGEST_ATTR, "null"))
    if written is None:
        logging.getLogger("partbased").warning("dataset store %s has no digests (written by an older version): not checked", path)
        return ds
    rows, expected = int(written["block_rows"]), written["digests"]
    actual = store_digests(ds, rows)
    if set(actual) != set(expected):
        raise CorruptFileError(path, "dataset store", f"it holds variables {sorted(actual)}, written with {sorted(expected)}")
    for name in sorted(expected):
        if len(actual[name]) != len(expected[name]):
            raise CorruptFileError(path, "dataset store", f"{name!r} has another length than when it was written")
        for block, (want, got) in enumerate(zip(expected[name], actual[name], strict=True)):
            if want != got:
                raise CorruptFileError(
                    _chunk_file(path, name, block * rows), "dataset store chunk",
                    f"rows {block * rows}-{(block + 1) * rows - 1} of {name!r} do not match the digest written with the store", path,
                )  # fmt: skip
    return ds


def _chunk_file(path: Path, name: str, row: int) -> str:
    """The chunk file of variable `name` holding `row` (zarr's own chunk key), marked when it is missing."""
    import zarr

    try:
        array = zarr.open_array(path / name, mode="r")
        key = array.metadata.encode_chunk_key((row // array.chunks[0],) + (0,) * (array.ndim - 1))
    except Exception:
        return str(path / name)
    chunk = path / name / key
    return str(chunk) if chunk.exists() else f"{chunk} (missing)"


def _undecodable_chunk(path: Path) -> Path | None:
    """The first chunk file of the store that zarr cannot decode, or None (the damage is elsewhere)."""
    import zarr

    try:
        arrays = list(zarr.open_group(path, mode="r").arrays())
    except Exception:
        return None
    for name, array in arrays:
        for index in np.ndindex(*array.cdata_shape):
            try:
                array.get_block_selection(index)
            except Exception:
                return path / name / array.metadata.encode_chunk_key(index)
    return None


def log_to(path: str | Path) -> logging.Logger:
    """Send logging and warnings of a script to its rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=str(path), filemode="w", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.captureWarnings(True)
    logger = logging.getLogger("partbased")

    def log_then_raise(exc_type, exc, tb):  # the error lands in the rule's log and on the terminal
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = log_then_raise
    return logger
