"""Checksummed fetching: http(s), file:// or local sources tried in order, into a cache folder.

A file appears in the cache only once its sha256 matches (as served, or of its unpacked
content where that is known); nothing partial is left behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from .errors import DownloadError


def default_cache_dir() -> Path:
    """$PARTBASED_DATA if set, else the OS user cache (e.g. ~/.cache/partbased)."""
    if os.environ.get("PARTBASED_DATA"):
        return Path(os.environ["PARTBASED_DATA"])
    import pooch

    return Path(pooch.os_cache("partbased"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _HashMismatch(Exception):
    """The bytes a source delivered are not the expected ones; the message says what they hash to."""


class _HashingWriter:
    """A write-only file that hashes what goes through it (what pooch's downloaders and copyfileobj need)."""

    def __init__(self, f):
        self.f, self.hash = f, hashlib.sha256()

    def write(self, block: bytes) -> int:
        self.hash.update(block)
        return self.f.write(block)

    def flush(self) -> None:
        self.f.flush()


def _is_remote(url: str) -> bool:
    return urllib.parse.urlparse(url).scheme in ("http", "https", "ftp")


def _local_path(url: str) -> Path:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(url)


def _retrieve(url: str, filename: str, out) -> None:
    """Write the bytes of one source to the open file `out`; a folder or a URL ending in "/" gets `filename` appended."""
    if _is_remote(url):
        import pooch

        if url.endswith("/"):
            url += filename
        ftp = urllib.parse.urlparse(url).scheme == "ftp"
        downloader = pooch.FTPDownloader(timeout=60) if ftp else pooch.HTTPDownloader(progressbar=False, timeout=60)
        downloader(url, out, None)
        return
    src = _local_path(url)
    if src.is_dir():
        src = src / filename
    with open(src, "rb") as fin:
        shutil.copyfileobj(fin, out, 1 << 20)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _gunzip(src: Path, out) -> None:
    """Decompress `src` into the open file `out`; a truncated or corrupt stream is a _HashMismatch."""
    try:
        with gzip.open(src, "rb") as fin:
            shutil.copyfileobj(fin, out, 1 << 20)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _HashMismatch(f"corrupt or truncated gzip ({exc})") from exc


def _temp(folder: Path, name: str, made: list[Path]):
    """An open temporary file beside the cache entry, registered in `made` for cleanup."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    made.append(Path(tmp))
    return os.fdopen(fd, "wb")


def _fetch_one(url: str, target: Path, sha256: str, unpacked: Path, content_sha256: str | None) -> Path:
    """One source into the cache: kept as `target` when its sha256 is `sha256`, else (with
    content_sha256) kept as `unpacked` when its content, gunzipped if gzip, has content_sha256."""
    made: list[Path] = []
    try:
        with _temp(target.parent, target.name, made) as f:
            writer = _HashingWriter(f)
            _retrieve(url, target.name, writer)
        got = writer.hash.hexdigest()
        if got == sha256:
            os.replace(made[0], target)
            return target
        if content_sha256 is None:
            raise _HashMismatch(f"sha256 mismatch (got {got})")
        content, source = got, made[0]
        if _is_gzip(made[0]):
            with _temp(target.parent, unpacked.name, made) as f:
                writer = _HashingWriter(f)
                _gunzip(made[0], writer)
            content, source = writer.hash.hexdigest(), made[1]
        if content != content_sha256:
            detail = f"got {got}" if content == got else f"got {got}, unpacked {content}"
            raise _HashMismatch(f"sha256 mismatch ({detail})")
        os.replace(source, unpacked)
        return unpacked
    finally:
        for tmp in made:
            tmp.unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    """A short, human reason for one failed source."""
    import requests

    if isinstance(exc, _HashMismatch):
        return str(exc)
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


def fetch(url_list: list[str], filename: str, sha256: str, cache_dir: Path, content_sha256: str | None = None) -> Path:
    """`cache_dir/filename` with the given sha256, fetched from the first source that delivers it.

    Sources are http(s) URLs, file:// URLs or local paths; one ending in "/" (or a local
    directory) gets `filename` appended. With `content_sha256` (the sha256 of the unpacked
    file), a source is also accepted when it delivers the unpacked file itself or any other
    gzip of it: that is kept unpacked, as `filename` without ".gz", and that path returned.
    A verified cached file is returned without any access to the sources (so it is never
    fetched again); a cached file with a wrong hash is deleted and fetched again.
    Raises DownloadError naming the file, the expected hashes and every source with its reason.
    """
    if isinstance(url_list, str):
        url_list = [url_list]
    sha256 = sha256.lower()
    content_sha256 = content_sha256.lower() if content_sha256 else None
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target, unpacked = cache_dir / filename, cache_dir / filename.removesuffix(".gz")
    for path in dict.fromkeys([target, unpacked] if content_sha256 else [target]):
        if path.exists():
            if _sha256(path) in (sha256, content_sha256):
                return path
            path.unlink()  # corrupt or outdated: never hand it out
    failures = []
    for url in url_list:
        try:
            return _fetch_one(url, target, sha256, unpacked, content_sha256)
        except Exception as exc:  # any failure of one source: try the next
            failures.append(f"  - {url}: {_reason(exc)}")
    tried = "\n".join(failures) if failures else "  (no sources given)"
    expected = f"sha256 {sha256}" + (f", or unpacked sha256 {content_sha256}" if content_sha256 else "")
    raise DownloadError(f"could not fetch {filename} ({expected}) from any source:\n{tried}")
