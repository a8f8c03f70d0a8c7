"""The NMF family's shared pieces and second-wave solvers: Fast HALS against scikit-learn's cd, the
seeded random streams, the costs from reused products, the batched Hoyer projection, and resume of
every family that trains in a loop (nmf, sparse_nmf, nmf_sc, pae_nmf, nnsae)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import NMF as SkNMF

from partbased.data import make_bars
from partbased.models import MODELS, build_model
from partbased.models.nmf import NMF
from partbased.models.nmf_base import STREAMS, stream, uniform
from partbased.models.nmf_sc import _hoyer_passes, hoyer_projection, hoyer_projection_rows, l1_for_sparseness
from partbased.models.resume import Resume, data_digest

K = 8


def loss64(x: np.ndarray, h: np.ndarray, w: np.ndarray) -> float:
    """½‖X − HW‖²/n straight from the factors, in float64."""
    r = x.astype(np.float64) - h.astype(np.float64) @ w.astype(np.float64)
    return 0.5 * float(np.sum(r * r)) / len(x)


def shared_init(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = np.sqrt(x.mean() / k)
    return (rng.random((len(x), k)) * scale).astype(x.dtype), (rng.random((k, x.shape[1])) * scale).astype(x.dtype)


# -- Fast HALS (Cichocki & Phan 2009; scikit-learn's cd) ------------------------------------------


@pytest.mark.parametrize("iters", [1, 200])
def test_hals_reaches_sklearn_cd_loss_from_the_same_init(digits, iters):
    h0, w0 = shared_init(digits, K)
    ours = build_model("nmf", {"k": K, "max_iter": iters, "solver": "hals", "device": "cpu"}).fit(digits, init=(h0, w0))
    sk = SkNMF(n_components=K, init="custom", solver="cd", max_iter=iters, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached, as intended
        h_sk = sk.fit_transform(digits, W=h0.copy(), H=w0.copy())
    mine, theirs = loss64(digits, ours.H.numpy(), ours.W.numpy()), loss64(digits, h_sk, sk.components_)
    assert mine <= 1.001 * theirs, (mine, theirs)
    assert mine >= 0.999 * theirs  # the same algorithm, not a better one: same iterate up to rounding
    assert ours.history[-1]["loss"] == pytest.approx(mine, rel=1e-5)  # the cost from reused products


def test_hals_loss_non_increasing_and_ahead_of_mu(digits):
    """Each HALS step minimises the cost exactly over one column/row: never an increase (float64)."""
    params = {"k": K, "max_iter": 150, "dtype": "float64", "device": "cpu", "seed": 1}
    hals = build_model("nmf", {**params, "solver": "hals"}).fit(digits)
    mu = build_model("nmf", params).fit(digits)
    loss = np.array([row["loss"] for row in hals.history])
    assert len(loss) == 151 and np.all(np.diff(loss) <= 1e-12 * loss[:-1])
    assert loss[-1] < mu.history[-1]["loss"]  # same init, same iterations: HALS further down
    assert hals.atoms.min() >= 0 and hals.H.min() >= 0


def test_hals_float32_matches_float64(digits):
    common = {"k": K, "max_iter": 40, "solver": "hals", "device": "cpu", "seed": 3}
    f32 = build_model("nmf", {**common, "dtype": "float32"}).fit(digits)
    f64 = build_model("nmf", {**common, "dtype": "float64"}).fit(digits)
    np.testing.assert_allclose([r["loss"] for r in f32.history], [r["loss"] for r in f64.history], rtol=1e-4)


def test_hals_row_blocks_give_the_one_block_result(digits, monkeypatch):
    params = {"k": K, "max_iter": 30, "encode_iter": 20, "solver": "hals", "dtype": "float64", "seed": 2, "device": "cpu"}
    whole = build_model("nmf", params).fit(digits)
    monkeypatch.setattr(NMF, "cpu_block_rows_hals", 100)  # 18 blocks, the last one short
    blocked = build_model("nmf", params).fit(digits)
    np.testing.assert_allclose(blocked.H.numpy(), whole.H.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(blocked.atoms, whole.atoms, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(blocked.encode(digits[:250]), whole.encode(digits[:250]), rtol=1e-6, atol=1e-9)


def test_hals_encode_uses_hals_and_reconstructs_like_fit(digits):
    model = build_model("nmf", {"k": K, "max_iter": 100, "encode_iter": 100, "solver": "hals"}).fit(digits)
    fit_mse = 2 * model.history[-1]["loss"] / digits.shape[1]
    codes = model.encode(digits)
    assert codes.min() >= 0
    assert np.mean((model.decode(codes) - digits) ** 2) <= 1.01 * fit_mse
    few = dataclasses.replace(model.config, encode_iter=3)  # 3 HALS sweeps already beat 3 MU steps
    mu = dataclasses.replace(few, solver="mu")
    errs = {}
    for cfg in (few, mu):
        other = NMF(cfg)
        other.load_state_dict(model.state_dict())
        errs[cfg.solver] = np.mean((other.decode(other.encode(digits)) - digits) ** 2)
    assert errs["hals"] < errs["mu"]


def test_hals_survives_a_zero_component(digits):
    """A zero row of W has (W Wᵀ)[t, t] = 0: its step is skipped (scikit-learn's `if hess != 0`), no NaN."""
    h0, w0 = shared_init(digits, K)
    w0[2] = 0
    model = build_model("nmf", {"k": K, "max_iter": 5, "solver": "hals", "device": "cpu"}).fit(digits, init=(h0, w0))
    assert np.isfinite(model.atoms).all() and np.isfinite(model.H.numpy()).all()


@pytest.mark.parametrize("solver", ["mu", "hals"])
def test_nmf_overflow_raises_floating_point_error(digits, solver):
    with pytest.raises(FloatingPointError, match="iteration 1"):
        build_model("nmf", {"k": 2, "max_iter": 3, "solver": solver, "device": "cpu"}).fit(digits * 1e30)


def test_unknown_solver_is_named():
    with pytest.raises(ValueError, match="solver must be one of"):
        build_model("nmf", {"solver": "als"})


# -- seeded streams --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["nmf", "sparse_nmf", "nmf_sc"])
def test_seed_streams_do_not_overlap(digits, family):
    """Generator(seed + offset) made W of seed 1 the H of seed 0. Now no stream of one seed starts
    another seed's (compare the first draws of every pair)."""
    firsts = {(seed, name): stream(seed, name).random(8) for seed in range(4) for name in STREAMS}
    for (key_a, a) in firsts.items():
        for (key_b, b) in firsts.items():
            if key_a != key_b:
                assert not np.isin(a, b).any(), (key_a, key_b)
    # through the models: W of seed 1 shares nothing with the start of seed 0's H
    w1 = build_model(family, {"k": 4, "max_iter": 0, "seed": 1, "device": "cpu"}).fit(digits[:50]).atoms
    m0 = build_model(family, {"k": 4, "max_iter": 0, "seed": 0, "device": "cpu"}).fit(digits[:50])
    h0 = m0.H.numpy() if family == "nmf" else m0.fitted_codes if family == "nmf_sc" else None
    if h0 is not None:
        assert not np.isin(w1.ravel()[:16], h0.ravel()).any()


def test_draws_are_made_on_the_cpu(digits):
    """The init is drawn on the CPU in float64 and then moved: the device string changes nothing."""
    a = uniform(3, "W", (5, 7), 0.0, 2.0, "cpu", torch.float32)
    b = uniform(3, "W", (5, 7), 0.0, 2.0, torch.device("cpu"), torch.float32)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(a.numpy(), (2 * stream(3, "W").random((5, 7))).astype(np.float32))
    for family in ("nmf", "sparse_nmf", "nmf_sc"):
        on = {dev: build_model(family, {"k": 4, "max_iter": 0, "device": dev}).fit(digits[:50]).atoms for dev in ("cpu", "auto")}
        np.testing.assert_array_equal(on["cpu"], on["auto"])


# -- costs from reused products --------------------------------------------------------------------


def test_sparse_nmf_cost_is_eq_11():
    """The history's eq. (11) cost, from the HᵀX and HᵀH of the W update, equals ½‖X − HW̄‖² + λΣH
    recomputed from the fit's last factors."""
    x, _ = make_bars(250, size=4, seed=0)
    x = x.reshape(len(x), -1)
    lam = 0.25
    saver = Keep()
    model = build_model("sparse_nmf", {"k": 8, "lam": lam, "max_iter": 40, "dtype": "float64", "init": "eggert", "seed": 1})
    model.fit(x, resume=saver)
    h, w = saver.state["h"].numpy(), saver.state["w"].numpy()
    assert model.history[-1]["loss"] == pytest.approx(loss64(x, h, w) + lam * h.sum() / len(x), rel=1e-10)


def test_nmf_sc_cost_is_the_residual(digits):
    model = build_model("nmf_sc", {"k": 6, "max_iter": 15, "sH": 0.6, "dtype": "float64", "device": "cpu"}).fit(digits[:400])
    direct = loss64(digits[:400], model.scale * model.fitted_codes.astype(np.float64), model.W.numpy())
    assert model.history[-1]["loss"] == pytest.approx(direct, rel=1e-6)  # fitted_codes are float32 copies


# -- the batched Hoyer projection ------------------------------------------------------------------


def test_batched_projection_matches_hoyer_on_hard_rows():
    """Random rows plus ties, integer rows, constant rows and rows constant up to rounding noise."""
    rng = np.random.default_rng(5)
    for trial in range(300):
        m, n = int(rng.integers(1, 6)), int(rng.integers(2, 60))
        x = rng.normal(size=(m, n)) * rng.uniform(0.1, 3)
        if trial % 3 == 0:
            x[0] = 0.5
        if trial % 4 == 0:
            x[-1, : n // 2] = x[-1, 0]
        if trial % 5 == 0:
            x[-1] = 1 + 1e-14 * rng.normal(size=n)
        l2 = rng.uniform(0.5, 2, size=m)
        l1 = np.array([l1_for_sparseness(n, s) for s in rng.uniform(0, 1, size=m)]) * l2
        want = np.stack([hoyer_projection(x[i], l1[i], l2[i]) for i in range(m)])
        got = hoyer_projection_rows(torch.tensor(x), torch.tensor(l1), torch.tensor(l2)).numpy()
        slow = _hoyer_passes(torch.tensor(x), torch.tensor(l1), torch.tensor(l2)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-11)
        np.testing.assert_allclose(slow, want, atol=1e-11)
        assert got.min() >= 0  # and feasible, also on the degenerate rows
        np.testing.assert_allclose(got.sum(axis=1), l1, rtol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), l2, rtol=1e-9)


def test_projection_of_a_constant_row_is_feasible():
    """The old absolute test (‖v − m‖² ≤ 1e-300) let rounding noise through and returned an infeasible
    vector for a constant row; every point of the feasible set is equally close to it."""
    n, l1 = 22, l1_for_sparseness(22, 0.9)
    v = hoyer_projection(np.full(n, 0.5), l1, 1.0)
    assert v.min() >= 0 and v.sum() == pytest.approx(l1) and np.linalg.norm(v) == pytest.approx(1.0)


# -- resume ------------------------------------------------------------------------------------------


class Keep(Resume):
    """A Resume that keeps the latest state in memory (every step) instead of on disk."""

    def __init__(self):
        super().__init__(Path("unused"), 1, {})
        self.state = None

    def load(self):
        return None

    def save(self, state):
        self.state = state


class Killed(Exception):
    pass


class KillAfter(Resume):
    """Saves like Resume, then 'kills' the fit once a state at `step` or later is on disk."""

    def __init__(self, path: Path, every: int, fingerprint: dict, step: int):
        super().__init__(path, every, fingerprint)
        self.kill_at = step

    def save(self, state):
        super().save(state)
        if state["step"] >= self.kill_at:
            raise Killed


RESUMABLE = {
    "nmf": {"k": 4, "max_iter": 12, "solver": "hals"},
    "sparse_nmf": {"k": 4, "max_iter": 12, "lam": 0.1},
    "nmf_sc": {"k": 4, "max_iter": 12, "sH": 0.6},
    "pae_nmf": {"k": 4, "epochs": 6, "batch_size": 100},
    "nnsae": {"k": 4, "epochs": 6},
}


@pytest.mark.parametrize("family", sorted(RESUMABLE))
def test_interrupted_fit_resumes_bit_for_bit(tmp_path, digits, family):
    x = digits[:300]
    params = {**RESUMABLE[family], "device": "cpu"}
    model = build_model(family, params)
    assert type(model).supports_resume is True
    fingerprint = {"model": family, "config": dataclasses.asdict(model.config), "data": data_digest(x)}
    path = tmp_path / "model.pt.resume"
    with pytest.raises(Killed):
        model.fit(x, resume=KillAfter(path, 2, fingerprint, step=3))
    assert torch.load(path, weights_only=True)["state"]["step"] == 4  # states of plain tensors and numbers
    resumed = build_model(family, params).fit(x, resume=Resume(path, 2, fingerprint))
    straight = build_model(family, params).fit(x)
    np.testing.assert_array_equal(resumed.atoms, straight.atoms)
    np.testing.assert_array_equal(resumed.encode(x[:20]), straight.encode(x[:20]))
    assert resumed.history == straight.history


def test_every_looping_family_declares_resume():
    assert {name for name, cls in MODELS.items() if getattr(cls, "supports_resume", False)} >= set(RESUMABLE)


# -- no denormals ----------------------------------------------------------------------------------


def denormals(a: np.ndarray) -> int:
    return int(((a > 0) & (a < np.finfo(a.dtype).tiny)).sum())


@pytest.mark.parametrize("family", ["nmf", "sparse_nmf"])
def test_multiplicative_updates_stay_above_the_denormals(digits, family, monkeypatch):
    """Unused entries shrink geometrically under MU; as denormals they made long runs ~10x slower.
    The floor (nmf_base.floor_) keeps them normal; without it the same run has denormals."""
    import partbased.models.nmf as nmf_module
    import partbased.models.sparse_nmf as sparse_module

    module = nmf_module if family == "nmf" else sparse_module
    params = {"k": 32, "max_iter": 400, "device": "cpu", **({"lam": 0.5} if family == "sparse_nmf" else {})}
    floored = build_model(family, params).fit(digits)
    codes = floored.H.numpy() if family == "nmf" else floored.encode(digits)
    assert denormals(codes) == 0 and denormals(floored.atoms) == 0
    monkeypatch.setattr(module, "floor_", lambda t: t)
    raw = build_model(family, params).fit(digits)
    raw_codes = raw.H.numpy() if family == "nmf" else raw.encode(digits)
    assert denormals(raw_codes) + denormals(raw.atoms) > 0
    assert floored.history[-1]["loss"] == pytest.approx(raw.history[-1]["loss"], rel=1e-3)
