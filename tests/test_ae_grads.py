"""The AE trains on hand-derived gradients (AE._loss_and_grads); here they are checked against autograd
of the loss written out directly from the report's equations, for every option, in float64."""

from __future__ import annotations

import itertools

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
    sparsity = sparsity_penalty(cfg.penalty, cfg.p, h.mean(dim=0), cfg.eps)
    weights = [net.encoder.weight, net.decoder.weight]
    constrained = weights if cfg.nonneg_encoder else [net.decoder.weight]
    decay = cfg.weight_decay * sum((w * w).sum() for w in weights)
    if cfg.nonneg.startswith("asym"):
        decay = decay + cfg.nonneg_lambda * sum(asymmetric_decay(cfg.nonneg, w, cfg.alpha) for w in constrained)
    return recon + cfg.beta * sparsity + decay, recon, sparsity, decay


def built(cfg: AEConfig, seed: int = 0) -> AE:
    model = AE(cfg)
    torch.manual_seed(seed)
    model._build(PIXELS)
    model.net.double()
    with torch.no_grad():  # weights of both signs and of a size that keeps the sigmoids off saturation
        for w in model.net.parameters():
            w.copy_(torch.randn_like(w) * 0.4)
    return model


def manual_and_autograd(cfg: AEConfig, seed: int = 0):
    """(our (loss, recon, sparsity, decay), autograd's, our gradients, autograd's gradients) on one batch."""
    model = built(cfg, seed)
    x = torch.rand(M, PIXELS, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    for w in model.net.parameters():
        w.grad = torch.full_like(w, 123.0)  # stale values that must be overwritten
    record = torch.zeros(K + 2, dtype=torch.float64)
    model._loss_and_grads(x, record)
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
        ["sigmoid", "relu", "linear"], ["sigmoid", "relu", "linear"], ["kl", "l2", "eps_l1", "log", "none"], [0.0, 0.7], ["mean", "ncae"]
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
