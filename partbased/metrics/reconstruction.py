"""Reconstruction error and the max-approximation to dilation ([REF]; [REPORT] Sec. 3.4).

The dilation is numpy (equal to scikit-image's), so that an evaluation job does not import scikit-image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from partbased.models.base import Model


def reconstruction_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Pixel-wise mean squared error ([REF] "Reconstruction error"), computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"shape mismatch: {x.shape} vs {x_hat.shape}")
    return float(np.mean((x - x_hat) ** 2))


def dilate(images: np.ndarray) -> np.ndarray:
    """Grey dilation of each image of a stack (n, h, w) by a disk of radius 1.

    [REF]/[REPORT] Sec. 3.4: delta_1 = skimage.morphology.dilation(img, disk(1)). disk(1) is the
    5-pixel cross, so the dilation is the maximum of each pixel and its 4 neighbours; past the border
    scikit-image reflects the image (mode "reflect"), which repeats the border pixel, so a missing
    neighbour changes no maximum. Written with numpy slices (equal to scikit-image's result bit for bit,
    tests/test_metrics.py) because importing skimage.morphology costs ~0.6 s of CPU per evaluation job.
    Images do not mix.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"dilate expects a stack (n, h, w), got shape {images.shape}")
    out = images.copy()
    np.maximum(out[:, 1:, :], images[:, :-1, :], out=out[:, 1:, :])  # the pixel above
    np.maximum(out[:, :-1, :], images[:, 1:, :], out=out[:, :-1, :])  # below
    np.maximum(out[:, :, 1:], images[:, :, :-1], out=out[:, :, 1:])  # left
    np.maximum(out[:, :, :-1], images[:, :, 1:], out=out[:, :, :-1])  # right
    return out


def _as_images(x: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    h, w = image_shape
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ValueError(f"expected (n, {h * w}) rows for image_shape {tuple(image_shape)}, got {x.shape}")
    return x.reshape(len(x), h, w)


def _dilation_errors_from_codes(
    model: Model,
    codes: np.ndarray,
    x: np.ndarray,
    image_shape: tuple[int, int],
    x_hat: np.ndarray | None = None,
) -> tuple[float, float]:
    """dilation_errors with the codes (and optionally the reconstructions) already computed."""
    n_pixels = image_shape[0] * image_shape[1]
    atoms = np.asarray(model.atoms)
    # [REPORT] Sec. 3.4: delta_1(W_d), each atom (decoder weight row) dilated as a d x d image.
    dilated_atoms = dilate(_as_images(atoms, image_shape)).reshape(len(atoms), n_pixels).astype(np.float32)
    # [REPORT] Sec. 3.4: h_delta1(x) = sigma_d(delta_1(W_d)^T h + b_d): same codes, dilated atoms,
    # bias NOT dilated, decoder activation kept -- the model's decode applies b_d and sigma_d.
    x_dil_hat = model.decode(codes, atoms=dilated_atoms)
    if x_hat is None:
        x_hat = model.decode(codes)
    n = len(x)
    # [REPORT] Sec. 3.4: E = 1/(mN) sum_i ||h_delta1(x_i) - delta_1(x_i)||^2 (vs the original images) ...
    err_input = reconstruction_error(x_dil_hat, dilate(_as_images(x, image_shape)).reshape(n, n_pixels))
    # ... and the variant vs the dilation of the reconstructions ([REPORT] Fig. 8d, [REF]).
    err_recon = reconstruction_error(x_dil_hat, dilate(_as_images(x_hat, image_shape)).reshape(n, n_pixels))
    return err_input, err_recon


def dilation_errors(model: Model, x: np.ndarray, image_shape: tuple[int, int]) -> tuple[float, float]:
    """Max-approximation errors to dilation by disk(1) ([REPORT] Sec. 3.4, [REF]).

    Returns (MSE(h_delta1(x), delta_1(x)), MSE(h_delta1(x), delta_1(h(x)))), where h_delta1 decodes
    the codes of x with the dilated atoms (bias not dilated, decoder activation kept).
    """
    return _dilation_errors_from_codes(model, model.encode(x), x, image_shape)
