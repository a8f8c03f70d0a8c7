"""The AE's early stopping as Keras 2's EarlyStopping on a held-out loss, and models fitted on the test split."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY_CONFIG, snakemake, write_config
from partbased.config import ConfigError, validate_config
from partbased.data import read_split
from partbased.models import build_model, load_model
from partbased.models.ae import EarlyStopping, sparsity_penalty
from partbased.models.resume import Resume

# Ponchon's shallow AE (Keras semantics), small: leaky-ReLU decoder, KL sum with clip, projected decoder, Adadelta
PARAMS = {
    "k": 8, "epochs": 300, "batch_size": 64, "optimizer": "adadelta", "lr": 1.0, "beta": 0.01, "p": 0.1, "kl_form": "clip",
    "decoder_activation": "leaky_relu", "nonneg": "project", "init": "glorot_uniform", "seed": 2,
    "early_stopping_patience": 3, "early_stopping_min_delta": 1e-4,
}  # fmt: skip


@pytest.fixture(scope="module")
def split(digits):
    return digits[:1200], digits[1200:]


def test_stopping_rule_is_keras_2():
    """best − min_delta must be beaten to reset the wait; `patience` epochs without it stop; NaN is no improvement."""
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    for epoch, loss in enumerate([1.0, 0.95, 0.85, 0.8, float("nan")]):
        stopper.update(loss, epoch)
        if stopper.stopped:
            break
    # 1.0 improves on inf; 0.95 is not 0.1 below 1.0 (wait 1); 0.85 is (best 0.85, wait 0); 0.8 (wait 1), NaN (wait 2)
    assert stopper.stopped_epoch == 4 and stopper.best == 0.85
    patient = EarlyStopping(patience=3, min_delta=0.0)
    for epoch, loss in enumerate([1.0, 1.0, 0.999, 0.999, 0.999]):
        patient.update(loss, epoch)
    assert not patient.stopped and patient.wait == 2  # any fall counts with min_delta 0


def keras_val_loss(model, x_val: np.ndarray) -> float:
    """Keras' val_loss computed anew: MSE + beta * sum KL(p || clip(batch mean)) per batch of batch_size rows,
    averaged with the rows as weights."""
    cfg, total = model.config, 0.0
    for start in range(0, len(x_val), cfg.batch_size):
        xb = x_val[start : start + cfg.batch_size]
        codes = model.encode(xb)
        mse = float(np.mean((model.decode(codes) - xb) ** 2))
        kl = float(sparsity_penalty("kl", cfg.p, torch.as_tensor(codes.mean(0), dtype=torch.float64), kl_form="clip"))
        total += len(xb) * (mse + cfg.beta * kl)
    return total / len(x_val)


def test_training_stops_on_the_held_out_loss_and_keeps_the_last_weights(split):
    train, held_out = split
    model = build_model("ae", PARAMS, device="cpu").fit(train, x_val=held_out)
    history = pd.DataFrame(model.history)
    stop = model.metadata["early_stopping"]
    assert 0 < model.metadata["epochs_run"] == len(history) == stop["stopped_epoch"] + 1 < PARAMS["epochs"]
    # the rule held at every epoch: the last `patience` epochs did not beat best - min_delta, and best is the
    # minimum of the epochs up to the last improvement
    assert stop["best"] == pytest.approx(history["val_loss"].iloc[: -PARAMS["early_stopping_patience"]].min())
    assert (history["val_loss"].iloc[-3:] >= stop["best"] - 1e-4).all()
    # the history's val_loss is Keras': recomputed from the final (last epoch's, not the best) weights
    assert history["val_loss"].iloc[-1] == pytest.approx(keras_val_loss(model, held_out), rel=1e-5)


def test_a_killed_run_resumes_to_the_same_stop(tmp_path, split):
    train, held_out = split
    straight = build_model("ae", PARAMS, device="cpu").fit(train, x_val=held_out)
    stopped = straight.metadata["epochs_run"]
    per_epoch = -(-len(train) // PARAMS["batch_size"])
    for kill_after in (stopped // 2, stopped):  # mid-run, and after the state saved as it stopped
        resume = Resume(tmp_path / f"state{kill_after}.pt", every=4, fingerprint={"test": kill_after})
        steps = build_model("ae", PARAMS, device="cpu").train_steps(train, resume, held_out)
        for _ in range(kill_after * per_epoch):
            next(steps)
        if kill_after == stopped:
            with pytest.raises(StopIteration):
                next(steps)  # the loop ends there: it stopped
        steps.close()
        resumed = build_model("ae", PARAMS, device="cpu").fit(train, resume=resume, x_val=held_out)
        np.testing.assert_array_equal(resumed.atoms, straight.atoms)
        assert resumed.history == straight.history and resumed.metadata["early_stopping"] == straight.metadata["early_stopping"]


def test_early_stopping_needs_held_out_data_and_minibatches(split):
    with pytest.raises(ValueError, match="needs x_val"):
        build_model("ae", PARAMS, device="cpu").fit(split[0])
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][2]["settings"].update(optimizer="lbfgs", early_stopping_patience=5)
    with pytest.raises(ConfigError, match=r"models\[2\].settings.early_stopping_patience: early stopping \(patience 5\) needs a minibatch optimizer"):
        validate_config(config)


def test_workflow_early_stopping_and_a_model_fitted_on_the_test_split(tmp_path):
    """The train job watches the test split where early stopping is on, and fits nmf_sc on the test split when
    fit_split says so; that point is evaluated on the codes its fit found."""
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"] = config["datasets"][:1]  # digits
    config["models"] = [
        {"type": "ae", "grid": {"k": [8]}, "settings": {k: v for k, v in PARAMS.items() if k not in ("k", "seed")}},
        {"type": "nmf_sc", "fit_split": "test", "grid": {"k": [8]}, "settings": {"sH": 0.6, "max_iter": 30}},
    ]
    config["figures"]["per_point"] = False
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2")
    table = pd.read_csv(tmp_path / "results" / "metrics.csv").set_index("model")
    assert table.loc["ae", "fit_split"] == "train" and table.loc["nmf_sc", "fit_split"] == "test"
    assert 0 < table.loc["ae", "epochs_run"] < PARAMS["epochs"]  # stopped early, on the test split's loss
    ae = load_model(tmp_path / "results" / "models" / "digits" / "ae" / "k~8" / "seed~0" / "model.pt")
    test = read_split(tmp_path / "results" / "data" / "digits.zarr", "test")
    assert ae.history[-1]["val_loss"] == pytest.approx(keras_val_loss(ae, test.x), rel=1e-5)
    nmfsc = load_model(tmp_path / "results" / "models" / "digits" / "nmf_sc" / "k~8" / "seed~0" / "model.pt")
    assert nmfsc.metadata["n_train"] == len(test.x) and nmfsc.fitted_codes.shape == (len(test.x), 8)
    # its reconstruction error is that of its own H (held at sH 0.6 per component), not of a re-encoding
    own = float(np.mean((nmfsc.decode(nmfsc.fitted_codes) - test.x) ** 2))
    assert table.loc["nmf_sc", "recon_error"] == pytest.approx(own, rel=1e-5)
    assert own != pytest.approx(float(np.mean((nmfsc.decode(nmfsc.encode(test.x)) - test.x) ** 2)), rel=1e-3)
