"""The AE trains on hand-derived gradients (AE._loss_and_grads); here they are checked against autograd
of the loss written out directly from the report's equations, for every option, in float64."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from partbased.models.ae import (
    AE,
    AEConfig,
    asymmetric_decay,
    asymmetric_decay_grad,
    sparsity_penalty,
    sparsity_penalty_grad,
)

PIXELS, K, M = 20, 6, 9


def reference_loss(model: AE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, recon, sparsity, decay) by autograd-able torch code: report Sec. 3.1–3.3, NCAE's scale."""
    cfg, net = model.config, model.net
    h = net.encode(x)  # σ_e(X W_e + b_e)
    err2 = (net.decode(h) - x) ** 2
    recon = 0.5 * err2.sum() / x.shape[0] if cfg.loss_scale == "ncae" else err2.mean()
    sparsity = sparsity_penalty(cfg.penalty, cfg.p, h.mean(dim=0), cfg.eps, cfg.kl_form)
    weights = [net.encoder.weight, net.decoder.weight]
    constrained = weights if cfg.nonneg_encoder else [net.decoder.weight]
    decay = cfg.weight_decay * sum((w * w).sum() for w in weights)
    if cfg.nonneg.startswith("asym"):
        decay = decay + cfg.nonneg_lambda * sum(asymmetric_decay(cfg.nonneg, w, cfg.alpha) for w in constrained)
    return recon + cfg.beta * sparsity + decay, recon, sparsity, decay


def built(cfg: AEConfig, seed: int = 0) -> AE:
    model = AE(cfg)
    torch.manual_seed(seed)
    model._build(PIXELS, torch.float64)  # the flat parameter layout training uses, in float64
    with torch.no_grad():  # weights of both signs and of a size that keeps the sigmoids off saturation
        for w in model.net.parameters():
            w.copy_(torch.randn_like(w) * 0.4)
    return model


def manual_and_autograd(cfg: AEConfig, seed: int = 0):
    """(our (loss, recon, sparsity, decay), autograd's, our gradients, autograd's gradients) on one batch."""
    model = built(cfg, seed)
    x = torch.rand(M, PIXELS, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    model._grad.fill_(123.0)  # stale values that must be overwritten
    record = torch.zeros(K + 2, dtype=torch.float64)
    model._loss_and_grads(model._augment(x), record)
    terms = torch.stack(model._loss_terms(record, M))
    manual = {name: w.grad.clone() for name, w in model.net.named_parameters()}
    for w in model.net.parameters():
        w.grad = None
    loss, recon, sparsity, decay = reference_loss(model, x)
    loss.backward()
    auto = {name: w.grad for name, w in model.net.named_parameters()}
    return terms, torch.stack([loss, recon, sparsity, torch.as_tensor(decay, dtype=torch.float64)]).detach(), manual, auto


OPTIONS = [
    dict(encoder_activation=enc, decoder_activation=dec, penalty=pen, beta=beta, loss_scale=scale)
    for enc, dec, pen, beta, scale in itertools.product(
        ["sigmoid", "relu", "linear", "leaky_relu"],
        ["sigmoid", "relu", "linear", "leaky_relu"],
        ["kl", "l2", "eps_l1", "log", "none"],
        [0.0, 0.7],
        ["mean", "ncae"],
    )
    if not (pen == "kl" and enc != "sigmoid")  # rejected by AEConfig: KL needs codes in [0, 1]
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_gradients_match_autograd(options):
    cfg = AEConfig(k=K, p=0.3, eps=1e-3, nonneg="none", **options)
    terms, want_terms, manual, auto = manual_and_autograd(cfg)
    torch.testing.assert_close(terms, want_terms, rtol=1e-12, atol=1e-14)
    for name in auto:
        torch.testing.assert_close(manual[name], auto[name], rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("nonneg", ["asym_l2", "asym_l1", "asym_smooth", "project", "none"])
@pytest.mark.parametrize("nonneg_encoder", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_decay_gradients_match_autograd(nonneg, nonneg_encoder, weight_decay):
    cfg = AEConfig(k=K, beta=0.5, nonneg=nonneg, alpha=0.2, nonneg_lambda=0.3, nonneg_encoder=nonneg_encoder, weight_decay=weight_decay)
    terms, want_terms, manual, auto = manual_and_autograd(cfg, seed=3)
    assert (float(terms[3]) > 0) == (weight_decay > 0 or nonneg.startswith("asym"))  # the decay is really there
    torch.testing.assert_close(terms, want_terms, rtol=1e-12, atol=1e-14)
    for name in auto:
        torch.testing.assert_close(manual[name], auto[name], rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("kl_form", ["clamp", "clip", "offset"])
@pytest.mark.parametrize("leaky_slope", [0.1, 0.0, 0.3])
def test_kl_forms_and_leaky_slopes_match_autograd(kl_form, leaky_slope):
    cfg = AEConfig(k=K, p=0.3, beta=0.9, kl_form=kl_form, decoder_activation="leaky_relu", leaky_slope=leaky_slope, nonneg="none")
    terms, want_terms, manual, auto = manual_and_autograd(cfg, seed=5)
    torch.testing.assert_close(terms, want_terms, rtol=1e-12, atol=1e-14)
    for name in auto:
        torch.testing.assert_close(manual[name], auto[name], rtol=1e-10, atol=1e-12, msg=name)


def _kl_np(rho: float, s_hat: np.ndarray) -> np.ndarray:
    return rho * np.log(rho / s_hat) + (1 - rho) * np.log((1 - rho) / (1 - s_hat))


@pytest.mark.parametrize("kl_form", ["clip", "offset"])
def test_kl_forms_are_ponchons_regularizers(kl_form):
    """custom_regularizers.KL_divergence_sum: s_hat = clip(mean, K.epsilon() = 1e-7, 1); KL_divergence: mean + 1e-5."""
    t = np.array([0.0, 3e-8, 0.02, 0.3, 0.99], dtype=np.float64)
    s_hat = np.clip(t, 1e-7, 1) if kl_form == "clip" else t + 1e-5
    got = sparsity_penalty("kl", 0.05, torch.as_tensor(t), kl_form=kl_form)
    np.testing.assert_allclose(got.item(), _kl_np(0.05, s_hat).sum(), rtol=1e-13)
    assert math.isinf(sparsity_penalty("kl", 0.05, torch.tensor([1.0], dtype=torch.float64), kl_form="clip").item())


def test_loss_is_ponchons_keras_loss():
    """The part-based AE study's Sparse_NonNeg_ShallowAE_KLsum_AsymDecay (SourceCode/nonNegSparseShallowAE.py), written
    out in NumPy from its Keras definition: Dense(k, sigmoid) with KL_divergence_sum(β, ρ) and asymmetric_weight_decay
    (α_pos, β_neg, lam) on the kernel, Dense(pixels) with the same decay, LeakyReLU(0.1), loss mean_squared_error;
    standalone Keras 2 adds the regularizers to the batch's mean loss as they are. Our options give the same number."""
    beta, rho, a_pos, b_neg, lam = 0.7, 0.05, 0.2, 1.5, 0.003
    cfg = AEConfig(
        k=K, beta=beta, p=rho, kl_form="clip", decoder_activation="leaky_relu", leaky_slope=0.1,
        nonneg="asym_l2", nonneg_lambda=lam * b_neg / 2, alpha=a_pos / b_neg, nonneg_encoder=True, loss_scale="mean",
    )
    model = built(cfg, seed=7)
    x = np.random.default_rng(7).random((M, PIXELS))
    record = torch.zeros(K + 2, dtype=torch.float64)
    model._loss_and_grads(model._augment(torch.as_tensor(x)), record)
    ours = model._loss_terms(record, M)[0].item()

    kernel_e = model.net.encoder.weight.detach().numpy().T  # Keras kernels are (inputs, units)
    kernel_d = model.net.decoder.weight.detach().numpy().T
    h = 1 / (1 + np.exp(-(x @ kernel_e + model.net.encoder.bias.detach().numpy())))
    z = h @ kernel_d + model.net.decoder.bias.detach().numpy()
    y_hat = np.where(z > 0, z, 0.1 * z)  # LeakyReLU(alpha=0.1)
    mse = np.mean(np.mean((y_hat - x) ** 2, axis=-1))  # losses.mean_squared_error, then the batch mean
    kl = beta * np.sum(_kl_np(rho, np.clip(h.mean(axis=0), 1e-7, 1)))  # KL_divergence_sum
    decay = sum(lam / 2 * np.sum(b_neg * (w < 0) * w**2 + a_pos * (w > 0) * w**2) for w in (kernel_e, kernel_d))
    np.testing.assert_allclose(ours, mse + kl + decay, rtol=1e-12)


def test_leaky_relu_is_keras_leaky_relu():
    from partbased.models.ae import activation

    z = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64)
    np.testing.assert_array_equal(activation("leaky_relu", z, 0.1).numpy(), np.where(z.numpy() > 0, z.numpy(), 0.1 * z.numpy()))


def test_kl_gradient_is_zero_where_the_clamp_binds():
    """kl_sparsity clamps t to [1e-6, 1 − 1e-6]; autograd gives no gradient there, nor may we."""
    t = torch.tensor([0.0, 1e-7, 0.2, 1.0 - 1e-8, 1.0], dtype=torch.float64, requires_grad=True)
    sparsity_penalty("kl", 0.05, t).backward()
    torch.testing.assert_close(sparsity_penalty_grad("kl", 0.05, t.detach()), t.grad)
    assert t.grad[2] != 0 and t.grad[[0, 1, 3, 4]].abs().max() == 0


@pytest.mark.parametrize("name", ["kl", "l2", "eps_l1", "log", "none"])
def test_sparsity_penalty_of_a_batch_of_rows(name):
    """Epoch records hold one t per batch: the penalty sums over the last dim, row by row."""
    t = torch.tensor([[0.02, 0.3, 0.55], [0.9, 0.05, 0.4]], dtype=torch.float64)
    rows = sparsity_penalty(name, 0.05, t, eps=1e-3)
    assert rows.shape == (2,)
    torch.testing.assert_close(rows, torch.stack([sparsity_penalty(name, 0.05, r, eps=1e-3) for r in t]), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["kl", "l2", "eps_l1", "log", "none"])
def test_sparsity_penalty_grad_matches_autograd(name):
    t = torch.tensor([0.02, 0.3, 0.55, 0.9], dtype=torch.float64, requires_grad=True)
    sparsity_penalty(name, 0.05, t, eps=1e-3).backward()
    torch.testing.assert_close(sparsity_penalty_grad(name, 0.05, t.detach(), eps=1e-3), t.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["asym_l2", "asym_l1", "asym_smooth", "none", "project"])
def test_asymmetric_decay_grad_matches_autograd(name):
    w = torch.tensor([[-1.3, -0.2, 0.0], [0.7, -0.05, 2.0]], dtype=torch.float64, requires_grad=True)  # 0 included
    asymmetric_decay(name, w, 0.3).backward()
    torch.testing.assert_close(asymmetric_decay_grad(name, w.detach(), 0.3), w.grad, rtol=1e-12, atol=1e-15)


def test_training_matches_autograd_adam(digits):
    """A few epochs of AE.fit equal the same epochs done by autograd + torch.optim.Adam (float32 rounding
    apart), and its history's loss is the mean of the batch losses."""
    x = digits[:300]
    cfg = AEConfig(k=K, beta=0.3, p=0.1, epochs=3, batch_size=32, lr=1e-2, seed=4, device="cpu", nonneg="project")
    fitted = AE(cfg).fit(x)

    model = AE(cfg)
    torch.manual_seed(cfg.seed)
    model._build(x.shape[1])
    model._init_weights()
    optimizer = torch.optim.Adam(model.net.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    data = torch.as_tensor(x)
    history = []
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=generator)
        losses = []
        for start in range(0, len(x), cfg.batch_size):
            loss = reference_loss(model, data[order[start : start + cfg.batch_size]])[0]
            losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model._project()
        history.append(np.mean(losses))
    np.testing.assert_allclose([row["loss"] for row in fitted.history], history, rtol=1e-5)
    for name, w in model.net.named_parameters():
        np.testing.assert_allclose(fitted.net.get_parameter(name).detach().numpy(), w.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert fitted.atoms.min() >= 0  # the projection ran


def test_fused_adam_equals_torch_adam():
    """FusedAdam is torch.optim.Adam(fused=True) without its per-call bookkeeping: identical updates."""
    from partbased.models.optim import FusedAdam

    gen = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(5, 7, generator=gen)), torch.nn.Parameter(torch.randn(7, generator=gen))]
    theirs = [torch.nn.Parameter(w.detach().clone()) for w in ours]
    start = [w.detach().clone() for w in ours]
    mine, ref = FusedAdam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05, fused=True)
    for step in range(20):
        for a, b in zip(ours, theirs):
            a.grad = torch.randn(a.shape, generator=gen)
            b.grad = a.grad.clone()
        mine.step()
        ref.step()
        if step == 9:  # a resumed optimizer continues exactly
            state = mine.state_dict()
            mine = FusedAdam(ours, lr=0.05)
            mine.load_state_dict(state)
    for a, b, a0 in zip(ours, theirs, start):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert (a - a0).abs().min() > 1e-3  # every entry moved: the comparison is not vacuous
