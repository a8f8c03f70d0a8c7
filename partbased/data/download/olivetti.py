"""ORL/Olivetti faces through scikit-learn's checked download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DownloadError


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
