"""A user's own matrix through the whole workflow, and bad input stopping cleanly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import snakemake, write_config


def matrix_config(path: str) -> dict:
    return {
        "datasets": [{"name": "own", "source": "matrix", "path": path, "image_shape": [4, 5], "test_fraction": 0.25}],
        "models": [{"type": "pca", "grid": {"k": [3]}}],
        "figures": {"n_atoms": 3, "n_reconstructions": 2, "dpi": 30},
    }


def test_own_unlabelled_matrix_runs_without_label_metrics(tmp_path):
    data = np.random.default_rng(0).random((40, 20))
    np.savetxt(tmp_path / "expression.csv", data, delimiter=",")
    write_config(tmp_path, matrix_config("expression.csv"))
    snakemake(tmp_path, "--cores", "2")
    table = pd.read_csv(tmp_path / "results" / "metrics.csv")
    assert len(table) == 1 and table["status"].item() == "ok"
    assert np.isnan(table["svm_accuracy"].item())  # no labels: skipped, not faked
    assert 0 < table["recon_error"].item() < np.var(data)  # 3 components explain part of the variance


def test_negative_value_stops_with_the_file_named(tmp_path):
    data = np.random.default_rng(0).random((40, 20))
    data[7, 3] = -0.5
    np.savetxt(tmp_path / "bad.csv", data, delimiter=",")
    write_config(tmp_path, matrix_config("bad.csv"))
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results" / "logs" / "prepare_dataset" / "own.log").read_text()
    assert "bad.csv: negative value -0.5 at row 8 (line 8), column 4" in log  # counted from 1, as editors do
    assert not (tmp_path / "results" / "data" / "own.zarr").exists()  # nothing half-written left


def test_missing_user_file_fails_before_any_job(tmp_path):
    write_config(tmp_path, matrix_config("nowhere.csv"))
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0 and "nowhere.csv" in proc.stdout + proc.stderr
