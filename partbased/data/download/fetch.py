"""Checksummed fetching: http(s), file:// or local sources tried in order, into a cache folder.

A file appears in the cache only once its sha256 matches; nothing partial is left behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.parse
import urllib.request
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
