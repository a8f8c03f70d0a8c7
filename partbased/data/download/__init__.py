"""Real data on disk or on the network, one module per concern:

- `fetch`: checksummed downloads into a cache, mirrors tried in order;
- `idx`: MNIST / Fashion-MNIST (registry, IDX reader, official split);
- `matrix`: a user's own CSV / NPY / zarr matrix;
- `cbcl`: CBCL faces from PGM files, and nmfpack's preprocessing;
- `olivetti`: ORL/Olivetti faces through scikit-learn.

Every loader returns images (n, h, w) float32; labels are int64 or None. Errors about bytes
on disk are `DataFormatError` (a ValueError) naming the file; a file that no mirror could
deliver intact is a `DownloadError` (a RuntimeError) naming every source tried and why.
"""

from .cbcl import load_cbcl, nmfpack_preprocess, read_pgm
from .errors import DataFormatError, DownloadError
from .fetch import default_cache_dir, fetch
from .idx import IDX_DATASETS, IdxDataset, RemoteFile, load_idx_dataset, read_idx
from .matrix import load_matrix
from .olivetti import load_olivetti

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
