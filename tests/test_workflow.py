"""The whole workflow on a tiny config: contents of the metrics table, caching, bad config, lint."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TINY_CONFIG, planned_jobs, snakemake, write_config

N_POINTS = 2 * (1 + 1 + 2)  # datasets x (pca + nmf + 2 ae points)


def test_metrics_table_contents(tiny_run):
    table = pd.read_csv(tiny_run / "results" / "metrics.csv")
    assert len(table) == N_POINTS
    expected = ["dataset", "model", "family", "k", "beta", "seed", "recon_error", "hoyer_codes", "hoyer_atoms",
                "svm_accuracy", "svm_accuracy_std", "dilation_error", "dilation_error_recon", "bars_recovery", "pca_angle_max",
                "train_seconds", "status"]
    assert list(table.columns) == expected
    assert set(table["dataset"]) == {"digits", "bars"}
    assert table.groupby("dataset")["model"].value_counts().to_dict() == {
        (d, m): n for d in ("digits", "bars") for m, n in (("ae", 2), ("nmf", 1), ("pca", 1))
    }
    assert (table["recon_error"] > 0).all() and np.isfinite(table["recon_error"]).all()
    assert table[["hoyer_codes", "hoyer_atoms"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (table["train_seconds"] > 0).all()
    # bars are unlabelled: the SVM metric is skipped, not faked; digits codes classify well above chance
    bars, digits = table[table["dataset"] == "bars"], table[table["dataset"] == "digits"]
    assert bars["svm_accuracy"].isna().all()
    assert bars["bars_recovery"].between(0, 1).all() and digits["bars_recovery"].isna().all()
    # PCA spans its own subspace; an 8-atom NMF dictionary does not
    assert (table.loc[table["model"] == "pca", "pca_angle_max"] < 0.1).all()
    assert (table.loc[table["model"] == "nmf", "pca_angle_max"] > 1).all()
    assert (digits["svm_accuracy"] > 0.5).all()
    # PCA is the best rank-k (affine) reconstruction: no k=8 model beats it on the same data
    for _, rows in table.groupby("dataset"):
        assert rows.loc[rows["model"] == "pca", "recon_error"].item() <= rows["recon_error"].min() * 1.05
    assert (table[["dilation_error", "dilation_error_recon"]] >= 0).all().all()
    # the decoder projection keeps every AE atom nonnegative: the Hoyer of atoms is defined
    assert table.loc[table["model"] == "ae", "hoyer_atoms"].notna().all()


def test_outputs_of_every_point(tiny_run):
    results = tiny_run / "results"
    checkpoints = sorted(results.glob("models/*/*/**/model.pt"))
    assert len(checkpoints) == N_POINTS
    history = pd.read_csv(checkpoints[0].with_name("history.csv"))
    assert len(history) >= 1 and "loss" in history
    pngs = sorted(results.glob("figures/**/*.png"))
    assert len(pngs) == 2 * N_POINTS + 2 * 3  # atoms + reconstructions per point, one metrics plot per (dataset, model)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert pd.read_csv(results / "skipped.csv").empty


def test_second_run_schedules_nothing(tiny_run):
    assert planned_jobs(tiny_run) == {}


def test_editing_one_grid_value_reruns_only_its_points(tiny_run, tmp_path):
    workdir = tmp_path / "edit"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][2]["grid"]["beta"] = [0.0, 0.2]  # one AE value changed: one new point per dataset
    write_config(workdir, config)
    jobs = planned_jobs(workdir)
    assert jobs == {
        "train_model": 2,
        "evaluate_model": 2,
        "plot_point": 2,
        "aggregate_metrics": 1,
        "plot_metrics": 6,
        "all": 1,
    }


def test_report_is_self_contained(tiny_run):
    snakemake(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results" / "report.html").read_text()
    assert "metrics.csv" in html and "atoms.png" in html


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["models"].append({"type": "cnn", "grid": {"k": [4]}}), "models[3].type: 'cnn' is not one of ['pca', 'nmf', 'sparse_nmf', 'nmf_sc', 'ae', 'pae_nmf', 'nnsae']"),
        (lambda c: c["models"][2]["grid"].update(p=[1.5]), "models[2].grid.p[0]: 1.5 is greater than or equal to the maximum of 1"),
        (lambda c: c["models"][2]["grid"].update(p=[0]), "models[2].grid.p[0]: 0 is less than or equal to the minimum of 0"),
        (lambda c: c["models"][2]["grid"].update(beta=[-0.1]), "models[2].grid.beta[0]: -0.1 is less than the minimum of 0"),
        (lambda c: c["models"][2]["settings"].update(beta=-1), "models[2].settings.beta: -1 is less than the minimum of 0"),
        (lambda c: c["models"][1]["settings"].update(epochs=3), "models[1].settings: Additional properties are not allowed ('epochs' was unexpected)"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, mutate, message):
    config = copy.deepcopy(TINY_CONFIG)
    mutate(config)
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr
