"""The whole workflow on a tiny config: contents of the metrics table, caching, bad config, lint, formatting."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, TINY_CONFIG, planned_jobs, snakemake, write_config
from partbased.claims import CLAIMS, COLUMNS, FAIL, NA, PASS
from partbased.metrics import METRIC_KEYS, STRUCTURE_KEYS
from partbased.models import MODELS

N_POINTS = 2 * (1 + 1 + 2)  # datasets x (pca + nmf + 2 ae points)
# what editing one AE grid value (one point per dataset) reruns
ONE_AE_POINT_PER_DATASET = {
    "train_model": 2,
    "evaluate_model": 2,  # each also draws its point's own figures
    "aggregate_metrics": 1,
    "check_claims": 1,
    "render_metrics_table": 1,
    "plot_metrics": 2,  # the AE's figure of each dataset; PCA's and NMF's rows did not change
    "plot_comparison": 2,
    "all": 1,
}


def edited_run(tiny_run, tmp_path, edit) -> "Path":
    """A copy of the finished tiny run whose config `edit` changed."""
    workdir = tmp_path / "edit"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    edit(config)
    write_config(workdir, config)
    return workdir


def test_metrics_table_contents(tiny_run):
    table = pd.read_csv(tiny_run / "results" / "metrics.csv")
    assert len(table) == N_POINTS
    # every effective parameter of every family in the run is a column (not only the grid's k and beta), sorted
    fields = {f.name for family in ("pca", "nmf", "ae") for f in dataclasses.fields(MODELS[family].config_class)}
    params = sorted(fields - {"seed", "device"} | {"fit_split"})  # and the split each point was fitted on
    expected = ["dataset", "model", "family", *params, "seed", *METRIC_KEYS, *STRUCTURE_KEYS, "epochs_run", "train_seconds", "status"]
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
    # every SVM fit of the protocol converged (a fraction; none are computed on unlabelled bars)
    assert (digits["svm_converged"] == 1.0).all() and bars["svm_converged"].isna().all()
    assert (table["atoms_rank"] <= table["k"]).all() and (table["atoms_rank"] >= 1).all()
    # PCA is the best rank-k (affine) reconstruction: no k=8 model beats it on the same data
    for _, rows in table.groupby("dataset"):
        assert rows.loc[rows["model"] == "pca", "recon_error"].item() <= rows["recon_error"].min() * 1.05
    assert (table[["dilation_error", "dilation_error_recon"]] >= 0).all().all()
    # the decoder projection keeps every AE atom nonnegative: the Hoyer of atoms is defined
    assert table.loc[table["model"] == "ae", "hoyer_atoms"].notna().all()
    assert (table.loc[table["family"].isin(["ae", "nmf"]), "atoms_min"] >= 0).all() and (table.loc[table["model"] == "pca", "atoms_min"] < 0).all()
    assert bars["pixel_atoms"].between(0, 1).all() and digits["pixel_atoms"].isna().all()
    assert table["latent_kl"].isna().all()  # no PAE-NMF point: no latent distributions
    # the settings say what was run, defaults included; families without a parameter leave it empty
    ae, nmf = table[table["model"] == "ae"], table[table["model"] == "nmf"]
    assert (ae["epochs"] == 10).all() and (ae["nonneg"] == "project").all() and (ae["penalty"] == "kl").all()
    assert (nmf["max_iter"] == 50).all() and nmf["epochs"].isna().all() and table.loc[table["model"] == "pca", "max_iter"].isna().all()
    assert (table["fit_split"] == "train").all()
    assert (ae["epochs_run"] == 10).all() and nmf["epochs_run"].isna().all()  # the AE reports the epochs it ran


def test_claims_checked(tiny_run):
    """Each claim of the seeds is PASS or FAIL where the tiny grid can test it, n/a (never PASS) where it cannot."""
    claims = pd.read_csv(tiny_run / "results" / "claims.csv", keep_default_na=False)
    assert list(claims.columns) == list(COLUMNS) and list(dict.fromkeys(claims["claim"])) == [c.id for c in CLAIMS]
    assert set(claims["status"]) <= {PASS, FAIL, NA} and (claims["evidence"] != "").all()
    applies = {claim: set(rows["dataset"]) for claim, rows in claims[claims["status"] != NA].groupby("claim")}
    # PCA, NMF and AE points at k = 8 on both datasets; NMF on the 4x4 bars with k = 8 = the number of bars
    assert applies == {"nmf_atoms_sparser_than_pca": {"digits", "bars"}, "nmf_recovers_bars": {"bars"}, "ae_trained_like_pca": {"digits", "bars"}}
    # no sparse NMF, two β values, no nonneg none twin, no linear encoder, no PAE-NMF: nothing to test these with
    na = claims[claims["status"] == NA]
    assert set(na["claim"]) == {c.id for c in CLAIMS} - set(applies) and (na["dataset"] == "").all()
    # NMF's nonnegative atoms are sparser than PCA's signed, holistic ones, also in 50 iterations
    assert set(claims.loc[claims["claim"] == "nmf_atoms_sparser_than_pca", "status"]) == {PASS}
    page = (tiny_run / "results" / "claims.html").read_text()
    assert "Claims checked" in page and page.count('class="status ') == len(claims)


def test_integers_stay_integers(tiny_run):
    text = pd.read_csv(tiny_run / "results" / "metrics.csv", dtype=str, keep_default_na=False)
    assert set(text["k"]) == {"8"} and set(text["seed"]) == {"0"}
    assert set(text["batch_size"]) == {"32", ""} and set(text["max_iter"]) == {"50", ""}  # empty for other families
    assert set(text["beta"]) == {"0.0", "0.1", ""}  # floats stay floats, 0 included


def test_outputs_of_every_point(tiny_run):
    results = tiny_run / "results"
    checkpoints = sorted(results.glob("models/*/*/**/model.pt"))
    assert len(checkpoints) == N_POINTS
    history = pd.read_csv(checkpoints[0].with_name("history.csv"))
    assert len(history) >= 1 and "loss" in history
    pngs = sorted(results.glob("figures/**/*.png"))
    # atoms, reconstructions, codes, dilation per point; a metrics plot per (dataset, model) whose grid varies
    # (the AE's); four comparison figures per dataset; the penalties figure (the config has an AE)
    assert len(pngs) == 4 * N_POINTS + 2 + 2 * 4 + 1
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_second_run_schedules_nothing(tiny_run):
    assert planned_jobs(tiny_run) == {}


def test_editing_one_grid_value_reruns_only_its_points(tiny_run, tmp_path):
    workdir = edited_run(tiny_run, tmp_path, lambda c: c["models"][2]["grid"].update(beta=[0.0, 0.2]))  # one new point per dataset
    assert planned_jobs(workdir) == ONE_AE_POINT_PER_DATASET


def test_adding_a_value_to_a_list_reruns_only_its_points(tiny_run, tmp_path):
    # the float list gains a value between the two: the old points keep their paths (beta~0.0, beta~0.1)
    workdir = edited_run(tiny_run, tmp_path, lambda c: c["models"][2]["grid"].update(beta=[0, 0.05, 0.1]))
    assert planned_jobs(workdir) == ONE_AE_POINT_PER_DATASET


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["models"][2].update(grid={"beta": [0.0, 0.1], "k": [8]}),  # grid keys reordered
        lambda c: c["models"][2]["settings"].update(optimizer="adam", penalty="kl"),  # defaults written out
        lambda c: c["datasets"][0].update(mirrors=["https://example.org/digits/"]),  # where from, for a bundled source
        lambda c: c.update(evaluation=dict(reversed(list(c["evaluation"].items())))),  # keys in another order
    ],
    ids=["grid keys reordered", "defaults written out", "mirrors added", "evaluation keys reordered"],
)
def test_edits_that_compute_nothing_new_rerun_nothing(tiny_run, tmp_path, edit):
    assert planned_jobs(edited_run(tiny_run, tmp_path, edit)) == {}


def test_the_device_is_not_a_parameter(tiny_run, tmp_path):
    workdir = edited_run(tiny_run, tmp_path, lambda c: None)
    assert planned_jobs(workdir, "--set-resources", "train_model:device=cpu") == {}
    # the resource reaches the training: one checkpoint retrained (forced) on the device asked for
    checkpoint = "results/models/bars/nmf/k~8/seed~0/model.pt"
    snakemake(workdir, "--cores", "1", "--set-resources", "train_model:device=cpu", "--force", checkpoint)
    assert torch.load(workdir / checkpoint, weights_only=True)["metadata"]["device"] == "cpu"  # where it ran, recorded by the model


def test_report_is_self_contained(tiny_run):
    snakemake(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results" / "report.html").read_text()
    assert "metrics.csv" in html and "atoms.png" in html and "claims.html" in html and "Claims checked" in html


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["models"].append({"type": "cnn", "grid": {"k": [4]}}), "models[3].type: 'cnn' is not one of ['pca', 'nmf', 'sparse_nmf', 'nmf_sc', 'ae', 'pae_nmf', 'nnsae']"),
        (lambda c: c["models"][2]["grid"].update(p=[1.5]), "models[2].grid.p[0]: penalty 'kl' needs p in (0, 1)"),
        (lambda c: c["models"][2]["settings"].update(batch_size=5000), "models[2].settings.batch_size on dataset 'digits': 5000 is larger than the training split (1257 images)"),
        (lambda c: c["models"][2]["grid"].update(project=[False, True]), "models[2].grid.project: `project` was replaced by `nonneg`"),
        (lambda c: c["datasets"].append({"name": "own", "source": "matrix", "path": "data/mine.csv"}), "datasets[2].path: file not found: data/mine.csv"),
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


def test_workflow_files_are_snakefmt_formatted():
    pytest.importorskip("snakefmt", reason="snakefmt is in the test extras: pip install -e '.[test]'")
    files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", *map(str, files)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
