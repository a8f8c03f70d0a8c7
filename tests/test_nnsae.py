"""NNSAE (alemme/NNSAE Matlab/NNSAE.m): one online update against a hand computation of the MATLAB
formulas, the decay of negative weights, intrinsic plasticity, the interface and resume."""

from __future__ import annotations

import math

import numpy as np
import pytest

from partbased.models import NNSAE, build_model, load_model

# A tiny net: 3 pixels, 2 hidden units. Our W is (k, pixels), the authors' W transposed.
W0 = [[0.5, 0.0, 0.2], [0.1, 0.3, 0.0]]
A0 = [1.0, 2.0]
B0 = [-1.0, 0.5]
X = [1.0, 0.0, 0.5]


def matlab_step(w, a, b, x, lrate_ro=0.01, reg_ro=2e-4, decay_p=0.0, decay_n=1.0, lrate_ip=0.001, mean_ip=0.2):
    """One pass of NNSAE.m `train`'s loop body (l.137–169) for one sample, scalar by scalar.
    w[j][i] is the authors' W(i, j)."""
    k, m = len(w), len(x)
    g = [sum(w[j][i] * x[i] for i in range(m)) for j in range(k)]  # net.g = net.W' * net.inp
    h = [1 / (1 + math.exp(-a[j] * g[j] - b[j])) for j in range(k)]  # 1 ./ (1 + exp(-net.a .* net.g - net.b))
    out = [sum(w[j][i] * h[j] for j in range(k)) for i in range(m)]  # net.out = net.W * net.h
    lrate = lrate_ro / (reg_ro + sum(hj * hj for hj in h))  # net.lrateRO/(net.regRO + sum(power(net.h, 2)))
    error = [x[i] - out[i] for i in range(m)]  # net.inp - net.out
    w = [[w[j][i] + lrate * error[i] * h[j] for i in range(m)] for j in range(k)]  # net.W + lrate * error * net.h'
    if decay_p > 0:
        w = [[v - decay_p * v if v > 0 else v for v in row] for row in w]
    if decay_n == 1:
        w = [[max(v, 0.0) for v in row] for row in w]
    elif decay_n > 0:
        w = [[v - decay_n * v if v < 0 else v for v in row] for row in w]
    tmp = [lrate_ip * (1 - (2.0 + 1.0 / mean_ip) * h[j] + h[j] ** 2 / mean_ip) for j in range(k)]
    b = [b[j] + tmp[j] for j in range(k)]
    a = [a[j] + lrate_ip * 1 / a[j] + g[j] * tmp[j] for j in range(k)]
    return w, a, b, error


def test_matlab_step_by_hand():
    """The hand computation itself, in numbers: g = [0.6, 0.1], h = σ([−0.4, 0.7]), and the weight that
    the update pushes below zero (pixel 2 of unit 1, whose error is negative)."""
    h1, h2 = 1 / (1 + math.exp(0.4)), 1 / (1 + math.exp(-0.7))
    assert h1 == pytest.approx(0.401312339887548) and h2 == pytest.approx(0.668187772168166)
    out = [0.5 * h1 + 0.1 * h2, 0.3 * h2, 0.2 * h1]
    lrate = 0.01 / (2e-4 + h1 * h1 + h2 * h2)  # 0.01 / (0.0002 + 0.161052 + 0.446475)
    assert lrate == pytest.approx(0.01645477, rel=1e-6)
    w01 = 0.0 + lrate * (0.0 - out[1]) * h1  # W(2, 1) after the step: 0.016455 · (−0.200456) · 0.401312
    assert w01 == pytest.approx(-0.0013237, rel=1e-4)
    w, _, _, _ = matlab_step(W0, A0, B0, X, decay_n=0.0)
    assert w[0][1] == pytest.approx(w01, rel=1e-14)


@pytest.mark.parametrize(("decay_p", "decay_n"), [(0.0, 1.0), (0.1, 0.5), (0.0, 0.0)])
def test_one_update_matches_the_matlab_formulas(decay_p, decay_n):
    params = {"k": 2, "epochs": 1, "decayP": decay_p, "decayN": decay_n, "device": "cpu"}
    model = build_model("nnsae", params).fit(np.array([X]), init={"W": W0, "a": A0, "b": B0})
    w, a, b, error = matlab_step(W0, A0, B0, X, decay_p=decay_p, decay_n=decay_n)
    np.testing.assert_allclose(model.W.numpy(), w, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(model.a.numpy(), a, rtol=1e-13)
    np.testing.assert_allclose(model.b.numpy(), b, rtol=1e-13)
    assert model.history[0]["loss"] == pytest.approx(sum(e * e for e in error) / 3, rel=1e-13)
    if decay_n == 1:
        assert model.W[0, 1] == 0  # clipped: the update took it below zero
    else:
        assert model.W[0, 1] < 0  # decayed by decayN, not clipped


def test_two_updates_in_a_row():
    """Two epochs on one sample: the second update starts from the first one's W, a and b."""
    model = build_model("nnsae", {"k": 2, "epochs": 2, "decayN": 0.5, "device": "cpu"}).fit(np.array([X]), init={"W": W0, "a": A0, "b": B0})
    w, a, b, _ = matlab_step(W0, A0, B0, X, decay_n=0.5)
    w, a, b, _ = matlab_step(w, a, b, X, decay_n=0.5)
    np.testing.assert_allclose(model.W.numpy(), w, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(model.a.numpy(), a, rtol=1e-13)
    np.testing.assert_allclose(model.b.numpy(), b, rtol=1e-13)


def test_init_as_nnsae_m():
    """init (l.89–95): W = 0.025·(2U − 0.5) + 0.025 ∈ [0.0125, 0.0625), a = 1, b = −3."""
    model = build_model("nnsae", {"k": 40, "epochs": 0}).fit(np.zeros((2, 300)))
    w = model.W.numpy()
    assert w.min() >= 0.0125 and w.max() < 0.0625 and w.max() - w.min() > 0.049
    assert abs(w.mean() - 0.0375) < 1e-3
    np.testing.assert_array_equal(model.a.numpy(), 1.0)
    np.testing.assert_array_equal(model.b.numpy(), -3.0)


def test_negative_weights_clipped_by_decay_n(digits):
    """decayN = 1 keeps every weight ≥ 0 (l.157–159); without the decay the same run makes some negative."""
    x = digits[:600]
    clipped = build_model("nnsae", {"k": 12, "epochs": 3}).fit(x)
    free = build_model("nnsae", {"k": 12, "epochs": 3, "decayN": 0.0}).fit(x)
    assert clipped.atoms.min() >= 0 and (clipped.atoms > 0).mean() > 0.1
    assert free.atoms.min() < -1e-3


@pytest.mark.parametrize("mean_ip", [0.05, 0.2])
def test_intrinsic_plasticity_moves_the_mean_activation_to_mean_ip(digits, mean_ip):
    """IP (l.166–169) adapts each unit's slope and bias towards a mean activation of meanIP; at the
    init (a = 1, b = −3) the mean activation on the digits is ≈ 0.094, so one target lies below it and
    one above."""
    params = {"k": 12, "epochs": 8, "meanIP": mean_ip}
    start = build_model("nnsae", {**params, "epochs": 0}).fit(digits)
    model = build_model("nnsae", params).fit(digits)
    before, after = start.encode(digits).mean(), model.encode(digits).mean()
    assert abs(after - mean_ip) < 0.015 and abs(after - mean_ip) < 0.5 * abs(before - mean_ip), f"mean activation {before:.3f} -> {after:.3f}, target {mean_ip}"
    assert abs(model.history[-1]["mean_h"] - mean_ip) < 0.015  # the same during the last epoch's updates


def test_training_reduces_the_error_and_round_trips(digits, tmp_path):
    model = build_model("nnsae", {"k": 12, "epochs": 5}).fit(digits)
    loss = [row["loss"] for row in model.history]
    assert loss[-1] < 0.7 * loss[0]
    codes = model.encode(digits[:50])
    assert codes.shape == (50, 12) and codes.dtype == np.float32 and 0 < codes.min() and codes.max() < 1
    np.testing.assert_allclose(model.decode(codes), codes @ model.atoms, rtol=1e-6)  # linear read-out, no bias
    wide = model.atoms * 2  # replaced atoms (the dilation metric): the same linear read-out of them
    np.testing.assert_allclose(model.decode(codes, atoms=wide), 2 * model.decode(codes), rtol=1e-6)
    model.save(tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert isinstance(loaded, NNSAE) and loaded.config == model.config
    np.testing.assert_array_equal(loaded.encode(digits[:50]), codes)


def test_bad_input_and_config():
    with pytest.raises(ValueError, match="non-negative"):
        build_model("nnsae", {"k": 2}).fit(-np.ones((3, 4)))
    with pytest.raises(ValueError, match="decayN"):
        build_model("nnsae", {"decayN": 1.5})
    with pytest.raises(ValueError, match="meanIP"):
        build_model("nnsae", {"meanIP": 0.0})
    with pytest.raises(ValueError, match=r"nnsae init: need W \(2, 3\)"):
        build_model("nnsae", {"k": 2, "epochs": 1}).fit(np.ones((1, 3)), init={"W": np.ones((3, 2)), "a": A0, "b": B0})
