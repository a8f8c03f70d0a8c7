"""CBCL face database #1: PGM files (P2/P5) from a folder or a tar/zip archive, and Hoyer's
nmfpack preprocessing of them."""

from __future__ import annotations

import fnmatch
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import DataFormatError


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
