"""Rules across a model's parameters (and the data's sizes) that a JSON schema cannot state.

Torch-free: the workflow checks every grid point with them before any job runs (partbased.config, which
names the config key), and the model configs check themselves with the same rules (AEConfig), so that the
two never disagree. Each rule returns (key, message) pairs: the key is the parameter the message is about.
"""

from __future__ import annotations

from collections.abc import Mapping

KL_ENCODERS = ("sigmoid",)  # the KL penalty compares Bernoulli means: codes in [0, 1] (report Sec. 3.2)
MINIBATCH_OPTIMIZERS = ("adam", "adadelta")  # L-BFGS is full batch and ignores batch_size


def ae_problems(cfg: Mapping) -> list[tuple[str, str]]:
    """What is wrong with an AE's effective config `cfg` (every AEConfig field present)."""
    problems = []
    if cfg["penalty"] == "kl":
        # KL(p || t) = p log(p/t) + (1-p) log((1-p)/(1-t)) needs 0 < p < 1; it is evaluated for the history even at beta 0
        if not 0 < cfg["p"] < 1:
            problems.append(("p", f"penalty 'kl' needs p in (0, 1) (a Bernoulli mean, report Sec. 3.2), got {cfg['p']}"))
        if cfg["beta"] > 0 and cfg["encoder_activation"] not in KL_ENCODERS:
            problems.append((
                "encoder_activation",
                f"penalty 'kl' with beta {cfg['beta']} needs codes in [0, 1] (encoder_activation 'sigmoid', report Sec. 3.2), "
                f"got {cfg['encoder_activation']!r}; choose a penalty among ['l2', 'eps_l1', 'log', 'none'], or beta 0",
            ))
    if cfg.get("early_stopping_patience", 0) > 0 and cfg["optimizer"] not in MINIBATCH_OPTIMIZERS:
        # Keras' EarlyStopping watches the validation loss once per epoch; an L-BFGS iteration is no epoch of minibatches
        problems.append((
            "early_stopping_patience",
            f"early stopping (patience {cfg['early_stopping_patience']}) needs a minibatch optimizer {list(MINIBATCH_OPTIMIZERS)}, "
            f"got optimizer {cfg['optimizer']!r}; L-BFGS stops by lbfgs_opt_tol/lbfgs_prog_tol",
        ))
    return problems


def validation_needed(family: str, cfg: Mapping) -> bool:
    """Whether training `family` with `cfg` reads held-out data (the AE's early stopping watches its loss)."""
    return family == "ae" and cfg.get("early_stopping_patience", 0) > 0


def size_problems(family: str, cfg: Mapping, n_train: int | None, pixels: int | None) -> list[tuple[str, str]]:
    """Sizes `cfg` asks for that the data cannot give; n_train / pixels None where not known yet (then unchecked)."""
    problems = []
    if family == "ae" and cfg["optimizer"] in MINIBATCH_OPTIMIZERS and n_train is not None and cfg["batch_size"] > n_train:
        problems.append((
            "batch_size",
            f"{cfg['batch_size']} is larger than the training split ({n_train} images); at most {n_train} (one full batch)",
        ))
    if family == "pca":  # scikit-learn's PCA: n_components <= min(n_samples, n_features)
        limits = {"pixels per image": pixels, "training images": n_train}
        known = {what: n for what, n in limits.items() if n is not None}
        if known and cfg["k"] > min(known.values()):
            what = min(known, key=known.get)
            problems.append(("k", f"pca needs k <= {what} ({known[what]}), got {cfg['k']}"))
    return problems
