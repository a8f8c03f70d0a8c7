"""Tests of the model families (PCA, NMF, AE), build_model and the checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partbased.data.bars import make_bars, single_bars
from partbased.models import AE, MODELS, PCA, build_model, load_model

K = 8
FAST = {
    "pca": {},
    "nmf": {"max_iter": 100, "encode_iter": 100},
    "ae": {"epochs": 5, "lr": 1e-2},
    "sparse_nmf": {"max_iter": 100, "encode_iter": 100},
    "nmf_sc": {"max_iter": 30, "encode_iter": 100, "sH": 0.6},
    "pae_nmf": {"epochs": 10},
    "nnsae": {"epochs": 2},
}


@pytest.fixture(scope="module")
def fitted(digits) -> dict:
    """One small model per family, fitted once on the digits."""
    return {family: build_model(family, {"k": K, **FAST[family]}).fit(digits) for family in MODELS}


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


# -- every family ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["pca", "nmf", "ae"])
def test_shapes_and_dtypes(fitted, digits, family):
    model = fitted[family]
    codes = model.encode(digits[:50])
    assert codes.shape == (50, K) and codes.dtype == np.float32
    recon = model.decode(codes)
    assert recon.shape == (50, 64) and recon.dtype == np.float32
    assert model.atoms.shape == (K, 64)
    # decode with the model's own atoms passed explicitly is the same as the default.
    np.testing.assert_allclose(model.decode(codes, atoms=model.atoms), recon, rtol=1e-6, atol=1e-6)
    assert model.history and np.isfinite([row["loss"] for row in model.history]).all()


@pytest.mark.parametrize("family", ["pca", "nmf", "ae"])
def test_save_load_round_trip(fitted, digits, family, tmp_path):
    model = fitted[family]
    model.metadata["image_shape"] = [8, 8]
    path = tmp_path / f"{family}.pt"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert loaded.history == model.history and loaded.metadata == model.metadata
    np.testing.assert_array_equal(loaded.encode(digits[:100]), model.encode(digits[:100]))
    np.testing.assert_array_equal(loaded.atoms, model.atoms)


def test_checkpoint_loads_with_weights_only(fitted, tmp_path):
    """The payload is tensors and plain containers, so the safe loader accepts it."""
    for family, model in fitted.items():
        model.save(tmp_path / f"{family}.pt")
        payload = torch.load(tmp_path / f"{family}.pt", weights_only=True)
        assert payload["model"] == family


@pytest.mark.parametrize("family", ["pca", "nmf", "ae"])
def test_fit_is_deterministic(digits, family):
    a = build_model(family, {"k": 4, "seed": 3, **FAST[family]}).fit(digits[:300])
    b = build_model(family, {"k": 4, "seed": 3, **FAST[family]}).fit(digits[:300])
    np.testing.assert_array_equal(a.atoms, b.atoms)


# -- PCA ------------------------------------------------------------------------------------------


def test_pca_recon_not_worse_than_nmf_or_ae(fitted, digits):
    """PCA is the optimal rank-k affine reconstruction, so NMF (linear, rank k) cannot beat it.

    The sigmoid AE could in principle, but at k=8 on digits it trails far behind (0.07 vs 0.024).
    """
    errors = {family: mse(m.decode(m.encode(digits)), digits) for family, m in fitted.items()}
    assert errors["pca"] <= errors["nmf"] + 1e-6
    assert errors["pca"] <= errors["ae"] + 1e-6
    assert fitted["pca"].history == [{"iteration": 0, "loss": pytest.approx(errors["pca"], rel=1e-5)}]


# -- NMF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "rel_slack"), [("float64", 1e-12), ("float32", 1e-5)])
def test_nmf_loss_monotone(digits, dtype, rel_slack):
    """Lee–Seung updates never increase the Euclidean cost (Eggert–Körner eq. 3–8)."""
    model = build_model("nmf", {"k": K, "max_iter": 150, "dtype": dtype, "seed": 1}).fit(digits[:500])
    loss = np.array([row["loss"] for row in model.history])
    assert len(loss) == 151 and loss[-1] < 0.5 * loss[0]
    increases = loss[1:] - loss[:-1]
    assert np.all(increases <= rel_slack * loss[:-1]), f"largest relative increase {np.max(increases / loss[:-1])}"


def test_nmf_encode_reconstructs_like_fit(digits):
    model = build_model("nmf", {"k": K, "max_iter": 200, "encode_iter": 300}).fit(digits)
    fit_mse = 2 * model.history[-1]["loss"] / digits.shape[1]  # loss = 0.5·‖X − HW‖²/n
    enc_mse = mse(model.decode(model.encode(digits)), digits)
    assert enc_mse <= 1.05 * fit_mse
    assert (model.encode(digits[:20]) >= 0).all() and (model.atoms >= 0).all()


def test_nmf_row_blocks_give_the_one_block_result(digits, monkeypatch):
    """fit and encode walk X in blocks of rows; the result must not depend on the block size
    (only the summation order of Hᵀ X and Hᵀ H changes, in float64 well below 1e-12)."""
    from partbased.models.nmf import NMF

    params = {"k": K, "max_iter": 60, "encode_iter": 40, "dtype": "float64", "seed": 2}
    whole = build_model("nmf", params).fit(digits)  # 1797 rows: one block
    monkeypatch.setattr(NMF, "cpu_block_rows", 100)  # 18 blocks, the last one short
    blocked = build_model("nmf", params).fit(digits)
    np.testing.assert_allclose(blocked.H.numpy(), whole.H.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(blocked.atoms, whole.atoms, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([r["loss"] for r in blocked.history], [r["loss"] for r in whole.history], rtol=1e-12)
    np.testing.assert_array_equal(blocked.encode(digits[:250]), whole.encode(digits[:250]))


def test_nmf_fit_from_a_given_init(digits):
    """init=(H, W) starts the updates there: zero iterations return it unchanged; a wrong shape is named."""
    rng = np.random.default_rng(0)
    h0, w0 = rng.random((300, K)).astype(np.float32), rng.random((K, 64)).astype(np.float32)
    model = build_model("nmf", {"k": K, "max_iter": 0}).fit(digits[:300], init=(h0, w0))
    np.testing.assert_array_equal(model.H.numpy(), h0)
    np.testing.assert_array_equal(model.atoms, w0)
    assert model.history[0]["loss"] == pytest.approx(0.5 * np.sum((digits[:300].astype(np.float64) - h0 @ w0) ** 2) / 300, rel=1e-6)
    with pytest.raises(ValueError, match=r"NMF init: need H \(300, 8\)"):
        build_model("nmf", {"k": K}).fit(digits[:300], init=(h0[:10], w0))
    with pytest.raises(ValueError, match="non-negative"):
        build_model("nmf", {"k": K}).fit(digits[:300], init=(h0 - 1, w0))


def test_nmf_rejects_negative_input(digits):
    with pytest.raises(ValueError, match="non-negative"):
        build_model("nmf", {"k": 2, "max_iter": 1}).fit(digits - 0.5)


def test_nmf_recovers_single_bars():
    """Eggert–Körner Sec. IV: NMF with k = 8 on 4×4 bars finds the 8 single bars."""
    x, _ = make_bars(250, size=4, seed=0)
    x = x.reshape(len(x), -1)
    truth = single_bars(4).reshape(8, -1)
    truth /= np.linalg.norm(truth, axis=1, keepdims=True)
    # seed 0 lands in a local minimum with two merged bars; seeds 1..9 all recover the bars.
    model = build_model("nmf", {"k": 8, "seed": 1, "max_iter": 500}).fit(x)
    atoms = model.atoms / np.maximum(np.linalg.norm(model.atoms, axis=1, keepdims=True), 1e-12)
    best = (truth @ atoms.T).max(axis=1)  # best cosine per true bar
    assert best.min() >= 0.9, f"cosines per bar: {np.round(best, 3)}"


# -- AE -------------------------------------------------------------------------------------------


def test_ae_projection_keeps_decoder_nonnegative(digits):
    x = digits[:600]
    projected = build_model("ae", {"k": K, "epochs": 3, "lr": 1e-2, "nonneg": "project"}).fit(x)
    free = build_model("ae", {"k": K, "epochs": 3, "lr": 1e-2, "nonneg": "none"}).fit(x)
    assert projected.atoms.min() >= 0
    assert free.atoms.min() < 0  # without projection Sec. 3.3 does not hold: the check can fail


def test_ae_kl_pulls_mean_activation_to_p(digits, fitted):
    p = 0.05
    sparse = build_model("ae", {"k": K, "beta": 1.0, "p": p, **FAST["ae"]}).fit(digits)
    dense = fitted["ae"]  # same settings, beta = 0
    # KL(p || p_hat) is two-sided: it moves the mean activation toward p from either side
    assert abs(sparse.encode(digits).mean() - p) < 0.5 * abs(dense.encode(digits).mean() - p)
    for model in (sparse, dense):
        loss = [row["loss"] for row in model.history]
        assert [row["epoch"] for row in model.history] == list(range(len(loss)))
        assert loss[-1] < loss[0]
    assert sparse.history[-1]["sparsity"] < sparse.history[0]["sparsity"]


def test_ae_decode_with_given_atoms_keeps_bias(fitted):
    model = fitted["ae"]
    codes = np.zeros((3, K), np.float32)
    bias = model.net.decoder.bias.detach().numpy()
    expected = 1 / (1 + np.exp(-bias))  # zero codes: σ_d(b_d) whatever the atoms
    np.testing.assert_allclose(model.decode(codes, atoms=np.ones((K, 64), np.float32)), np.tile(expected, (3, 1)), rtol=1e-5)


def test_ae_nan_raises(digits):
    with pytest.raises(FloatingPointError, match="epoch 0"):
        build_model("ae", {"k": 2, "epochs": 1}).fit(np.full_like(digits[:64], np.nan))


# -- build_model ----------------------------------------------------------------------------------


def test_build_model_rejects_unknown_family():
    with pytest.raises(ValueError, match="'ica'.*known.*ae.*nmf.*pca"):
        build_model("ica", {})


def test_build_model_rejects_unknown_parameter():
    with pytest.raises(ValueError, match=r"\['alpha'\].*allowed.*max_iter"):
        build_model("nmf", {"k": 4, "alpha": 0.1})


def test_build_model_converts_numpy_scalars():
    model = build_model("ae", {"k": np.int64(4), "beta": np.float32(0.5), "lr": 1, "nonneg_encoder": np.bool_(False)})
    assert isinstance(model, AE)
    assert type(model.config.k) is int and type(model.config.beta) is float and type(model.config.lr) is float
    assert model.config.nonneg_encoder is False
    assert isinstance(build_model("pca", {"k": 3}), PCA)
