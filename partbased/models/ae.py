"""Shallow sparse, optionally nonnegative autoencoder (seed: part-based-autoencoders-report Sec. 3).

h = σ_e(x W_e + b_e); x̂ = σ_d(h W_d + b_d) (Sec. 3.1). Atoms are the rows of W_d (k, pixels).

Loss (Sec. 3.2–3.3): recon + β Σ_j S(p, t_j) + weight_decay Σ w² + nonneg_lambda Σ f(w), with t_j the
mean activation of code unit j over the (mini)batch, S one of the Sec. 3.2 penalties and f an
asymmetric decay of Sec. 3.3; or, instead of the decay, a projection W ≥ 0 after every step.

Non-negativity is one option, `nonneg` (default "none": the default AE constrains nothing): "project" clamps
W_d ≥ 0 after every step, "asym_*" add an asymmetric decay. The boolean `project` it replaced is gone, so no two
spellings configure the same model.

The default AEConfig is a plain AE: sigmoid encoder and decoder, β = 0 (no sparsity term), no weight decay,
no nonnegativity, Adam. Cross-field rules (partbased.constraints.ae_problems, shared with the config check):
p ∈ (0, 1) for penalty "kl"; "kl" with β > 0 needs a sigmoid encoder.

Training computes L_AE and its gradients in one hand-derived pass (`AE._loss_and_grads`: two forward
and three backward matrix products, elementwise work in place into arrays allocated once, no autograd
graph); tests check the gradients against autograd for every option. All parameters live in one flat
tensor and their gradients in another (`AE._bind_flat`, the nn.Linear parameters are views of it), so an
optimizer step is a few whole-model kernels: torch's fused Adam, Adadelta op for op as torch's, or
minFunc's L-BFGS (partbased.models.optim). benchmarks/bench_ae.py times the step against its matrix
products alone.

The Keras semantics of the part-based AE study (PonchonB/Mathematical_Morphologies_And_Deep_Learning,
SourceCode/, standalone Keras 2 with the TensorFlow backend) are expressible exactly:
- loss "mean" = Keras' mean_squared_error averaged over the batch (mean over pixels, then over rows);
- its activity regularizers are added to the loss per batch, not divided by the batch size (standalone
  Keras 2 adds `self.losses` to the total loss as they are; tf.keras 2.x divides by the batch size):
  β·Σ_j KL(p ‖ t_j) with t_j the batch mean, kl_form="clip" for custom_regularizers.KL_divergence_sum,
  "offset" for KL_divergence (see kl_sparsity for the factor k that the latter's vector loss implies);
- asymmetric_weight_decay(alpha=a, beta=b, lam=l) = (l/2)·Σ(b·w² [w<0] + a·w² [w>0]) is nonneg="asym_l2"
  with nonneg_lambda = l·b/2 and alpha = a/b (nonneg_encoder=True where both Dense layers carry it);
- constraints.non_neg() is nonneg="project" (w·[w ≥ 0] after each update, kernel only, not the bias);
- Dense + LeakyReLU(alpha=0.1) is decoder_activation="leaky_relu", leaky_slope=0.1;
- optimizer 'adadelta' is optimizer="adadelta", lr=1.0 with this config's Keras defaults rho/eps;
- Dense's default initializers are init="glorot_uniform" (kernel U[±√(6/(fan_in+fan_out))], bias 0).

NCAE preset (shared/REFERENCE.md "NCAE", nonnegative-autoencoders-blog): encoder/decoder sigmoid,
penalty="kl", p=0.05, beta=3, nonneg="asym_l2", alpha=0, nonneg_lambda=1.5e-3 (their (λ/2)·Σ w² with
λ = 3e-3), nonneg_encoder=True, init="nonneg_uniform", optimizer="lbfgs", epochs=400,
loss_scale="ncae".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..constraints import ae_problems
from .base import Model, resolve_device, seed_everything
from .optim import LBFGS, FlatAdadelta, FusedAdam
from .resume import Resume

ACTIVATIONS = ("sigmoid", "linear", "relu", "leaky_relu")
PENALTIES = ("kl", "l2", "eps_l1", "log", "none")
NONNEG = ("none", "project", "asym_l2", "asym_l1", "asym_smooth")
INITS = ("default", "nonneg_uniform", "glorot_uniform")
OPTIMIZERS = ("adam", "adadelta", "lbfgs")
LOSS_SCALES = ("mean", "ncae")
KL_FORMS = ("clamp", "clip", "offset")
LBFGS_DTYPES = ("float64", "float32")
Optimizer = FusedAdam | FlatAdadelta | LBFGS  # what _restore/_checkpoint save and load: all have state_dict()
_INFER_BATCH = 8192  # rows per encode/decode chunk: bounds device memory on large inputs
_CHUNK = 16384  # rows per pass of a full-batch loss and gradient: bounds its (rows, pixels) arrays
_INIT_STREAM = 1  # the init's random stream, apart from the minibatch order's (stream 0 = the seed itself)


@dataclass
class AEConfig:
    k: int = 16  # code units = atoms
    seed: int = 0  # seeds the weight init and the minibatch order
    p: float = 0.05  # target mean activation of each code unit (Sec. 3.2); in (0, 1) for "kl", any number otherwise
    beta: float = 0.0  # weight of the sparsity penalty; 0 = plain AE (Sec. 3.2)
    decoder_activation: str = "sigmoid"  # σ_d: "sigmoid" | "linear" | "relu" | "leaky_relu" (Sec. 3.1)
    epochs: int = 20  # passes over the training set; with optimizer="lbfgs": L-BFGS iterations
    batch_size: int = 64  # minibatch size (Adam/Adadelta; L-BFGS is full batch)
    lr: float = 1e-3  # Adam/Adadelta learning rate (Keras' Adadelta: 1.0; L-BFGS ignores it: strong-Wolfe line search)
    device: str = "auto"  # "auto" (CUDA if present) or any torch device string
    penalty: str = "kl"  # S(p, t_j), Sec. 3.2, weighted by beta: "kl" | "l2" (p−t)² | "eps_l1" √((p−t)²+ε) | "log" log(1+(p−t)²) | "none"
    eps: float = 1e-8  # ε of the εL1 penalty (Sec. 3.2)
    weight_decay: float = 0.0  # λ of λ·Σ w² over W_e and W_d, biases excluded (properties-of-autoencoders App. A ψ, no ½)
    nonneg: str = "none"  # "none" | "project" (clamp W ≥ 0 after every step) | "asym_l2" | "asym_l1" | "asym_smooth" (Sec. 3.3)
    alpha: float = 0.0  # asymmetric decay: f(w) = α·g(w) for w ≥ 0, g(w) for w < 0 (Sec. 3.3); α = 1: plain decay
    nonneg_lambda: float = 0.0  # λ of the asymmetric decay term λ Σ f(w) (Sec. 3.3)
    nonneg_encoder: bool = False  # also decay/project W_e, as NCAE does (REFERENCE "NCAE")
    encoder_activation: str = "sigmoid"  # σ_e: "sigmoid" | "linear" | "relu" | "leaky_relu" (Sec. 3.1; "kl" with beta > 0 needs "sigmoid")
    init: str = "default"  # "default" (torch) | "nonneg_uniform" (NCAE) | "glorot_uniform" (Keras); see AE._init_weights
    optimizer: str = "adam"  # "adam" | "adadelta" (minibatches; the AE study) | "lbfgs" (full batch, one iteration per epoch; NCAE)
    loss_scale: str = "mean"  # "mean": recon = MSE over pixels and batch | "ncae": 0.5·Σ(y−ŷ)²/m (REFERENCE "NCAE")

    # -- appended fields (keep new ones at the end: checkpoints store configs by name) --
    leaky_slope: float = 0.1  # slope below 0 of "leaky_relu": Keras LeakyReLU(alpha=0.1) after Ponchon's decoder Dense
    adadelta_rho: float = 0.95  # Adadelta's decay ρ; Keras 2 default (torch's is 0.9)
    adadelta_eps: float = 1e-7  # Adadelta's ε; Keras 2 default K.epsilon() (torch's is 1e-6)
    kl_form: str = "clamp"  # how "kl" guards t: "clamp" [1e-6, 1−1e-6] | "clip" [1e-7, 1] | "offset" t + 1e-5 (see kl_sparsity)
    lbfgs_history: int = 100  # stored curvature pairs; minFunc's Corr default (NCAE)
    lbfgs_opt_tol: float = 1e-5  # stop when max|∇L| <= this; minFunc's optTol
    lbfgs_prog_tol: float = 1e-9  # stop when |ΔL| or max|Δθ| < this; minFunc's progTol
    lbfgs_dtype: str = "float64"  # precision of the L-BFGS loss and gradient (its own vectors are always float64)
    # Keras 2 EarlyStopping(monitor="val_loss", min_delta, patience) as Ponchon's ShallowAE.train sets it (patience 10,
    # min_delta 1e-4, the test images as validation data): stop once the validation loss has gone `patience` epochs
    # without falling more than min_delta below its best. 0 = off (train all `epochs`). Minibatch optimizers only.
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 0.0

    def __post_init__(self):
        if self.decoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: decoder_activation must be one of {sorted(ACTIVATIONS)}, got {self.decoder_activation!r}")
        if self.encoder_activation not in ACTIVATIONS:
            raise ValueError(f"ae: encoder_activation must be one of {sorted(ACTIVATIONS)}, got {self.encoder_activation!r}")
        for field, allowed in (("penalty", PENALTIES), ("init", INITS), ("optimizer", OPTIMIZERS), ("loss_scale", LOSS_SCALES)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"ae: {field} must be one of {list(allowed)}, got {getattr(self, field)!r}")
        if self.nonneg not in NONNEG:
            raise ValueError(f"ae: nonneg must be one of {list(NONNEG)}, got {self.nonneg!r}")
        problems = ae_problems(vars(self))
        if problems:
            raise ValueError("ae: " + "; ".join(f"{key}: {message}" for key, message in problems))
        if self.k < 1 or self.epochs < 0 or self.batch_size < 1 or self.beta < 0:
            raise ValueError(f"ae: need k >= 1, epochs >= 0, batch_size >= 1, beta >= 0; got {self}")
        if self.eps <= 0 or self.weight_decay < 0 or self.alpha < 0 or self.nonneg_lambda < 0:
            raise ValueError(f"ae: need eps > 0, weight_decay >= 0, alpha >= 0, nonneg_lambda >= 0; got {self}")
        for field, allowed in (("kl_form", KL_FORMS), ("lbfgs_dtype", LBFGS_DTYPES)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"ae: {field} must be one of {list(allowed)}, got {getattr(self, field)!r}")
        if self.leaky_slope < 0 or not 0 <= self.adadelta_rho < 1 or self.adadelta_eps <= 0:
            raise ValueError(f"ae: need leaky_slope >= 0, 0 <= adadelta_rho < 1, adadelta_eps > 0; got {self}")
        if self.lbfgs_history < 1 or self.lbfgs_opt_tol < 0 or self.lbfgs_prog_tol < 0:
            raise ValueError(f"ae: need lbfgs_history >= 1, lbfgs_opt_tol >= 0, lbfgs_prog_tol >= 0; got {self}")
        if self.early_stopping_patience < 0 or self.early_stopping_min_delta < 0:
            raise ValueError(f"ae: need early_stopping_patience >= 0, early_stopping_min_delta >= 0; got {self}")


# --------------------------------------------------------------------------- penalties (pure)


_KL_CLAMP = (1e-6, 1 - 1e-6)  # kl_form "clamp": keeps both logs of S_KL finite when a unit is always off/on
_KL_CLIP = (1e-7, 1.0)  # "clip": K.clip(s_hat, K.epsilon(), 1), Ponchon custom_regularizers.KL_divergence_sum
_KL_OFFSET = 1e-5  # "offset": s_hat += 10**-5, Ponchon custom_regularizers.KL_divergence


def _kl_mean(t: torch.Tensor, form: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The guarded mean activation the KL is taken at, and where the guard's derivative is 0 (None: nowhere)."""
    if form == "clamp" or form == "clip":
        tc = t.clamp(*(_KL_CLAMP if form == "clamp" else _KL_CLIP))
        return tc, t != tc  # a clamp/clip passes no gradient where it binds (autograd's, and TF's clip_by_value)
    if form == "offset":
        return t + _KL_OFFSET, None
    raise ValueError(f"kl_sparsity: unknown kl_form {form!r}; known: {list(KL_FORMS)}")


def kl_sparsity(p: float, p_hat: torch.Tensor, form: str = "clamp") -> torch.Tensor:
    """Σ_j KL(p ‖ p̂_j) between Bernoulli means (Sec. 3.2, S_KL) over the last dim of p_hat (..., k).

    form guards p̂ before the logs: "clamp" to [1e-6, 1 − 1e-6] (ours); "clip" to [1e-7, 1] and "offset"
    p̂ + 1e-5 as Ponchon's KL_divergence_sum and KL_divergence (SourceCode/custom_regularizers.py). "clip"
    gives +inf at p̂ = 1 and "offset" NaN above 1 − 1e-5, as theirs do. Their KL_divergence returns the
    k-vector β·KL_j, which Keras 2 adds to the scalar MSE by broadcasting: the gradient it follows is that
    of Σ_j (MSE + decay + β·KL_j) = k·(MSE + decay + (β/k)·Σ_j KL_j), i.e. beta = β/k here, on a loss k times
    smaller (the same minimiser; Adadelta's steps differ only through its ε). Read from the Keras 2.2 source
    (Layer.add_loss, Model.compile's `total_loss += loss_tensor`), not run.
    """
    q, _ = _kl_mean(p_hat, form)
    return (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum(-1)


def sparsity_penalty(name: str, p: float, t: torch.Tensor, eps: float = 1e-8, kl_form: str = "clamp") -> torch.Tensor:
    """Σ_j S(p, t_j) for the mean activations t (..., k) (Sec. 3.2), summed over the last dim."""
    if name == "kl":
        return kl_sparsity(p, t, kl_form)  # S_KL = p log(p/t) + (1−p) log((1−p)/(1−t)), Sec. 3.2
    d2 = (p - t) ** 2  # (..., k)
    if name == "l2":
        return d2.sum(-1)  # S_L2 = (p − t)², Sec. 3.2 (Lee, Ekanadham & Ng)
    if name == "eps_l1":
        return torch.sqrt(d2 + eps).sum(-1)  # S_εL1 = √((p − t)² + ε), Sec. 3.2
    if name == "log":
        return torch.log1p(d2).sum(-1)  # S_log = log(1 + (p − t)²), Sec. 3.2
    if name == "none":
        return t.sum(-1) * 0.0  # keeps dtype, device and the graph
    raise ValueError(f"sparsity_penalty: unknown penalty {name!r}; known: {list(PENALTIES)}")


def sparsity_penalty_grad(name: str, p: float, t: torch.Tensor, eps: float = 1e-8, kl_form: str = "clamp") -> torch.Tensor:
    """dS(p, t_j)/dt_j for the mean activations t (k,): the derivative of `sparsity_penalty`, elementwise."""
    if name == "kl":
        q, dead = _kl_mean(t, kl_form)
        # −p/q + (1−p)/(1−q) = (q − p)/(q − q²); 0 where the guard binds
        grad = (q - p).div_(torch.addcmul(q, q, q, value=-1))
        return grad if dead is None else grad.masked_fill_(dead, 0.0)
    d = t - p  # (k,)
    if name == "l2":
        return 2 * d  # d/dt (p − t)²
    if name == "eps_l1":
        return d / torch.sqrt(d * d + eps)  # d/dt √((p − t)² + ε)
    if name == "log":
        return 2 * d / (1 + d * d)  # d/dt log(1 + (p − t)²)
    if name == "none":
        return torch.zeros_like(t)
    raise ValueError(f"sparsity_penalty_grad: unknown penalty {name!r}; known: {list(PENALTIES)}")


def asymmetric_decay(name: str, w: torch.Tensor, alpha: float) -> torch.Tensor:
    """Σ f(w) with f = α·g(w) for w ≥ 0 and g(w) for w < 0 (Sec. 3.3); a 0-d tensor.

    g(w) = w² ("asym_l2", Sec. 3.3 / NCAE), |w| ("asym_l1"), |w| + w² ("asym_smooth"); "none" and
    "project" give 0 (projection is a step, not a penalty).
    """
    if name == "asym_l2":
        g = w * w
    elif name == "asym_l1":
        g = w.abs()
    elif name == "asym_smooth":
        g = w.abs() + w * w
    elif name in ("none", "project"):
        return w.sum() * 0.0
    else:
        raise ValueError(f"asymmetric_decay: unknown decay {name!r}; known: {list(NONNEG)}")
    return torch.where(w >= 0, alpha * g, g).sum()  # Sec. 3.3: α·g on positive, g on negative weights


def asymmetric_decay_grad(name: str, w: torch.Tensor, alpha: float) -> torch.Tensor:
    """d/dw of `asymmetric_decay`, elementwise (|w| takes the subgradient 0 at w = 0, as autograd does)."""
    if name == "asym_l2":
        dg = 2 * w
    elif name == "asym_l1":
        dg = torch.sign(w)
    elif name == "asym_smooth":
        dg = torch.sign(w) + 2 * w
    elif name in ("none", "project"):
        return torch.zeros_like(w)
    else:
        raise ValueError(f"asymmetric_decay_grad: unknown decay {name!r}; known: {list(NONNEG)}")
    return torch.where(w >= 0, alpha * dg, dg)  # Sec. 3.3


def activation(name: str, z: torch.Tensor, slope: float = 0.1) -> torch.Tensor:
    """σ(z) (Sec. 3.1): "sigmoid", "linear", "relu" or "leaky_relu" (z for z > 0, slope·z below)."""
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "relu":
        return torch.relu(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, slope)  # Keras LeakyReLU(alpha=slope)
    return z  # linear


def _activate_(name: str, z: torch.Tensor, slope: float) -> torch.Tensor:
    """σ(z) written over z (the pre-activation is not needed again)."""
    if name == "sigmoid":
        return z.sigmoid_()
    if name == "relu":
        return z.relu_()
    if name == "leaky_relu":
        return F.leaky_relu_(z, slope)
    return z  # linear


def _activation_backward_(name: str, grad: torch.Tensor, out: torch.Tensor, slope: float) -> torch.Tensor:
    """grad ⊙ σ'(z) written over grad, with σ' taken from the output out = σ(z)."""
    if name == "sigmoid":
        return torch.ops.aten.sigmoid_backward.grad_input(grad, out, grad_input=grad)  # grad·out·(1 − out)
    if name == "relu":
        return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad)  # grad·[out > 0]
    if name == "leaky_relu":  # grad·(1 if out > 0 else slope): out > 0 ⇔ z > 0 for slope ≥ 0
        return torch.ops.aten.leaky_relu_backward.grad_input(grad, out, slope, True, grad_input=grad)
    return grad  # linear


# --------------------------------------------------------------------------- network


class ShallowAE(nn.Module):
    def __init__(self, pixels: int, k: int, decoder_activation: str, encoder_activation: str = "sigmoid", slope: float = 0.1):
        super().__init__()
        self.encoder = nn.Linear(pixels, k)  # W_e, b_e
        self.decoder = nn.Linear(k, pixels)  # W_d stored (pixels, k) by torch; atoms = its transpose
        self.encoder_activation, self.decoder_activation, self.slope = encoder_activation, decoder_activation, slope

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return activation(self.encoder_activation, self.encoder(x), self.slope)  # (batch, k): H = σ_e(X W_e + b_e), Sec. 3.1

    def decode(self, h: torch.Tensor, atoms: torch.Tensor | None = None) -> torch.Tensor:
        w = self.decoder.weight.T if atoms is None else atoms  # (k, pixels)
        return activation(self.decoder_activation, h @ w + self.decoder.bias, self.slope)  # (batch, pixels): X̂ = σ_d(H W_d + b_d)


class _Layers(NamedTuple):
    """The parameters (or their gradients) as plain views of the flat storage: each layer's weights with its bias
    as one more column, [W_e | b_e] and [W_d | b_d], and the four tensors as views of those."""

    we_aug: torch.Tensor  # (k, pixels + 1) = [W_e | b_e]
    wd_aug: torch.Tensor  # (pixels, k + 1) = [W_d | b_d]
    w_e: torch.Tensor  # (k, pixels)
    b_e: torch.Tensor  # (k,)
    w_d: torch.Tensor  # (pixels, k)
    b_d: torch.Tensor  # (pixels,)


def _generator(seed: int, stream: int) -> torch.Generator:
    """A CPU generator for one random stream of a seed (streams of one seed do not overlap; SeedSequence)."""
    state = np.random.SeedSequence([seed, stream]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class EarlyStopping:
    """Keras 2's EarlyStopping(monitor="val_loss", mode "min", min_delta, patience), as in Keras 2.1–2.2
    (keras/callbacks.py): best starts at +inf; an epoch improves when val_loss < best − min_delta (Keras negates
    min_delta in min mode and tests np.less(current − min_delta, best)), which sets best = val_loss and wait = 0;
    any other epoch (NaN included) adds 1 to wait, and training stops once wait >= patience. The weights are
    those of the last epoch run: Keras 2.1/2.2 does not restore the best ones (2.2.3 added restore_best_weights,
    off by default)."""

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.wait, self.stopped_epoch = float("inf"), 0, None

    @property
    def stopped(self) -> bool:
        return self.stopped_epoch is not None

    def update(self, val_loss: float, epoch: int) -> None:
        if val_loss < self.best - self.min_delta:
            self.best, self.wait = val_loss, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait, self.stopped_epoch = float(state["best"]), int(state["wait"]), state["stopped_epoch"]


class AE(Model):
    """history per epoch: {"epoch", "loss", "recon", "sparsity" (Σ_j S, unweighted), "decay" (weighted)}, plus
    "val_loss" when fit was given held-out rows (x_val).

    Adam/Adadelta: batch means over the epoch; with early stopping the history ends at the epoch it stopped
    (metadata["epochs_run"], metadata["early_stopping"]). L-BFGS: one full-batch iteration per epoch, values at its
    start; when L-BFGS stops early (minFunc's tolerances, metadata["lbfgs"]["stop"]), one last row holds
    the values at the final point.
    """

    name = "ae"
    config_class = AEConfig
    supports_resume = True

    def __init__(self, config: AEConfig | None = None):
        super().__init__(config or AEConfig())
        self.device = resolve_device(self.config.device)
        self.net: ShallowAE | None = None
        self._work: dict[int, dict[str, torch.Tensor]] = {}  # step arrays by batch size, see _workspace

    # -- parameters ------------------------------------------------------------------------------

    def _build(self, pixels: int, dtype: torch.dtype = torch.float32) -> None:
        cfg = self.config
        self.net = ShallowAE(pixels, cfg.k, cfg.decoder_activation, cfg.encoder_activation, cfg.leaky_slope)
        self._bind_flat(dtype)

    def _bind_flat(self, dtype: torch.dtype) -> None:
        """Move every parameter into one flat tensor (and every gradient into another) on the device.

        Layout [W_d | b_d] (pixels, k + 1), then [W_e | b_e] (k, pixels + 1): with a column of ones beside the
        codes and the inputs, a layer's forward product includes its bias and its weight-gradient product
        yields the bias gradient too (no bias copy, no separate row sums). The nn.Linear parameters become
        views of the flat storage, so state_dict, load_state_dict and encode see what the optimizer steps.
        """
        net, k = self.net, self.config.k
        pixels = net.encoder.in_features
        theta = torch.empty(pixels * (k + 1) + k * (pixels + 1), dtype=dtype, device=self.device)
        grad = torch.zeros_like(theta)

        def layers(flat: torch.Tensor) -> _Layers:
            wd_aug = flat[: pixels * (k + 1)].view(pixels, k + 1)
            we_aug = flat[pixels * (k + 1) :].view(k, pixels + 1)
            return _Layers(we_aug, wd_aug, we_aug[:, :pixels], we_aug[:, pixels], wd_aug[:, :k], wd_aug[:, k])

        prm, grd = layers(theta), layers(grad)
        for name in ("w_e", "b_e", "w_d", "b_d"):
            layer, kind = (net.encoder if name.endswith("e") else net.decoder), ("weight" if name[0] == "w" else "bias")
            p = getattr(layer, kind)
            getattr(prm, name).copy_(p.detach())
            p.data = getattr(prm, name)
            p.grad = getattr(grd, name)
        self._theta, self._grad, self._params, self._grads = theta, grad, prm, grd
        self._w_e_t, self._w_d_t = prm.we_aug.T, prm.wd_aug.T  # views made once: a step is short
        self._work = {}

    def _constrained(self, which: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weights, their gradient) views a decay or projection applies to, biases excluded.

        which="nonneg": W_d, plus W_e when nonneg_encoder; "both": W_d and W_e (weight_decay).
        """
        prm, grd = self._params, self._grads
        pairs = [(prm.w_d, grd.w_d), (prm.w_e, grd.w_e)]
        return pairs if which == "both" or self.config.nonneg_encoder else pairs[:1]

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, pixels) with a column of ones appended, (n, pixels + 1), on the device: what the steps read."""
        out = torch.empty(x.shape[0], x.shape[1] + 1, dtype=self._theta.dtype, device=self.device)
        out[:, :-1].copy_(x)
        out[:, -1] = 1.0
        return out

    def _init_weights(self) -> None:
        """init "default": torch's nn.Linear init, drawn on the CPU from the seeded global generator by _build.

        "nonneg_uniform" (NCAE initializeParameters_nonneg.m): weights U[0, r], r = √6/√(hidden+visible+1),
        biases 0. "glorot_uniform" (Keras Dense default): weights U[−r, r], r = √(6/(fan_in + fan_out)),
        biases 0. Both draw on the CPU from a generator of the seed, W_e then W_d, so every device starts
        from the same numbers whatever its own random state.
        With nonneg="project", "default" and "nonneg_uniform" start feasible (|W|); "glorot_uniform" does not,
        as Keras applies non_neg only after each update.
        """
        cfg, prm = self.config, self._params
        if cfg.init in ("nonneg_uniform", "glorot_uniform"):
            gen = _generator(cfg.seed, _INIT_STREAM)
            hidden, visible = prm.w_e.shape
            for w in (prm.w_e, prm.w_d):
                if cfg.init == "nonneg_uniform":
                    r = np.sqrt(6) / np.sqrt(hidden + visible + 1)
                    w.copy_(torch.rand(w.shape, generator=gen).mul_(float(r)))
                else:
                    r = np.sqrt(6 / (w.shape[0] + w.shape[1]))
                    w.copy_(torch.rand(w.shape, generator=gen).mul_(2 * float(r)).sub_(float(r)))
            prm.b_e.zero_()
            prm.b_d.zero_()
        if cfg.nonneg == "project" and cfg.init != "glorot_uniform":  # start feasible: |W|, not half of it clamped to 0
            for w, _ in self._constrained("nonneg"):
                w.abs_()

    def _project(self) -> None:
        if self.config.nonneg == "project":
            for w, _ in self._constrained("nonneg"):
                w.clamp_(min=0)  # projection onto W ≥ 0, Sec. 3.3

    # -- loss and gradient -------------------------------------------------------------------------

    def _workspace(self, m: int) -> dict[str, torch.Tensor]:
        """The arrays of a loss-and-gradient pass on m rows, allocated once and reused: a fresh multi-MB tensor
        every step costs more in page faults than the elementwise work it holds."""
        if m not in self._work:
            k, pixels, dtype = self.config.k, self._params.w_e.shape[1], self._theta.dtype
            rows = min(m, _CHUNK)  # per pass; the codes hold all m rows (the KL needs their mean first)
            shapes = {"h_aug": (m, k + 1), "x_hat": (rows, pixels), "err": (rows, pixels), "grad_h": (rows, k), "sq": (-(-m // rows),)}
            work = {name: torch.empty(shape, dtype=dtype, device=self.device) for name, shape in shapes.items()}
            work["h_aug"][:, k] = 1.0  # [H | 1]: the decoder's products carry its bias
            work["h"] = work["h_aug"][:, :k]
            work["ones"] = torch.ones(m, dtype=dtype, device=self.device)  # the batch mean of the codes as a GEMV
            work["err_flat"] = work["err"].view(-1)
            self._work[m] = work
        return self._work[m]

    def _loss_and_grads(self, x_aug: torch.Tensor, record: torch.Tensor) -> None:
        """Gradients of L_AE on the rows x_aug = [X | 1] (m, pixels + 1) (see _augment), derived by hand
        (Sec. 3.1–3.3), into the flat gradient.

        L = recon + β Σ_j S(p, t_j) + decay. The loss itself is not formed here: record, a zeroed (k + 2,) row,
        gets what it is made of (Σ err², the weighted decay, the mean activations t), and _loss_terms turns
        rows of those into the terms, a whole epoch at once. Rows are taken _CHUNK at a time after the
        encoder pass (full-batch L-BFGS). The tests check both against autograd. Every tensor here is a
        plain view (no autograd).
        """
        cfg, prm, grd = self.config, self._params, self._grads
        slope, act_e, act_d = cfg.leaky_slope, cfg.encoder_activation, cfg.decoder_activation
        m, pixels = x_aug.shape[0], x_aug.shape[1] - 1
        work = self._workspace(m)
        h_aug, h = work["h_aug"], work["h"]
        h = _activate_(act_e, torch.mm(x_aug, self._w_e_t, out=h), slope)  # (m, k): σ_e(X W_e + b_e), Sec. 3.1
        t = record[2:]
        torch.addmv(t, h.T, work["ones"], beta=0, alpha=1 / m, out=t)  # t_j: batch mean of h_j, Sec. 3.2
        g = 2 * self._recon_scale(m, pixels)  # ∂recon/∂x̂ = 2c·err
        kl = sparsity_penalty_grad(cfg.penalty, cfg.p, t, cfg.eps, cfg.kl_form) if cfg.beta > 0 else None  # S'(t_j)
        rows = work["x_hat"].shape[0]
        for i, start in enumerate(range(0, m, rows)):
            if rows == m:  # one pass (minibatches): no slicing
                xc, hc, hc_aug, x_hat, err, grad_h, acc = x_aug, h, h_aug, work["x_hat"], work["err"], work["grad_h"], 0
            else:
                r = min(rows, m - start)
                xc, hc, hc_aug = x_aug[start : start + r], h[start : start + r], h_aug[start : start + r]
                x_hat, err, grad_h = work["x_hat"][:r], work["err"][:r], work["grad_h"][:r]
                acc = 0 if i == 0 else 1  # beta of the accumulating products: overwrite first, then add
            x_hat = _activate_(act_d, torch.mm(hc_aug, self._w_d_t, out=x_hat), slope)  # σ_d(H W_d + b_d)
            err = torch.sub(x_hat, xc[:, :pixels], out=err)  # (rows, pixels)
            flat = work["err_flat"] if rows == m else err.view(-1)
            torch.dot(flat, flat, out=record[0] if rows == m else work["sq"][i])  # recon = c·Σ err²
            delta = _activation_backward_(act_d, err, x_hat, slope)  # ∂L/∂(H W_d + b_d) / 2c
            # alpha=g applies the 2c; beta=acc overwrites the gradient buffers on the first pass
            torch.addmm(grd.wd_aug, delta.T, hc_aug, beta=acc, alpha=g, out=grd.wd_aug)  # [∂L/∂W_d | ∂L/∂b_d] (pixels, k + 1)
            grad_h = torch.addmm(grad_h, delta, prm.w_d, beta=0, alpha=g, out=grad_h)  # ∂recon/∂H (rows, k)
            if kl is not None:  # ∂(β Σ_j S(p, t_j))/∂h_ij = (β/m)·S'(t_j)
                grad_h.add_(kl, alpha=cfg.beta / m)
            delta = _activation_backward_(act_e, grad_h, hc, slope)  # ∂L/∂(X W_e + b_e), (rows, k)
            torch.addmm(grd.we_aug, delta.T, xc, beta=acc, out=grd.we_aug)  # [∂L/∂W_e | ∂L/∂b_e] (k, pixels + 1)
        if rows != m:
            torch.sum(work["sq"], 0, out=record[0])
        self._decay(record, grads=True)

    def _decay(self, record: torch.Tensor, grads: bool) -> None:
        """Add the weighted weight-decay terms to record[1] and, with grads, their gradients to the flat gradient."""
        cfg = self.config
        if cfg.weight_decay > 0:  # λ Σ w² over W_e, W_d, biases excluded (properties-of-autoencoders App. A ψ, no ½)
            for w, gw in self._constrained("both"):
                record[1] += cfg.weight_decay * w.pow(2).sum()
                if grads:
                    gw.add_(w, alpha=2 * cfg.weight_decay)
        if cfg.nonneg_lambda > 0 and cfg.nonneg.startswith("asym"):  # λ Σ f(W), Sec. 3.3
            lam, alpha = cfg.nonneg_lambda, cfg.alpha
            for w, gw in self._constrained("nonneg"):
                if cfg.nonneg == "asym_l2":  # f = w² (w < 0), α·w² (w ≥ 0): with n = min(w, 0), Σ f = Σ n² + α(Σ w² − Σ n²)
                    neg = w.clamp(max=0)
                    nn_, ww = neg.pow(2).sum(), w.pow(2).sum()
                    record[1] += lam * (nn_ + alpha * (ww - nn_))
                    if grads:
                        gw.add_(w, alpha=2 * lam * alpha).add_(neg, alpha=2 * lam * (1 - alpha))  # f' = 2αw + 2(1 − α)n
                else:
                    record[1] += lam * asymmetric_decay(cfg.nonneg, w, alpha)
                    if grads:
                        gw.add_(asymmetric_decay_grad(cfg.nonneg, w, alpha), alpha=lam)

    @torch.no_grad()
    def _validation_loss(self, x_val: torch.Tensor) -> float:
        """L_AE on held-out rows x_val (n, pixels) as Keras 2 reports `val_loss`: the loss of each batch of
        batch_size rows in order (its own batch means t_j, the regularisers added per batch), averaged with the
        batches' row counts as weights (keras/engine/training.py test_loop: outs += batch_out·len(batch), / n).
        A forward pass only: the gradient buffers are left alone."""
        cfg, bs = self.config, self.config.batch_size
        n = x_val.shape[0]
        records = torch.zeros(-(-n // bs), cfg.k + 2, dtype=torch.float64, device=self.device)
        self._decay(records[0], grads=False)
        records[:, 1] = records[0, 1]  # the weights' terms, the same in every batch
        rows = torch.empty(records.shape[0], dtype=torch.float64, device=self.device)
        for i, start in enumerate(range(0, n, bs)):
            xb = x_val[start : start + bs]  # (rows, pixels)
            h = self.net.encode(xb)  # (rows, k)
            err = self.net.decode(h) - xb
            records[i, 0], records[i, 2:], rows[i] = err.pow(2).sum(), h.mean(0), len(xb)
        return float((self._loss_terms(records, rows)[0] * rows).sum() / n)

    def _recon_scale(self, m: int | torch.Tensor, pixels: int) -> float | torch.Tensor:
        """c of recon = c·Σ err² on m rows: 1/(m·pixels) for the MSE of Sec. 3.2, 0.5/m for NCAE's 0.5·Σ(y − ŷ)²/m."""
        return 0.5 / m if self.config.loss_scale == "ncae" else 1.0 / (m * pixels)

    def _loss_terms(self, records: torch.Tensor, m: int | torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(L_AE, recon, Σ_j S(p, t_j), decay) of _loss_and_grads records (..., k + 2) from batches of m rows."""
        cfg = self.config
        recon = records[..., 0] * self._recon_scale(m, self._params.w_e.shape[1])
        sparsity = sparsity_penalty(cfg.penalty, cfg.p, records[..., 2:], cfg.eps, cfg.kl_form)
        decay = records[..., 1]
        return recon + cfg.beta * sparsity + decay, recon, sparsity, decay  # L_AE, Sec. 3.2–3.3

    def _record_history(self, epoch: int, records: torch.Tensor, m: int | torch.Tensor, extra: dict | None = None) -> None:
        """Append the epoch's means of loss, recon, sparsity and decay over its records (one host sync), and `extra`."""
        terms = torch.stack(self._loss_terms(records.double(), m)).reshape(4, -1).mean(dim=1)
        loss, recon, sparsity, decay = terms.tolist()
        self._check_finite(loss, epoch)
        self.history.append({"epoch": epoch, "loss": loss, "recon": recon, "sparsity": sparsity, "decay": decay, **(extra or {})})

    # -- training ----------------------------------------------------------------------------------

    def fit(self, x: np.ndarray, resume: Resume | None = None, x_val: np.ndarray | None = None) -> "AE":
        """Train on x (n, pixels); with `resume`, continue from its saved state and save every few epochs.

        x_val (held-out rows): its loss is recorded per epoch (history "val_loss") and watched by early stopping;
        needed when early_stopping_patience > 0.
        """
        for _ in self.train_steps(x, resume, x_val):
            pass
        return self

    def train_steps(self, x: np.ndarray, resume: Resume | None = None, x_val: np.ndarray | None = None) -> Iterator[None]:
        """fit() one optimizer step at a time: yields after each step (benchmarks interleave runs with it)."""
        cfg = self.config
        lbfgs = cfg.optimizer == "lbfgs"
        if cfg.early_stopping_patience > 0 and x_val is None:
            raise ValueError("ae: early_stopping_patience > 0 watches a validation loss: fit needs x_val (held-out rows)")
        dtype = getattr(torch, cfg.lbfgs_dtype) if lbfgs else torch.float32
        seed_everything(cfg.seed)  # the default init draws from the global CPU generator
        x = torch.as_tensor(np.asarray(x), dtype=dtype)  # (n, pixels)
        self._build(x.shape[1], dtype)
        data = self._augment(x)  # (n, pixels + 1) = [X | 1], all on the device
        val = None if x_val is None or lbfgs else torch.as_tensor(np.asarray(x_val), dtype=dtype).to(self.device)
        self._init_weights()
        self.net.train()
        self.history = []
        yield from self._lbfgs_steps(data, resume) if lbfgs else self._minibatch_steps(data, resume, val)
        if dtype != torch.float32:
            self._bind_flat(torch.float32)  # the model is used and saved in float32
        self.net.eval()
        self.metadata["device"] = str(self.device)

    @staticmethod
    def _check_finite(loss_mean: float, epoch: int) -> None:
        if not np.isfinite(loss_mean):
            raise FloatingPointError(f"ae: loss became {loss_mean} in epoch {epoch}; try a smaller lr or beta")

    def _restore(
        self, resume: Resume | None, optimizer: Optimizer, generator: torch.Generator | None, stopper: EarlyStopping | None = None
    ) -> int:
        """Load a matching saved loop state into net, optimizer, generator and early stopping; the epoch to start from."""
        state = resume.load() if resume else None
        if state is None:
            return 0
        self.net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        if generator is not None:
            generator.set_state(state["generator"])
        if stopper is not None:
            stopper.load_state_dict(state["early_stopping"])
        self.history = state["history"]
        return state["step"]

    def _checkpoint(
        self, resume: Resume | None, step: int, optimizer: Optimizer, generator: torch.Generator | None,
        stopper: EarlyStopping | None = None,
    ) -> None:  # fmt: skip
        if resume and (resume.due(step) or (stopper is not None and stopper.stopped)):  # a stop is saved as it happens
            resume.save({
                "step": step,
                "net": {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "generator": None if generator is None else generator.get_state(),
                "history": list(self.history),
                "early_stopping": None if stopper is None else stopper.state_dict(),
            })

    def _minibatch_optimizer(self) -> FusedAdam | FlatAdadelta:
        cfg = self.config
        if cfg.optimizer == "adam":  # torch's fused kernel: one pass over all parameters per step
            return FusedAdam([self._theta], lr=cfg.lr, grads=[self._grad])
        return FlatAdadelta(self._theta, self._grad, lr=cfg.lr, rho=cfg.adadelta_rho, eps=cfg.adadelta_eps)  # the AE study's

    def _minibatch_steps(self, data: torch.Tensor, resume: Resume | None, val: torch.Tensor | None = None) -> Iterator[None]:
        """Adam/Adadelta over minibatches drawn by a seeded permutation of the on-device data (no DataLoader).

        With val (held-out rows, on the device): its loss after each epoch goes into the history row ("val_loss"),
        and early stopping (when on) watches it, as Keras' fit(validation_data=...) with EarlyStopping does.
        """
        cfg = self.config
        n, bs = data.shape[0], cfg.batch_size
        optimizer = self._minibatch_optimizer()
        generator = torch.Generator().manual_seed(cfg.seed)  # CPU: same order on every device
        stopper = EarlyStopping(cfg.early_stopping_patience, cfg.early_stopping_min_delta) if cfg.early_stopping_patience > 0 else None
        n_batches = -(-n // bs)
        rows_per_batch = torch.full((n_batches,), bs, dtype=torch.float64, device=self.device)
        rows_per_batch[-1] = n - bs * (n_batches - 1)
        sizes = {min(bs, n), n - bs * (n_batches - 1)}  # a full batch and the last one
        batches = {size: data.new_empty(size, data.shape[1]) for size in sizes}  # the rows of each step, reused ([X | 1])
        for epoch in range(self._restore(resume, optimizer, generator, stopper), cfg.epochs):
            if stopper is not None and stopper.stopped:  # resumed from the state saved when it stopped
                break
            order = torch.randperm(n, generator=generator).to(self.device)  # (n,)
            records = torch.zeros(n_batches, cfg.k + 2, dtype=data.dtype, device=self.device)  # one record per batch
            for rows, record in zip(order.split(bs), records.unbind(0)):
                batch = torch.index_select(data, 0, rows, out=batches[len(rows)])
                self._loss_and_grads(batch, record)
                optimizer.step()
                self._project()
                yield
            extra = {} if val is None else {"val_loss": self._validation_loss(val)}  # after the epoch, as Keras
            self._record_history(epoch, records, rows_per_batch, extra)  # the means over the epoch's batches
            if stopper is not None:
                stopper.update(extra["val_loss"], epoch)
            self._checkpoint(resume, epoch + 1, optimizer, generator, stopper)
            if stopper is not None and stopper.stopped:
                break
        self.metadata["epochs_run"] = len(self.history)
        if stopper is not None:
            self.metadata["early_stopping"] = stopper.state_dict()

    def _lbfgs_steps(self, data: torch.Tensor, resume: Resume | None) -> Iterator[None]:
        """Full-batch L-BFGS as NCAE ran it (minFunc's L-BFGS, partbased.models.optim.LBFGS): one iteration per epoch.

        Loss and gradient in cfg.lbfgs_dtype (float64 by default), the optimizer's vectors in float64. With
        nonneg="project" the clamp after each iteration makes it a heuristic projected L-BFGS (the clamped
        point is evaluated again, so the next curvature pair is a true secant pair). Stops before `epochs`
        iterations when minFunc would (metadata["lbfgs"]).
        """
        cfg = self.config
        n = data.shape[0]

        def fun(x: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
            self._theta.copy_(x)
            record = torch.zeros(cfg.k + 2, dtype=data.dtype, device=self.device)
            self._loss_and_grads(data, record)
            return float(self._loss_terms(record.double(), n)[0]), self._grad, record

        optimizer = LBFGS(self._theta, fun, history=cfg.lbfgs_history, opt_tol=cfg.lbfgs_opt_tol, prog_tol=cfg.lbfgs_prog_tol)
        start = self._restore(resume, optimizer, None)
        if start == 0:
            optimizer.start()
        self._theta.copy_(optimizer.x)
        for epoch in range(start, cfg.epochs):
            self._record_history(epoch, optimizer.aux, n)  # the values at the iteration's start (or the final point's)
            if optimizer.stop is not None:
                break
            optimizer.step()
            self._theta.copy_(optimizer.x)  # the accepted point (the line search may have evaluated past it)
            if cfg.nonneg == "project":
                self._project()
                optimizer.moved(self._theta)
            self._checkpoint(resume, epoch + 1, optimizer, None)
            yield
        self.metadata["lbfgs"] = {"iterations": optimizer.iteration, "evaluations": optimizer.evaluations, "stop": optimizer.stop}
        self.metadata["epochs_run"] = optimizer.iteration

    # -- inference ---------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.net is None:
            raise RuntimeError("ae: call fit() or load_state_dict() first")

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        self._check_fitted()
        self.net.eval()
        x = np.asarray(x, dtype=np.float32)  # (n, pixels)
        out = [
            self.net.encode(torch.as_tensor(x[i : i + _INFER_BATCH], device=self.device)).cpu().numpy()
            for i in range(0, len(x), _INFER_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.config.k), np.float32)  # (n, k)

    @torch.no_grad()
    def decode(self, codes: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
        """σ_d(codes @ atoms + b_d); given atoms replace W_d, the bias b_d is kept (dilation metric)."""
        self._check_fitted()
        self.net.eval()
        codes = np.asarray(codes, dtype=np.float32)  # (n, k)
        w = None if atoms is None else torch.as_tensor(np.asarray(atoms, np.float32), device=self.device)  # (k, pixels)
        out = [
            self.net.decode(torch.as_tensor(codes[i : i + _INFER_BATCH], device=self.device), w).cpu().numpy()
            for i in range(0, len(codes), _INFER_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.net.decoder.out_features), np.float32)  # (n, pixels)

    @property
    def atoms(self) -> np.ndarray:
        self._check_fitted()
        return self.net.decoder.weight.detach().T.cpu().numpy().copy()  # (k, pixels)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {key: value.detach().cpu().clone() for key, value in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._build(state["encoder.weight"].shape[1])  # encoder.weight: (k, pixels)
        self.net.load_state_dict({key: torch.as_tensor(v) for key, v in state.items()})
        self.net.eval()
