"""Tests of partbased.metrics against hand-computed values and straightforward per-image references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.morphology import dilation, disk

from partbased.data.bars import single_bars
from partbased.metrics import (
    METRIC_KEYS,
    STRUCTURE_KEYS,
    SVMProtocol,
    atoms_min,
    atoms_rank,
    dilate,
    dilation_errors,
    evaluate,
    hoyer_sparseness,
    pca_angle_max,
    pixel_atoms,
    reconstruction_error,
    structure_metrics,
    svm_accuracy,
)
from partbased.models.base import Model

SHAPE = (6, 5)
PIXELS = SHAPE[0] * SHAPE[1]
FAST = SVMProtocol(n_C=4, cv_splits=3, cv_test_size=0.2, eval_splits=5, eval_test_size=0.2)


class LinearModel(Model):
    """Test double: codes = relu(x @ W_e); x_hat = act(codes @ atoms + b)."""

    name = "linear-test"
    config_class = dict

    def __init__(self, w_e, w_d, bias, activation="sigmoid"):
        super().__init__(None)
        self.w_e = np.asarray(w_e, np.float32)
        self.w_d = np.asarray(w_d, np.float32)
        self.bias = np.asarray(bias, np.float32)
        self.activation = activation
        self.n_encode = 0

    def fit(self, x):
        return self

    def encode(self, x):
        self.n_encode += 1
        return np.maximum(np.asarray(x, np.float32) @ self.w_e, 0).astype(np.float32)

    def decode(self, codes, atoms=None):
        w = self.w_d if atoms is None else np.asarray(atoms, np.float32)
        z = codes @ w + self.bias
        return (1 / (1 + np.exp(-z)) if self.activation == "sigmoid" else z).astype(np.float32)

    @property
    def atoms(self):
        return self.w_d

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def random_model(rng, k=7, activation="sigmoid"):
    return LinearModel(
        rng.standard_normal((PIXELS, k)) * 0.3,
        rng.standard_normal((k, PIXELS)),
        rng.standard_normal(PIXELS),
        activation,
    )


# ----------------------------------------------------------------------------- Hoyer


@pytest.mark.parametrize("n", [2, 3, 10, 100, 784])
def test_hoyer_one_hot_is_one_and_constant_is_zero(n):
    one_hot = np.zeros(n)
    one_hot[n // 2] = 3.5
    assert hoyer_sparseness(one_hot) == 1.0
    assert hoyer_sparseness(-one_hot) == 1.0  # signed codes: |h| in the L1 norm
    assert hoyer_sparseness(np.full(n, 0.7)) == pytest.approx(0.0, abs=1e-12)


def test_hoyer_random_vector_batch_and_scale_invariance():
    rng = np.random.default_rng(0)
    v = rng.random((50, 20))
    s = hoyer_sparseness(v)
    assert s.shape == (50,)
    assert np.all((s > 0) & (s < 1))
    np.testing.assert_allclose(hoyer_sparseness(7.3 * v), s, rtol=1e-12)
    # hand formula on one row
    row = v[3]
    expected = (math.sqrt(20) - np.abs(row).sum() / np.linalg.norm(row)) / (math.sqrt(20) - 1)
    assert s[3] == pytest.approx(expected, rel=1e-12)
    # half-sparse vector is sparser than the dense one
    assert hoyer_sparseness(np.r_[np.ones(10), np.zeros(10)]) > hoyer_sparseness(np.ones(20))


def test_hoyer_zero_rows_are_nan_and_n1_raises():
    s = hoyer_sparseness(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert np.isnan(s[0]) and s[1] == 1.0
    with pytest.raises(ValueError):
        hoyer_sparseness(np.ones((4, 1)))


# ----------------------------------------------------------------------------- dilation


def test_dilate_equals_per_image_loop_including_borders():
    rng = np.random.default_rng(1)
    stack = rng.random((9, *SHAPE)).astype(np.float32)
    # put maxima on borders and corners, where padding matters
    stack[0, 0, 0] = 5
    stack[1, -1, 2] = 5
    stack[2, 3, -1] = 5
    out = dilate(stack)
    ref = np.stack([dilation(img, disk(1)) for img in stack])
    np.testing.assert_array_equal(out, ref)
    signed = rng.standard_normal((4, 5, 3))  # signed atoms, a non-square image, negative borders
    signed[:, 0, :] = -9.0
    np.testing.assert_array_equal(dilate(signed), np.stack([dilation(img, disk(1)) for img in signed]))
    assert out.shape == stack.shape
    assert not np.array_equal(out, stack)
    assert np.all(out >= stack)
    # no mixing across the stack axis: a spike in image 0 does not leak into image 1
    spike = np.zeros((2, *SHAPE))
    spike[0, 2, 2] = 1
    d = dilate(spike)
    assert d[1].sum() == 0 and d[0].sum() == 5  # disk(1) is a 5-pixel cross


# ----------------------------------------------------------------------------- errors


def test_reconstruction_error_hand_value():
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    x_hat = np.array([[1.0, 1.0], [0.0, 3.5]], np.float32)
    # (1 + 0 + 4 + 0.25) / 4
    assert reconstruction_error(x, x_hat) == pytest.approx(1.3125, abs=1e-15)
    assert isinstance(reconstruction_error(x, x_hat), float)


def _reference_dilation_errors(model, x):
    """Straightforward per-image reference of Sec. 3.4, written independently of the module."""
    w_e, w_d, b = (m.astype(np.float64) for m in (model.w_e, model.w_d, model.bias))
    act = (lambda z: 1 / (1 + np.exp(-z))) if model.activation == "sigmoid" else (lambda z: z)
    w_dil = np.array([dilation(a.reshape(SHAPE), disk(1)).ravel() for a in w_d])
    err_in, err_rec = 0.0, 0.0
    for xi in x.astype(np.float64):
        h = np.maximum(xi @ w_e, 0)
        y_dil = act(h @ w_dil + b)  # bias not dilated, activation kept
        y_hat = act(h @ w_d + b)
        err_in += np.sum((y_dil - dilation(xi.reshape(SHAPE), disk(1)).ravel()) ** 2)
        err_rec += np.sum((y_dil - dilation(y_hat.reshape(SHAPE), disk(1)).ravel()) ** 2)
    return err_in / (len(x) * PIXELS), err_rec / (len(x) * PIXELS)


@pytest.mark.parametrize("activation", ["sigmoid", "identity"])
def test_dilation_errors_match_per_image_reference(activation):
    rng = np.random.default_rng(2)
    model = random_model(rng, activation=activation)
    x = rng.random((40, PIXELS)).astype(np.float32)
    got = dilation_errors(model, x, SHAPE)
    ref = _reference_dilation_errors(model, x)
    assert got[0] == pytest.approx(ref[0], abs=1e-6, rel=1e-5)
    assert got[1] == pytest.approx(ref[1], abs=1e-6, rel=1e-5)
    assert got[0] != pytest.approx(got[1])  # the two variants differ


def test_bias_is_not_dilated():
    # Only the bias is nonzero, identity decoder: x_hat = b for every input. With the bias NOT
    # dilated, x_dil_hat = b too, so the recon variant is MSE(b, dilate(b)) > 0; a dilated bias
    # would give dilate(b) and error 0.
    rng = np.random.default_rng(3)
    bias = rng.random(PIXELS)
    model = LinearModel(np.zeros((PIXELS, 4)), np.zeros((4, PIXELS)), bias, activation="identity")
    x = rng.random((5, PIXELS)).astype(np.float32)
    _, err_recon = dilation_errors(model, x, SHAPE)
    b32 = bias.astype(np.float32).astype(np.float64)
    expected = np.mean((b32 - dilation(b32.reshape(SHAPE), disk(1)).ravel()) ** 2)
    assert expected > 0
    assert err_recon == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------- SVM


def _clusters(rng, n_per_class=100, n_classes=4, dim=6, spread=0.3):
    centers = rng.standard_normal((n_classes, dim)) * 5
    y = np.repeat(np.arange(n_classes), n_per_class)
    return (centers[y] + spread * rng.standard_normal((len(y), dim))).astype(np.float32), y


def test_svm_separable_clusters_default_protocol():
    rng = np.random.default_rng(4)
    codes, y = _clusters(rng)
    mean, std = svm_accuracy(codes, y, SVMProtocol(), seed=0)
    assert mean >= 0.95
    assert 0 <= std < 0.1


def test_svm_random_labels_near_chance_and_deterministic():
    rng = np.random.default_rng(5)
    codes = rng.standard_normal((1000, 10)).astype(np.float32)
    y = rng.integers(0, 2, 1000)
    protocol = SVMProtocol(n_C=4, cv_splits=3, eval_splits=25, eval_test_size=0.2)
    mean, std = svm_accuracy(codes, y, protocol, seed=7)
    assert abs(mean - 0.5) < 0.1
    assert svm_accuracy(codes, y, protocol, seed=7) == (mean, std)


def test_svm_same_seed_identical_other_seed_runs():
    rng = np.random.default_rng(6)
    codes, y = _clusters(rng, spread=4.0)  # overlapping, so the splits matter
    a = svm_accuracy(codes, y, FAST, seed=1)
    b = svm_accuracy(codes, y, FAST, seed=1)
    assert a == b
    c = svm_accuracy(codes, y, FAST, seed=2)
    assert np.isfinite(c).all()


@pytest.mark.parametrize(
    "protocol, field",
    [
        (SVMProtocol(), "cv_test_size"),  # 80 fit codes * 0.08 -> 7 < 10 classes
        (SVMProtocol(holdout=0.05, cv_test_size=0.2), "holdout"),  # 5 held-out < 10 classes
        (SVMProtocol(cv_test_size=0.2), "eval_test_size"),  # 20 held-out * 0.05 -> 1 < 10
    ],
)
def test_svm_too_small_split_raises_naming_field(protocol, field):
    rng = np.random.default_rng(8)
    codes, y = _clusters(rng, n_per_class=10, n_classes=10)
    with pytest.raises(ValueError, match=field):
        svm_accuracy(codes, y, protocol, seed=0)


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_keys_values_and_single_encode():
    rng = np.random.default_rng(9)
    model = random_model(rng)
    x = rng.random((120, PIXELS)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    out = evaluate(model, x, y, SHAPE, FAST, seed=0)
    assert tuple(out) == METRIC_KEYS
    assert set(out) == {
        "recon_error", "hoyer_codes", "hoyer_atoms", "svm_accuracy",
        "svm_accuracy_std", "svm_converged", "dilation_error", "dilation_error_recon", "latent_kl",
    }
    assert out["svm_converged"] == 1.0
    assert np.isnan(out.pop("latent_kl"))  # a model without latent distributions (no prior_kl)
    assert all(isinstance(v, float) and np.isfinite(v) for v in out.values())
    assert model.n_encode == 1
    assert out["recon_error"] == pytest.approx(reconstruction_error(x, model.decode(model.encode(x))))
    assert (out["dilation_error"], out["dilation_error_recon"]) == pytest.approx(dilation_errors(model, x, SHAPE))
    assert out["hoyer_atoms"] == pytest.approx(np.mean(hoyer_sparseness(model.atoms)))


def test_evaluate_without_labels_gives_nan_svm():
    rng = np.random.default_rng(10)
    model = random_model(rng)
    x = rng.random((30, PIXELS)).astype(np.float32)
    x[0] = 0  # all-zero input -> all-zero relu code -> NaN Hoyer, skipped by nanmean
    out = evaluate(model, x, None, SHAPE, SVMProtocol(), seed=0)
    assert tuple(out) == METRIC_KEYS
    assert np.isnan(out["svm_accuracy"]) and np.isnan(out["svm_accuracy_std"]) and np.isnan(out["svm_converged"])
    for key in ("recon_error", "hoyer_codes", "hoyer_atoms", "dilation_error", "dilation_error_recon"):
        assert np.isfinite(out[key])


# ----------------------------------------------------------------------------- structure of the atoms


def _train_data(rng, n=300, pixels=PIXELS):
    basis = rng.standard_normal((6, pixels))
    return (rng.standard_normal((n, 6)) * [5, 4, 3, 2, 1, 0.5]) @ basis + 0.1 * rng.standard_normal((n, pixels))


def test_pca_angle_of_pca_components_is_zero_and_of_random_atoms_large():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(11)
    x = _train_data(rng)
    components = PCA(n_components=4, svd_solver="full").fit(x).components_
    assert pca_angle_max(components * [[2.0], [-1.0], [0.5], [3.0]], x) < 1e-4  # any basis of the same span
    assert pca_angle_max(rng.random((4, PIXELS)), x) > 30
    assert atoms_rank(components) == 4


@pytest.mark.parametrize("atoms, rank", [(np.zeros((5, PIXELS)), 0), ("duplicate", 3)])
def test_pca_angle_of_rank_deficient_atoms_is_90_and_says_so(atoms, rank, caplog):
    rng = np.random.default_rng(12)
    x = _train_data(rng)
    if isinstance(atoms, str):  # 4 atoms spanning 3 dimensions, all inside the PCA subspace
        from sklearn.decomposition import PCA

        top3 = PCA(n_components=3).fit(x).components_
        atoms = np.r_[top3, top3[:1] + top3[1:2]]
    with caplog.at_level("WARNING", logger="partbased"):
        angle = pca_angle_max(atoms, x)  # all-zero atoms raised "zero-size array ... maximum" before
    assert angle == 90.0
    assert atoms_rank(atoms) == rank
    assert f"rank {rank} < {len(atoms)}" in caplog.text


def test_pca_angle_is_nan_when_the_pca_subspace_is_everything(caplog):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((10, PIXELS))
    with caplog.at_level("INFO", logger="partbased"):
        assert np.isnan(pca_angle_max(rng.random((10, PIXELS)), x))
    assert "the PCA subspace would be the whole space" in caplog.text


def test_structure_metrics_keys():
    rng = np.random.default_rng(14)
    model = random_model(rng)
    out = structure_metrics(model, _train_data(rng), bars_size=None)
    assert tuple(out) == STRUCTURE_KEYS == ("bars_recovery", "pca_angle_max", "atoms_rank", "pixel_atoms", "atoms_min")
    assert np.isnan(out["bars_recovery"]) and 0 < out["pca_angle_max"] <= 90 and out["atoms_rank"] == 7
    assert np.isnan(out["pixel_atoms"])  # bars datasets only
    assert out["atoms_min"] == pytest.approx(model.atoms.min()) and out["atoms_min"] < 0  # signed random atoms


def test_pixel_atoms_of_pixels_bars_and_fragments():
    bars = single_bars(4).reshape(8, 16)
    assert pixel_atoms(np.eye(16), 4) == 1.0  # single pixels: the trivial overcomplete solution
    assert pixel_atoms(bars, 4) == 0.0
    assert pixel_atoms(bars[:2] + bars[4:6], 4) == 0.0  # unions of bars (EK Fig. 4, λ = 0.25) are not pixel-like
    fragment = bars[0].copy()
    fragment[3] = 0.2  # three pixels of the first row's bar and a faint fourth: no whole bar
    assert pixel_atoms(np.r_[bars[:3], fragment[None], np.zeros((2, 16))], 4) == pytest.approx(1 / 4)  # dead atoms left out
    assert np.isnan(pixel_atoms(np.zeros((3, 16)), 4))
    assert pixel_atoms(-np.eye(16), 4) == 1.0  # by magnitude: a negative pixel is a pixel too


def test_atoms_min():
    assert atoms_min(np.eye(3)) == 0.0 and atoms_min(np.array([[0.5, -0.25], [1.0, 2.0]])) == -0.25
    assert np.isnan(atoms_min(np.zeros((0, 4))))
