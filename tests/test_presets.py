"""Every published experiment's preset validates and plans its jobs (a dry run; no download)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

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


def test_fashion_preset_uses_the_published_protocol():
    config = validate_config(yaml.safe_load((REPO / "presets" / "part_based_ae_fashion_mnist.yaml").read_text()))
    assert config["evaluation"]["svm"] == {
        "holdout": 0.2, "n_C": 30, "C_min_exp": -2, "C_max_exp": 3, "cv_splits": 20, "cv_test_size": 0.08,
        "eval_splits": 25, "eval_test_size": 0.05, "max_iter": 5000, "tol": 0.0001, "solver": "torch",
    }
    ae = {m.get("name"): m for m in config["models"]}["ae_sparse_nonneg"]
    assert ae["settings"]["k"] == 100 and ae["settings"]["batch_size"] == 128 and ae["settings"]["epochs"] == 100
