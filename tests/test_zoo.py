"""Tests of the extra model families (sparse NMF, nmfsc, PAE-NMF, NNSAE), the AE's penalties and options,
and the linear-AE-vs-PCA check. Small data only: 4×4 bars and scikit-learn's 8×8 digits."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from partbased.data import make_bars
from partbased.metrics import SVMProtocol, evaluate, hoyer_sparseness
from partbased.metrics_bars import bar_cosines, bars_covered, bars_recovery
from partbased.models import MODELS, NMFSC, PAENMF, SparseNMF, build_model, load_model, principal_angles
from partbased.models.ae import AEConfig, asymmetric_decay, sparsity_penalty
from partbased.models.nmf_sc import hoyer_projection, hoyer_projection_rows, l1_for_sparseness
from partbased.models.pae_nmf import PAENMFConfig, weibull_kl


@pytest.fixture(scope="module")
def bars() -> np.ndarray:
    """Eggert & Körner's data (Sec. IV A): 250 thresholded, L2-normalised 4×4 bar images, (250, 16)."""
    x, _ = make_bars(250, size=4, seed=0)
    return x.reshape(len(x), -1)


# -- AE sparsity penalties (report Sec. 3.2) -----------------------------------------------------

P, T = 0.3, [0.1, 0.5]
PENALTY_VALUES = {
    "kl": sum(P * math.log(P / t) + (1 - P) * math.log((1 - P) / (1 - t)) for t in T),
    "l2": (0.3 - 0.1) ** 2 + (0.3 - 0.5) ** 2,  # 0.04 + 0.04
    "eps_l1": 2 * math.sqrt(0.04 + 0.01),  # ε = 0.01
    "log": 2 * math.log(1.04),
    "none": 0.0,
}


@pytest.mark.parametrize("name", sorted(PENALTY_VALUES))
def test_sparsity_penalty_values(name):
    value = sparsity_penalty(name, P, torch.tensor(T, dtype=torch.float64), eps=0.01)
    assert float(value) == pytest.approx(PENALTY_VALUES[name], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["kl", "l2", "eps_l1", "log"])
def test_sparsity_penalty_gradient(name):
    t = torch.tensor([0.02, 0.3, 0.55, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sparsity_penalty(name, 0.05, t, eps=1e-3), (t,))


# w = [-2, -0.5, 1, 3], α = 0.1: α·g on the positive weights, g on the negative ones (Sec. 3.3).
DECAY_VALUES = {
    "asym_l2": (4 + 0.25) + 0.1 * (1 + 9),
    "asym_l1": (2 + 0.5) + 0.1 * (1 + 3),
    "asym_smooth": (2 + 4) + (0.5 + 0.25) + 0.1 * ((1 + 1) + (3 + 9)),
    "none": 0.0,
    "project": 0.0,
}


@pytest.mark.parametrize("name", sorted(DECAY_VALUES))
def test_asymmetric_decay_values(name):
    w = torch.tensor([-2.0, -0.5, 1.0, 3.0], dtype=torch.float64)
    assert float(asymmetric_decay(name, w, alpha=0.1)) == pytest.approx(DECAY_VALUES[name], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["asym_l2", "asym_l1", "asym_smooth"])
def test_asymmetric_decay_gradient(name):
    # entries away from 0, where |w| and the α switch are not differentiable
    w = torch.tensor([[-1.3, -0.2, 0.4], [0.7, -0.05, 2.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: asymmetric_decay(name, w, 0.3), (w,))


def test_unknown_penalty_raises():
    with pytest.raises(ValueError, match="unknown penalty"):
        sparsity_penalty("l3", 0.1, torch.ones(2))
    with pytest.raises(ValueError, match="penalty"):
        AEConfig(penalty="l3")


# -- AE options -----------------------------------------------------------------------------------


def test_kl_with_linear_encoder_raises():
    with pytest.raises(ValueError, match=r"penalty 'kl' with beta 0.1 needs codes in \[0, 1\]"):
        AEConfig(encoder_activation="linear", beta=0.1)  # penalty defaults to "kl"
    AEConfig(encoder_activation="linear")  # beta 0: no sparsity term, a plain linear AE
    AEConfig(encoder_activation="linear", penalty="l2", p=0.0, beta=0.1)  # the other penalties are fine


def test_p_outside_unit_interval_only_for_kl():
    with pytest.raises(ValueError, match=r"penalty 'kl' needs p in \(0, 1\)"):
        AEConfig(p=1.5)
    assert AEConfig(penalty="l2", p=1.5, beta=0.1).p == 1.5


def test_one_nonnegativity_option():
    assert AEConfig().nonneg == "none"  # the default AE leaves W_d free
    assert "project" not in {f.name for f in dataclasses.fields(AEConfig)}  # the old alias is gone
    with pytest.raises(ValueError, match="nonneg"):
        AEConfig(nonneg="clip")


def test_asym_l2_drives_negative_decoder_weights_to_zero(digits):
    """Sec. 3.3: with α = 0 and a large λ only the negative weights are decayed."""
    x = digits[:1000]
    common = {"k": 8, "epochs": 10, "lr": 1e-2}
    free = build_model("ae", {**common, "nonneg": "none"}).fit(x)
    decayed = build_model("ae", {**common, "nonneg": "asym_l2", "alpha": 0.0, "nonneg_lambda": 1.0}).fit(x)
    neg_free = np.clip(-free.atoms, 0, None).sum()  # ≈ 136 on this run
    neg_decayed = np.clip(-decayed.atoms, 0, None).sum()  # ≈ 0.01
    assert neg_decayed < 1e-3 * neg_free
    assert decayed.atoms.min() > -0.02 and free.atoms.min() < -0.5
    assert np.clip(decayed.atoms, 0, None).sum() > 10  # positive weights survive: α = 0 leaves them alone
    assert [row["decay"] for row in decayed.history][-1] > 0 and free.history[-1]["decay"] == 0


def test_nonneg_encoder_projection(digits):
    model = build_model("ae", {"k": 6, "epochs": 2, "lr": 1e-2, "nonneg": "project", "nonneg_encoder": True}).fit(digits[:500])
    assert model.atoms.min() >= 0 and model.net.encoder.weight.min().item() >= 0


def test_nonneg_uniform_init(digits):
    model = build_model("ae", {"k": 10, "epochs": 0, "init": "nonneg_uniform"}).fit(digits[:10])
    r = math.sqrt(6) / math.sqrt(10 + 64 + 1)
    for layer in (model.net.encoder, model.net.decoder):
        w = layer.weight.detach().numpy()
        assert w.min() >= 0 and w.max() <= r and w.max() > 0.9 * r
        assert np.all(layer.bias.detach().numpy() == 0)


def test_ncae_preset_with_lbfgs(digits):
    """REFERENCE "NCAE": L-BFGS, KL β = 3, p = 0.05, (λ/2)Σ negative w² on both layers, U[0, r] init."""
    params = {
        "k": 16,
        "beta": 3.0,
        "p": 0.05,
        "nonneg": "asym_l2",
        "alpha": 0.0,
        "nonneg_lambda": 1.5e-3,
        "nonneg_encoder": True,
        "init": "nonneg_uniform",
        "optimizer": "lbfgs",
        "loss_scale": "ncae",
        "epochs": 60,
    }
    model = build_model("ae", params).fit(digits)
    loss = np.array([row["loss"] for row in model.history])
    assert len(loss) == 60 and loss[-1] < 0.05 * loss[0]
    assert np.all(np.diff(loss) <= 1e-6 * loss[:-1])  # a strong-Wolfe step never increases the loss
    assert abs(model.encode(digits).mean() - 0.05) < 0.02  # the KL term holds the mean activation near p


def test_ae_nan_raises_with_lbfgs(digits):
    with pytest.raises(FloatingPointError, match="epoch 0"):
        build_model("ae", {"k": 2, "epochs": 1, "optimizer": "lbfgs"}).fit(np.full_like(digits[:64], np.nan))


def test_linear_ae_spans_the_pca_subspace(digits):
    """Linear encoder and decoder, no penalties: the decoder's atoms span PCA's top-k subspace
    (properties-of-autoencoders Sec. 3; report Sec. 3.1). Full-batch L-BFGS converges in a few
    hundred iterations; 500 leaves margin (seeds 0–3 reach max angles of 1–11° at 200)."""
    params = {
        "k": 4,
        "encoder_activation": "linear",
        "decoder_activation": "linear",
        "penalty": "none",
        "nonneg": "none",
        "optimizer": "lbfgs",
        "epochs": 500,
    }
    ae = build_model("ae", params).fit(digits)
    pca = build_model("pca", {"k": 4}).fit(digits)
    angles = principal_angles(ae.atoms, pca.atoms)
    assert angles.shape == (4,) and angles.max() < 10, f"angles {np.round(angles, 2)}"
    # the check can fail: a sigmoid AE's atoms are not the PCA subspace
    assert principal_angles(np.eye(64)[:4], pca.atoms).max() > 45


def test_principal_angles_basics():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 10))
    np.testing.assert_allclose(principal_angles(a, rng.normal(size=(3, 3)) @ a), 0, atol=1e-5)
    np.testing.assert_allclose(principal_angles(np.eye(10)[:2], np.eye(10)[2:5]), [90, 90])


# -- Weibull KL (PAE-NMF eq. 3) -------------------------------------------------------------------


def _kl_quad(k1, l1, k2, l2) -> float:
    p, q = stats.weibull_min(k1, scale=l1), stats.weibull_min(k2, scale=l2)

    def f(x):
        return p.pdf(x) * (p.logpdf(x) - q.logpdf(x)) if x > 0 else 0.0

    med = float(p.median())  # split where the mass is: quad's adaptivity then handles x^{k-1} at 0
    return sum(integrate.quad(f, a, b, limit=200, epsabs=1e-12, epsrel=1e-10)[0] for a, b in [(0, med), (med, np.inf)])


@pytest.mark.parametrize("k1", [0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("l1", [0.3, 1.0, 3.0])
def test_weibull_kl_matches_quadrature(k1, l1):
    closed = float(weibull_kl(torch.tensor(k1, dtype=torch.float64), torch.tensor(l1, dtype=torch.float64)))
    assert closed == pytest.approx(_kl_quad(k1, l1, 1.0, 1.0), abs=1e-6, rel=1e-6)


def test_weibull_kl_general_prior_and_zero():
    for k1, l1, k2, l2 in [(2.0, 1.5, 0.7, 2.0), (0.8, 0.5, 3.0, 0.4)]:
        closed = float(weibull_kl(torch.tensor(k1, dtype=torch.float64), torch.tensor(l1, dtype=torch.float64), k2, l2))
        assert closed == pytest.approx(_kl_quad(k1, l1, k2, l2), abs=1e-6, rel=1e-6)
    assert float(weibull_kl(torch.tensor(1.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(0, abs=1e-15)


# -- Hoyer projection -----------------------------------------------------------------------------


def test_l1_for_sparseness():
    assert l1_for_sparseness(16, 0.0) == pytest.approx(4.0)  # a constant unit vector
    assert l1_for_sparseness(16, 1.0) == pytest.approx(1.0)  # a one-hot vector
    v = np.zeros(16)
    v[:4] = 0.5  # a 4-pixel bar: sparseness 2/3
    assert l1_for_sparseness(16, float(hoyer_sparseness(v))) == pytest.approx(v.sum())


def test_hoyer_projection_hits_targets():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 60))
        s = float(rng.uniform(0, 1))
        l2 = float(rng.uniform(0.2, 3))
        x = rng.normal(size=n) * rng.uniform(0.1, 3)
        v = hoyer_projection(x, l1_for_sparseness(n, s) * l2, l2)
        assert v.min() >= 0
        assert np.linalg.norm(v) == pytest.approx(l2, abs=1e-6)
        assert v.sum() == pytest.approx(l1_for_sparseness(n, s) * l2, abs=1e-6)
        assert float(hoyer_sparseness(v)) == pytest.approx(s, abs=1e-6)
    with pytest.raises(ValueError, match="l1"):
        hoyer_projection(np.ones(4), 3.0, 1.0)  # L1 > √n·L2: empty set


def test_batched_projection_matches_reference():
    """nmf_sc projects all components at once (torch); it must agree with the NumPy reference."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 40)) * 2
    x[3] = 0.5  # a constant row: the degenerate centre case
    l2 = rng.uniform(0.5, 2, size=12)
    l1 = np.array([l1_for_sparseness(40, s) for s in rng.uniform(0, 1, size=12)]) * l2
    got = hoyer_projection_rows(torch.tensor(x), torch.tensor(l1), torch.tensor(l2)).numpy()
    want = np.stack([hoyer_projection(x[i], l1[i], l2[i]) for i in range(12)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_hoyer_projection_is_the_closest_point():
    """n = 3: the feasible set {v ≥ 0, Σv = l1, ‖v‖ = 1} is an arc of the circle in the plane Σv = l1
    around (l1/3)·1; sample it densely and check no sampled point is closer than the projection."""
    rng = np.random.default_rng(1)
    u1 = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
    u2 = np.array([1.0, 1.0, -2.0]) / math.sqrt(6)
    theta = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
    for _ in range(100):
        l1 = l1_for_sparseness(3, float(rng.uniform(0, 1)))
        radius = math.sqrt(max(1 - l1 * l1 / 3, 0.0))
        circle = l1 / 3 + radius * (np.cos(theta)[:, None] * u1 + np.sin(theta)[:, None] * u2)  # (m, 3)
        feasible = circle[(circle >= 0).all(axis=1)]
        x = rng.normal(size=3) * 2
        v = hoyer_projection(x, l1, 1.0)
        assert np.linalg.norm(v - x) <= np.linalg.norm(feasible - x, axis=1).min() + 1e-9


# -- Sparse NMF (Eggert & Körner) -----------------------------------------------------------------


def test_sparse_nmf_cost_non_increasing(bars):
    """eq. 17 decreases eq. 11 for fixed W̄; eq. 18 is not proven to (Sec. IV B) but does here."""
    for lam in (0.0, 0.25):
        model = build_model("sparse_nmf", {"k": 12, "lam": lam, "max_iter": 300, "dtype": "float64", "seed": 2}).fit(bars)
        loss = np.array([row["loss"] for row in model.history])
        assert len(loss) == 301 and loss[-1] < 0.75 * loss[0]
        increases = loss[1:] - loss[:-1]
        assert np.all(increases <= 1e-12 * loss[:-1]), f"λ={lam}: largest relative increase {np.max(increases / loss[:-1])}"
        np.testing.assert_allclose(np.linalg.norm(model.atoms, axis=1), 1, rtol=1e-6)  # W̄_j unit norm, eq. 12


def _eggert(bars, k: int, lam: float):
    # Sec. IV A: 250 images, 1000 steps, W and H uniform in [0.5, 1]. Seed 1: seed 0 merges two bars
    # at k = 8 (a local minimum, as for plain NMF); seeds 1–3 all pass every check below.
    params = {"k": k, "lam": lam, "max_iter": 1000, "init": "eggert", "dtype": "float64", "seed": 1}
    return build_model("sparse_nmf", params).fit(bars)


def test_eggert_koerner_8_bases_find_the_bars(bars):
    """Fig. 2: with 8 bases, the 8 single bars."""
    atoms = _eggert(bars, 8, 0.0).atoms
    assert bars_recovery(atoms, 4) == 1.0, f"cosines per bar: {np.round(bar_cosines(atoms, 4), 3)}"


def test_eggert_koerner_36_bases_without_sparsity_are_pixel_like(bars):
    """Fig. 3: with 36 bases and λ = 0 the atoms fragment towards single pixels.

    Criterion: a single bar has 4 active pixels and Hoyer sparseness (4 − 4/2)/3 = 2/3; "pixel-like"
    atoms are sparser than that. After 1000 steps most atoms are 1–3-pixel fragments (seeds 0–5:
    56–67 % have < 4 pixels above 0.2·max, median sparseness 0.73–0.78); λ = 0.25 gives none.
    """
    atoms = _eggert(bars, 36, 0.0).atoms
    active = (atoms > 0.2 * atoms.max(axis=1, keepdims=True)).sum(axis=1)  # (36,)
    assert np.mean(active < 4) >= 0.5, f"active pixels per atom: {np.bincount(active)}"
    assert np.median(hoyer_sparseness(atoms)) > 0.7
    assert np.sum(bars_covered(atoms, 4) >= 2) == 0  # no multi-bar atoms


def test_eggert_koerner_36_bases_with_sparsity_find_bars_and_combinations(bars):
    """Fig. 4, λ = 0.25: all single bars plus atoms for two- and more-bar patterns."""
    atoms = _eggert(bars, 36, 0.25).atoms
    covered = bars_covered(atoms, 4)  # (36,): bars contained in each atom
    assert bars_recovery(atoms, 4) == 1.0, f"cosines per bar: {np.round(bar_cosines(atoms, 4), 3)}"
    assert np.sum(covered >= 2) >= 16, f"bars per atom: {np.bincount(covered)}"  # seeds 0–5: 28
    active = (atoms > 0.2 * atoms.max(axis=1, keepdims=True)).sum(axis=1)
    assert np.all(active >= 4)  # no pixel fragments


def test_bars_recovery_metric():
    from partbased.data import single_bars

    truth = single_bars(4).reshape(8, -1)
    assert bars_recovery(truth, 4) == 1.0
    assert bars_recovery(truth[:6], 4) == pytest.approx(0.75)
    assert bars_recovery(np.eye(16), 4) == 0.0  # a pixel's cosine with a bar is 1/2
    np.testing.assert_array_equal(bars_covered(np.vstack([truth[:1] + truth[4:5], np.eye(16)[:1]]), 4), [2, 0])


def test_sparse_nmf_encode_reconstructs(bars):
    model = build_model("sparse_nmf", {"k": 8, "max_iter": 300, "encode_iter": 300, "init": "eggert", "seed": 1}).fit(bars)
    fit_mse = 2 * model.history[-1]["loss"] / bars.shape[1]  # λ = 0: loss = ½‖X − HW̄‖²/n
    codes = model.encode(bars)
    assert codes.min() >= 0
    assert np.mean((model.decode(codes) - bars) ** 2) <= 1.05 * fit_mse + 1e-9


# -- nmfsc (Hoyer 2004) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sW", "sH"), [(None, 0.6), (0.5, 0.6), (0.5, None)])
def test_nmf_sc_constraints_and_progress(digits, sW, sH):
    model = build_model("nmf_sc", {"k": 8, "max_iter": 60, "sW": sW, "sH": sH, "dtype": "float64", "seed": 0}).fit(digits[:500])
    loss = np.array([row["loss"] for row in model.history])
    assert loss[-1] < 0.5 * loss[0] and np.all(np.diff(loss) <= 1e-12 * loss[:-1])  # accepted steps never increase
    if sH is not None:  # per component, across the training samples (columns of our codes)
        np.testing.assert_allclose(hoyer_sparseness(model.train_codes.T.astype(np.float64)), sH, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(model.train_codes, axis=0), 1, rtol=1e-5)
    if sW is not None:
        np.testing.assert_allclose(hoyer_sparseness(model.atoms.astype(np.float64)), sW, atol=1e-5)
    assert model.atoms.min() >= 0 and model.train_codes.min() >= 0


def test_nmf_sc_scale_and_encode(digits):
    x = 16 * digits[:400]  # raw digits, max 16: fit divides by the max and decode multiplies back
    model = build_model("nmf_sc", {"k": 8, "max_iter": 60, "encode_iter": 300, "sH": 0.5}).fit(x)
    assert model.scale == 16.0
    fit_mse = 2 * model.history[-1]["loss"] / x.shape[1]  # loss = ½‖X − s·HW‖²/n in the data's units
    train_mse = np.mean((model.decode(model.train_codes) - x) ** 2)
    assert train_mse == pytest.approx(fit_mse, rel=1e-3)
    # unconstrained encoding of the same data can only fit better than the sH-constrained codes
    assert np.mean((model.decode(model.encode(x)) - x) ** 2) <= 1.01 * fit_mse


# -- PAE-NMF --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pae(digits) -> dict:
    common = {"k": 8, "epochs": 100, "batch_size": 500, "lr": 5e-3, "seed": 0}
    return {w: build_model("pae_nmf", {**common, "kl_weight": w}).fit(digits) for w in (0.0, 1.0)}


def test_pae_nmf_decoder_nonnegative_and_loss_decreases(pae):
    for model in pae.values():
        assert model.atoms.min() >= 0
        loss = [row["loss"] for row in model.history]
        assert loss[-1] < 0.6 * loss[0]


def test_pae_nmf_kl_pulls_toward_the_prior(pae, digits):
    """The KL term keeps q(h|x) near Weibull(1, 1); without it the distributions tighten (k grows),
    the pattern of the paper's Fig. 5 (right: no KL)."""
    kl_to_prior = {}
    for w, model in pae.items():
        k, lam = model.latent_params(digits)
        assert k.shape == lam.shape == (len(digits), 8) and k.min() >= 0.001 and lam.min() >= 0.001
        kl_to_prior[w] = float(weibull_kl(torch.tensor(k, dtype=torch.float64), torch.tensor(lam, dtype=torch.float64)).mean())
    k0, _ = pae[0.0].latent_params(digits)
    k1, lam1 = pae[1.0].latent_params(digits)
    assert kl_to_prior[1.0] < 0.2 * kl_to_prior[0.0]  # ≈ 0.08 vs 2.9
    assert np.median(k0) > 2 * np.median(k1)  # ≈ 6.6 vs 1.0
    assert abs(np.log(np.median(k1))) < 0.3 and abs(np.log(np.median(lam1))) < 0.3


def test_pae_nmf_prior_kl_and_latent_kl(pae, digits):
    """prior_kl: Σ over dimensions of KL(q(h|x) ‖ Weibull(1, 1)) per sample; evaluate's latent_kl is its mean."""
    model = PAENMF(PAENMFConfig(k=2))
    model.load_state_dict({"enc_k.weight": torch.tensor([[1.0, 0, 0], [1, 0, 0]]), "enc_lam.weight": torch.tensor([[1.0, 0, 0], [1, 0, 0]]),
                           "dec.weight": torch.ones(3, 2)})
    x = np.array([[1.0, 0, 0], [2.0, 0, 0], [0.5, 0, 0]], np.float32)  # k = λ = 1 (the prior), 2, 0.5
    kl = model.prior_kl(x)
    assert kl.shape == (3,) and kl[0] == pytest.approx(0, abs=1e-6) and (kl[1:] > 0.1).all()
    assert kl[1] == pytest.approx(2 * float(weibull_kl(torch.tensor(2.0), torch.tensor(2.0))), rel=1e-6)
    out = evaluate(model, x, None, (1, 3), SVMProtocol(), seed=0)
    assert out["latent_kl"] == pytest.approx(kl.mean(), rel=1e-6)
    # on the trained pair, the KL term keeps the test distributions nearer the prior
    assert pae[1.0].prior_kl(digits).mean() < 0.2 * pae[0.0].prior_kl(digits).mean()


def test_pae_nmf_encode_generate(pae, digits):
    model = pae[1.0]
    a, b = model.encode(digits[:50]), model.encode(digits[:50])
    np.testing.assert_array_equal(a, b)
    k, lam = model.latent_params(digits[:50])
    np.testing.assert_allclose(a, lam * np.log(2) ** (1 / k), rtol=1e-5)  # the Weibull median
    samples = model.generate(7, seed=3)
    assert samples.shape == (7, 64) and samples.dtype == np.float32 and samples.min() >= 0
    np.testing.assert_array_equal(samples, model.generate(7, seed=3))
    assert not np.array_equal(samples, model.generate(7, seed=4))


# -- every new family through the common interface ------------------------------------------------

NEW = {
    "sparse_nmf": {"max_iter": 50, "encode_iter": 50, "lam": 0.1},
    "nmf_sc": {"max_iter": 20, "encode_iter": 50, "sH": 0.6},
    "pae_nmf": {"epochs": 5},
    "nnsae": {"epochs": 2},
}


@pytest.mark.parametrize("family", sorted(NEW))
def test_new_family_interface_and_round_trip(digits, family, tmp_path):
    assert family in MODELS
    model = build_model(family, {"k": 5, **NEW[family]}).fit(digits[:300])
    codes = model.encode(digits[:40])
    assert codes.shape == (40, 5) and codes.dtype == np.float32
    recon = model.decode(codes)
    assert recon.shape == (40, 64) and recon.dtype == np.float32
    np.testing.assert_allclose(model.decode(codes, atoms=model.atoms), recon, rtol=1e-6, atol=1e-6)
    assert model.atoms.shape == (5, 64)
    assert model.history and np.isfinite([row["loss"] for row in model.history]).all()
    model.save(tmp_path / "m.pt")
    assert torch.load(tmp_path / "m.pt", weights_only=True)["model"] == family
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is type(model) and loaded.config == model.config
    np.testing.assert_array_equal(loaded.encode(digits[:40]), codes)
    np.testing.assert_array_equal(loaded.atoms, model.atoms)
    again = build_model(family, {"k": 5, **NEW[family]}).fit(digits[:300])
    np.testing.assert_array_equal(again.atoms, model.atoms)  # seeded: deterministic


def test_model_classes_exported():
    assert MODELS["sparse_nmf"] is SparseNMF and MODELS["nmf_sc"] is NMFSC and MODELS["pae_nmf"] is PAENMF
