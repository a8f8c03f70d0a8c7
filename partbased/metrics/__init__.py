"""Evaluation metrics of the part-based representation study, one module per concern.

Sources:
- [REF] shared/REFERENCE.md, "Evaluation protocol of the part-based autoencoder study".
- [REPORT] shared/seeds/part-based-autoencoders-report.txt, Sec. 3.4 (max-approximation to dilation).
- [HOYER] P. O. Hoyer, "Non-negative matrix factorization with sparseness constraints", JMLR 2004.

Modules: `sparsity` (Hoyer), `reconstruction` (MSE, max-approximation to dilation), `svm` (the SVM
protocol: splits, the liblinear reference, the dispatch), `svm_torch` (the batched torch solver),
`structure` (bars recovery, pixel-like atoms, angle to the PCA subspace, atoms' rank and smallest entry), `evaluation` (all of one point).
All metrics take NumPy arrays with one flattened image (or one code) per row. Importing this
package imports neither torch nor scikit-learn nor scikit-image: each is imported where it is used.
"""

from .evaluation import METRIC_KEYS, evaluate
from .reconstruction import dilate, dilation_errors, reconstruction_error
from .sparsity import hoyer_sparseness
from .structure import (
    MATCH_COSINE,
    STRUCTURE_KEYS,
    atoms_min,
    atoms_rank,
    bar_cosines,
    bars_covered,
    bars_recovery,
    pca_angle_max,
    pixel_atoms,
    structure_metrics,
)
from .svm import SOLVERS, SVMProtocol, SVMScore, best_C_index, protocol_splits, svm_accuracy, svm_score

__all__ = [
    "METRIC_KEYS",
    "STRUCTURE_KEYS",
    "MATCH_COSINE",
    "SOLVERS",
    "SVMProtocol",
    "SVMScore",
    "atoms_min",
    "atoms_rank",
    "bar_cosines",
    "bars_covered",
    "bars_recovery",
    "best_C_index",
    "dilate",
    "dilation_errors",
    "evaluate",
    "hoyer_sparseness",
    "pca_angle_max",
    "pixel_atoms",
    "protocol_splits",
    "reconstruction_error",
    "structure_metrics",
    "svm_accuracy",
    "svm_score",
]
