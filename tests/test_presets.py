"""Every published experiment's preset validates and plans its jobs (a dry run; no download)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, planned_jobs
from partbased.config import validate_config
from partbased.data import LOCAL_FILE_SOURCES, REMOTE_SOURCES
from partbased.grid import build_grid

PRESETS = sorted((REPO / "presets").glob("*.yaml"))


def test_the_published_experiments_have_presets():
    assert {p.stem for p in PRESETS} >= {
        "part_based_ae_fashion_mnist", "ncae_mnist", "eggert_koerner_bars", "pae_nmf_cbcl", "own_matrix"
    }


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_dry_run(preset, tmp_path):
    config = yaml.safe_load(preset.read_text())
    for dataset in config["datasets"]:  # the user's own files: placeholders are enough to plan
        if dataset["source"] in LOCAL_FILE_SOURCES:
            Path(tmp_path / dataset["path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(tmp_path / dataset["path"]).write_text("")
    shutil.copy(preset, tmp_path / "config.yaml")
    jobs = planned_jobs(tmp_path)
    points = build_grid(validate_config(yaml.safe_load(preset.read_text()), root=tmp_path))
    assert jobs["train_model"] == jobs["evaluate_model"] == len(points) > 0
    remote = [d for d in config["datasets"] if d["source"] in REMOTE_SOURCES]
    assert jobs.get("download_dataset", 0) == len(remote)
    assert jobs["prepare_dataset"] == len(config["datasets"])


# the part-based AE study's SVM protocol (REFERENCE.md "Evaluation protocol"): 30 C, 20 x 8 %, 25 x 5 % of the held-out 20 %
PUBLISHED_PROTOCOL = {
    "seed": 0,
    "svm": {
        "holdout": 0.2, "n_C": 30, "C_min_exp": -2, "C_max_exp": 3, "cv_splits": 20, "cv_test_size": 0.08,
        "eval_splits": 25, "eval_test_size": 0.05, "max_iter": 5000, "tol": 0.0001, "solver": "torch",
    },
}  # fmt: skip


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_runs_the_published_evaluation_wherever_it_runs(preset, tmp_path):
    """Every preset states its whole evaluation: merged into config.yaml (whose shrunk protocol would fill in any
    key it left out) or alone, its effective evaluation settings are the published protocol."""
    placeholder = tmp_path / "data.csv"
    placeholder.write_text("1,2\n3,4\n")
    runs = {}
    for with_default in (True, False):
        config = yaml.safe_load((REPO / "config.yaml").read_text()) if with_default else {}
        update_config(config, yaml.safe_load(preset.read_text()))
        for dataset in config["datasets"]:
            if dataset["source"] in LOCAL_FILE_SOURCES:  # the user's own files: a placeholder is enough to validate
                dataset["path"] = str(placeholder)
                dataset.pop("labels_path", None)
        runs[with_default] = validate_config(config)
    assert runs[True]["evaluation"] == runs[False]["evaluation"] == PUBLISHED_PROTOCOL
    assert runs[True]["figures"] == runs[False]["figures"]  # nothing of config.yaml's figures leaks in either


def test_config_yaml_evaluation_would_leak_into_a_preset_without_one(tmp_path):
    """The merge the test above guards against is real: a preset without `evaluation:` runs config.yaml's shrunk one."""
    preset = yaml.safe_load((REPO / "presets" / "ncae_mnist.yaml").read_text())
    del preset["evaluation"]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, preset)
    assert validate_config(config)["evaluation"] != PUBLISHED_PROTOCOL


TABLE_1_POINTS = {(0.2, 0.001), (0.1, 0.01), (0.05, 0.001), (0.01, 0.005)}  # (p, beta) of the report's Table 1


@pytest.mark.parametrize("name", ["part_based_ae_fashion_mnist", "part_based_ae_mnist"])
def test_part_based_ae_presets_run_table_1_as_the_authors_code(name):
    config = validate_config(yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text()))
    points = build_grid(config)
    ae = [p for p in points if p.family == "ae"]
    sparse = {(p.hyperparams["p"], p.hyperparams["beta"]) for p in ae if p.model.startswith("ae_sparse_nonneg")}
    assert sparse == TABLE_1_POINTS and len(ae) == 5
    for p in ae:  # Sparse_NonNeg_ShallowAE_KLsum_NonNegConstraint / ShallowAE, trained by ShallowAE.train
        cfg = p.config
        assert cfg["k"] == 100 and cfg["decoder_activation"] == "leaky_relu" and cfg["leaky_slope"] == 0.1
        assert cfg["encoder_activation"] == "sigmoid" and cfg["init"] == "glorot_uniform" and cfg["kl_form"] == "clip"
        assert (cfg["optimizer"], cfg["lr"], cfg["adadelta_rho"], cfg["adadelta_eps"]) == ("adadelta", 1.0, 0.95, 1e-7)
        assert (cfg["batch_size"], cfg["epochs"], cfg["early_stopping_patience"], cfg["early_stopping_min_delta"]) == (128, 500, 10, 1e-4)
        assert cfg["nonneg"] == ("none" if p.model == "ae_unconstrained" else "project")
        assert (cfg["beta"] == 0) == (p.model == "ae_unconstrained")
    (nmfsc,) = [p for p in points if p.family == "nmf_sc"]  # Hoyer's nmfsc on the 10,000 test images
    assert nmfsc.fit_split == "test" and nmfsc.config["sH"] == 0.6 and nmfsc.config["sW"] is None and nmfsc.config["k"] == 100
    assert all(p.fit_split == "train" for p in ae)


def test_the_two_part_based_ae_presets_differ_only_in_their_data():
    fashion, mnist = (yaml.safe_load((REPO / "presets" / f"{n}.yaml").read_text()) for n in ("part_based_ae_fashion_mnist", "part_based_ae_mnist"))
    assert fashion["models"] == mnist["models"] and fashion["evaluation"] == mnist["evaluation"]
    assert [d["source"] for d in fashion["datasets"]] == ["fashion_mnist"] and mnist["datasets"][0]["mirrors"] == ["../shared/data/mnist"]
    published = {(e["model"], tuple(sorted(e["point"].items()))) for e in fashion["published"]}
    assert len(published) == 6 and "published" not in mnist  # Table 1's six rows; nothing published on MNIST


def test_ncae_preset_follows_main_m():
    config = validate_config(yaml.safe_load((REPO / "presets" / "ncae_mnist.yaml").read_text()))
    points = build_grid(config)
    assert sorted(p.config["k"] for p in points) == [100, 196]
    for p in points:  # main.m + sparseAutoencoderCost_nonneg.m + initializeParameters_nonneg.m, minFunc defaults
        cfg = p.config
        assert (cfg["p"], cfg["beta"], cfg["nonneg"], cfg["alpha"], cfg["nonneg_lambda"], cfg["nonneg_encoder"]) == (0.05, 3.0, "asym_l2", 0.0, 1.5e-3, True)
        assert (cfg["optimizer"], cfg["epochs"], cfg["lbfgs_history"], cfg["lbfgs_opt_tol"], cfg["lbfgs_prog_tol"]) == ("lbfgs", 400, 100, 1e-5, 1e-9)
        assert (cfg["init"], cfg["loss_scale"], cfg["encoder_activation"], cfg["decoder_activation"]) == ("nonneg_uniform", "ncae", "sigmoid", "sigmoid")
