"""All metrics of one grid point on its test set: the tidy row's metric columns (METRIC_KEYS)."""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .reconstruction import _dilation_errors_from_codes, reconstruction_error
from .sparsity import hoyer_sparseness
from .svm import SVMProtocol, svm_score

if TYPE_CHECKING:
    from partbased.models.base import Model

log = logging.getLogger("partbased")

METRIC_KEYS = (
    "recon_error",
    "hoyer_codes",
    "hoyer_atoms",
    "svm_accuracy",
    "svm_accuracy_std",
    "svm_converged",
    "dilation_error",
    "dilation_error_recon",
    "latent_kl",
)


def evaluate(
    model: Model,
    x_test: np.ndarray,
    labels: np.ndarray | None,
    image_shape: tuple[int, int],
    protocol: SVMProtocol,
    seed: int,
    *,
    device: str = "auto",
) -> dict[str, float]:
    """All metrics of [REF] on the test set; encodes x_test once and decodes the codes once.

    Keys: recon_error, hoyer_codes (nanmean over test codes), hoyer_atoms (nanmean over atoms),
    svm_accuracy, svm_accuracy_std, svm_converged (fraction of the protocol's SVM fits that converged
    within max_iter, 1.0 = all; the three are NaN when labels is None: not computed), dilation_error,
    dilation_error_recon, latent_kl (mean over test samples of KL(q(z|x) ‖ prior), summed over the latent
    dimensions: for models with a `prior_kl(x)` (PAE-NMF), else NaN). device: where the torch SVM solver runs ("auto" = CUDA when present).
    """
    start = time.perf_counter()
    codes = model.encode(x_test)
    x_hat = model.decode(codes)
    log.info("evaluate: %d test images encoded and decoded in %.1f s", len(x_test), time.perf_counter() - start)
    dil_in, dil_recon = _dilation_errors_from_codes(model, codes, x_test, image_shape, x_hat=x_hat)
    if labels is None:
        svm_mean = svm_std = svm_converged = float("nan")
    else:
        score = svm_score(codes, labels, protocol, seed, device=device)
        svm_mean, svm_std, svm_converged = score.accuracy, score.accuracy_std, score.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # nanmean of all-NaN -> NaN
        hoyer_codes = float(np.nanmean(hoyer_sparseness(codes)))
        hoyer_atoms = float(np.nanmean(hoyer_sparseness(model.atoms)))
    # pae-nmf-weibull-vae Sec. 2, eq. 1–3: the KL term of its objective, on the test set
    latent_kl = float(np.mean(model.prior_kl(x_test))) if hasattr(model, "prior_kl") and len(x_test) else float("nan")
    out = {
        "recon_error": reconstruction_error(x_test, x_hat),
        "hoyer_codes": hoyer_codes,
        "hoyer_atoms": hoyer_atoms,
        "svm_accuracy": svm_mean,
        "svm_accuracy_std": svm_std,
        "svm_converged": svm_converged,
        "dilation_error": dil_in,
        "dilation_error_recon": dil_recon,
        "latent_kl": latent_kl,
    }
    assert tuple(out) == METRIC_KEYS
    log.info("evaluate: done in %.1f s", time.perf_counter() - start)
    return out
