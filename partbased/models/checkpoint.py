"""Checkpoint files: plain types and tensors only, loaded with torch.load(weights_only=True), checked by a digest.

weights_only=True makes torch's unpickler refuse anything but tensors, numbers, strings and plain
containers, so a checkpoint from elsewhere cannot run code when it is loaded. What is saved is
converted to those types first (NumPy scalars and arrays in metadata or states are the usual
strays), and anything else is refused at save time, naming its key, rather than written into a
file that would not load.

torch's zip format does not notice a flipped byte in tensor data (the tensor loads with other
values), so every payload carries the sha256 of its contents, recomputed on load.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import CorruptFileError, write_bytes

log = logging.getLogger("partbased")
DIGEST_KEY = "sha256"
_SCALARS = (bool, int, float, str, type(None))


def to_plain(value: Any, where: str = "payload") -> Any:
    """`value` with NumPy scalars as Python numbers, NumPy arrays as tensors, tuples as lists; TypeError on anything
    torch.load(weights_only=True) would refuse, naming where it sits."""
    if isinstance(value, np.generic):  # first: np.float64 is also a float
        return value.item()
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}; checkpoints take str or int keys")
            plain[key] = to_plain(item, f"{where}[{key!r}]")
        return plain
    if isinstance(value, (list, tuple)):  # includes list subclasses (Model.history)
        return [to_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where} is a {type(value).__name__}; checkpoints hold only numbers, strings, lists, dicts and tensors")


def digest(value: Any) -> str:
    """sha256 of a plain payload: structure, keys, scalar reprs, tensor dtypes, shapes and bytes."""
    h = hashlib.sha256()

    def walk(item: Any) -> None:
        if isinstance(item, torch.Tensor):
            t = item.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            if t.numel():
                h.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, no copy
        elif isinstance(item, dict):
            h.update(b"{")
            for key in sorted(item, key=repr):
                h.update(repr(key).encode())
                walk(item[key])
            h.update(b"}")
        elif isinstance(item, list):
            h.update(b"[")
            for element in item:
                walk(element)
            h.update(b"]")
        else:
            h.update(f"{type(item).__name__}:{item!r};".encode())

    walk(value)
    return h.hexdigest()


def save_payload(payload: dict, path: str | Path) -> None:
    """Write `payload` (converted to plain types, its digest added) atomically to `path`."""
    plain = to_plain(payload, Path(path).name)
    plain[DIGEST_KEY] = digest(plain)
    buffer = io.BytesIO()  # serialise first: torch's own file writer reports a full disk as a RuntimeError
    torch.save(plain, buffer)
    write_bytes(buffer.getbuffer(), path)


def load_payload(path: str | Path, what: str = "checkpoint") -> dict:
    """The payload saved by save_payload, checked against its digest; CorruptFileError when it cannot be trusted."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused something: not written by save_payload
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(path, what, f"it holds objects other than tensors and plain types ({first})") from exc
    except (RuntimeError, OSError, EOFError, ValueError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise CorruptFileError(path, what, f"torch.load failed ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc
    if not isinstance(payload, dict):
        raise CorruptFileError(path, what, f"it holds a {type(payload).__name__}, not a dict")
    stored = payload.pop(DIGEST_KEY, None)
    if stored is None:  # written before digests existed: safe to use (weights_only), not checkable
        log.warning("%s %s has no digest (written by an older version): its contents cannot be checked", what, path)
    elif digest(payload) != stored:
        raise CorruptFileError(path, what, "its contents do not match the digest written with it")
    return payload
