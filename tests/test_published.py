"""Published values beside this run's: the config's `published:` check, results/comparison.csv and its page."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_CONFIG, planned_jobs, snakemake
from partbased.config import ConfigError, validate_config
from partbased.published import COLUMNS, compare, point_text
from test_workflow import edited_run


def published_config(values: dict) -> dict:
    """TINY_CONFIG with published values for its AE point beta = 0.1 on digits and its PCA point on bars."""
    config = copy.deepcopy(TINY_CONFIG)
    config["published"] = [
        {"dataset": "digits", "model": "ae", "point": {"beta": 0.1, "k": 8}, "metrics": values["ae"], "std": {"svm_accuracy": 0.02}, "source": "a paper, Table 1"},
        {"dataset": "bars", "model": "pca", "point": {}, "metrics": values["pca"], "source": "repo/results.csv"},
    ]  # fmt: skip
    return config


def test_comparison_rows_say_how_far_ours_is_from_theirs():
    table = pd.DataFrame({
        "dataset": ["digits", "digits", "digits"], "model": ["ae"] * 3, "beta": [0.0, 0.1, 0.1], "k": [8, 8, 8], "seed": [0, 0, 1],
        "recon_error": [0.5, 0.02, 0.04], "svm_accuracy": [0.1, 0.8, 0.9], "svm_accuracy_std": [0.1, 0.01, 0.03],
        "status": ["ok", "ok", "ok"],
    })  # fmt: skip
    published = [{"dataset": "digits", "model": "ae", "point": {"beta": 0.1}, "metrics": {"recon_error": 0.03, "svm_accuracy": 1.7},
                  "std": {"svm_accuracy": 0.05}, "source": "Table 1"}]  # fmt: skip
    out = compare(table, published)
    assert list(out.columns) == COLUMNS and list(out["metric"]) == ["recon_error", "svm_accuracy"]
    recon, svm = out.to_dict("records")
    assert recon["ours"] == pytest.approx(0.03) and recon["relative_deviation"] == pytest.approx(0.0, abs=1e-12)  # mean of both seeds
    assert recon["n_points"] == 2 and recon["point"] == "beta=0.1" and np.isnan(recon["theirs_std"])
    assert svm["ours"] == pytest.approx(0.85) and svm["relative_deviation"] == pytest.approx(0.85 / 1.7 - 1)  # a wrong value shows
    assert svm["ours_std"] == pytest.approx(0.02) and svm["theirs_std"] == 0.05


def test_a_point_that_did_not_train_leaves_ours_empty():
    table = pd.DataFrame({"dataset": ["d"], "model": ["m"], "p": [0.1], "recon_error": [0.2], "status": ["diverged"]})
    out = compare(table, [{"dataset": "d", "model": "m", "point": {"p": 0.1}, "metrics": {"recon_error": 0.2}, "source": "s"}])
    assert out["n_points"].item() == 0 and np.isnan(out["ours"].item())


def test_point_text_spells_values_as_paths_do():
    assert point_text({"p": 0.2, "beta": 0.001, "k": 100}) == "beta=0.001, k=100, p=0.2"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p[0].update(model="ae2"), "published[0].model: unknown model 'ae2'"),
        (lambda p: p[0].update(dataset="mnist"), "published[0].dataset: unknown dataset 'mnist'"),
        (lambda p: p[0]["point"].update(beta=0.3), "published[0].point.beta: 0.3 is not a value models[2] runs; it runs [0.0, 0.1]"),
        (lambda p: p[0]["point"].update(lam=0.3), "published[0].point.lam: not a parameter of models[2] (ae)"),
        (lambda p: p[1]["metrics"].update(accuracy=0.9), "published[1].metrics: 'accuracy' is not one of"),
        (lambda p: p[1].pop("source"), "published[1]: 'source' is a required property"),
    ],
)
def test_bad_published_entries_fail_with_their_key(mutate, message):
    config = published_config({"ae": {"recon_error": 0.01}, "pca": {"recon_error": 0.01}})
    mutate(config["published"])
    with pytest.raises(ConfigError, match=None) as error:
        validate_config(config)
    assert message in str(error.value)


def test_workflow_writes_the_comparison_of_a_config_with_published_values(tiny_run, tmp_path):
    """Adding `published:` to a finished run computes only the comparison; a published value equal to ours shows
    deviation 0, a wrong one (twice ours) shows -0.5, and the page lists every row."""
    metrics = pd.read_csv(tiny_run / "results" / "metrics.csv")
    ae = metrics[(metrics["dataset"] == "digits") & (metrics["model"] == "ae") & (metrics["beta"] == 0.1)].iloc[0]
    pca = metrics[(metrics["dataset"] == "bars") & (metrics["model"] == "pca")].iloc[0]
    values = {"ae": {"recon_error": float(ae["recon_error"]), "svm_accuracy": 2 * float(ae["svm_accuracy"])},
              "pca": {"recon_error": 2 * float(pca["recon_error"])}}  # fmt: skip
    assert planned_jobs(tiny_run) == {}  # the finished run without published values writes no comparison
    assert not (tiny_run / "results" / "comparison.csv").exists()
    workdir = edited_run(tiny_run, tmp_path, lambda c: c.update(published=published_config(values)["published"]))
    assert planned_jobs(workdir) == {"compare_published": 1, "all": 1}
    snakemake(workdir, "--cores", "1")
    out = pd.read_csv(workdir / "results" / "comparison.csv")
    assert list(out.columns) == COLUMNS and len(out) == 3
    by_metric = {(row.model, row.metric): row for row in out.itertuples()}
    assert by_metric[("ae", "recon_error")].relative_deviation == pytest.approx(0.0, abs=1e-9)
    assert by_metric[("ae", "svm_accuracy")].relative_deviation == pytest.approx(-0.5)
    assert by_metric[("ae", "svm_accuracy")].theirs_std == 0.02 and by_metric[("ae", "svm_accuracy")].ours_std == pytest.approx(ae["svm_accuracy_std"])
    assert by_metric[("pca", "recon_error")].relative_deviation == pytest.approx(-0.5) and set(out["n_points"]) == {1}
    page = (workdir / "results" / "comparison.html").read_text()
    assert page.count("<tr>") == 1 + 3 and "a paper, Table 1" in page and "relative_deviation" in page
    snakemake(workdir, "--report", "results/report.html")  # the comparison is a page of the report
    assert "Published vs this run" in (workdir / "results" / "report.html").read_text()
