"""Reruns after edits, determinism, diverging grid points and atomic outputs."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY_CONFIG, planned_jobs, snakemake, write_config
from partbased.io import write_table
from partbased.models import build_model, load_model

DIVERGING = {  # an extreme learning rate: the loss overflows in the first epoch
    "type": "ae",
    "name": "ae_diverging",
    "datasets": ["bars"],
    "grid": {"k": [4]},
    "settings": {"epochs": 3, "lr": 1e20, "decoder_activation": "linear"},
}


def edited_copy(tiny_run, tmp_path, edit) -> dict[str, int]:
    """Jobs a dry run schedules after `edit` of the config of a finished run."""
    workdir = tmp_path / "edited"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    edit(config)
    write_config(workdir, config)
    return planned_jobs(workdir)


def test_figure_setting_reruns_only_figures(tiny_run, tmp_path):
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["figures"].update(dpi=50))
    assert jobs == {"plot_point": 8, "plot_metrics": 2, "plot_comparison": 2, "plot_penalties": 1, "all": 1}


def test_per_point_figures_off_drops_them_and_redraws_nothing(tiny_run, tmp_path):
    """figures.per_point: false (large grids) leaves the per-point figures out of the targets; the
    finished run then has nothing left to do, and a fresh one plans no plot_point job."""
    assert edited_copy(tiny_run, tmp_path, lambda c: c["figures"].update(per_point=False)) == {}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    config = copy.deepcopy(TINY_CONFIG)
    config["figures"]["per_point"] = False
    write_config(fresh, config)
    jobs = planned_jobs(fresh)
    assert "plot_point" not in jobs and jobs["train_model"] == jobs["evaluate_model"] == 8 and jobs["plot_metrics"] == 2


def test_model_wide_setting_reruns_only_that_model(tiny_run, tmp_path):
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["models"][2]["settings"].update(epochs=11))
    ae_points = 2 * 2  # datasets x beta values
    assert jobs == {
        "train_model": ae_points,
        "evaluate_model": ae_points,
        "plot_point": ae_points,
        "aggregate_metrics": 1,
        "render_metrics_table": 1,
        "plot_metrics": 2,
        "plot_comparison": 2,
        "all": 1,
    }


def test_evaluation_setting_reruns_evaluation_not_training(tiny_run, tmp_path):
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["evaluation"]["svm"].update(n_C=4))
    assert jobs == {
        "evaluate_model": 8, "aggregate_metrics": 1, "render_metrics_table": 1, "plot_metrics": 2, "plot_comparison": 2, "all": 1
    }


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """The tiny config plus one diverging point, run in another fresh directory."""
    workdir = tmp_path_factory.mktemp("second")
    config = copy.deepcopy(TINY_CONFIG)
    config["models"].append(DIVERGING)
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_same_config_and_seed_give_identical_metrics(tiny_run, second_run):
    first = pd.read_csv(tiny_run / "results" / "metrics.csv")
    second = pd.read_csv(second_run / "results" / "metrics.csv")
    second = second[second["model"] != "ae_diverging"]
    columns = [c for c in first.columns if c != "train_seconds"]  # wall-clock time is the one thing that may differ
    pd.testing.assert_frame_equal(first[columns].reset_index(drop=True), second[columns].reset_index(drop=True), check_exact=True)


def test_diverging_point_is_recorded_not_fatal(tiny_run, second_run):
    table = pd.read_csv(second_run / "results" / "metrics.csv")
    bad = table[table["model"] == "ae_diverging"]
    assert len(bad) == 1 and bad["status"].item() == "diverged"
    assert bad[["recon_error", "hoyer_codes", "dilation_error"]].isna().all().all()
    others = table[table["model"] != "ae_diverging"]
    assert len(others) == 8 and (others["status"] == "ok").all() and others["recon_error"].notna().all()
    checkpoint = next((second_run / "results" / "models" / "bars" / "ae_diverging").glob("**/model.pt"))
    model = load_model(checkpoint)
    assert model.diverged and "epoch 0" in model.metadata["error"]
    assert len(model.history) < DIVERGING["settings"]["epochs"]  # stopped early
    figure = second_run / "results" / "figures" / "bars" / "all-models" / "metrics.png"  # a one-point grid: no figure of its own
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model = build_model("pca", {"k": 2}).fit(np.random.default_rng(0).random((20, 9), dtype=np.float32))
    target = tmp_path / "model.pt"

    def half_write(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"partial")
        raise OSError("killed mid-write")

    monkeypatch.setattr(torch, "save", half_write)
    with pytest.raises(OSError, match="killed"):
        model.save(target)
    assert not target.exists()


def test_table_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    target.write_text("old,complete\n1,2\n")

    def fail(self, path, **kwargs):
        open(path, "w").write("dataset,mo")
        raise OSError("killed mid-write")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError):
        write_table(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "old,complete\n1,2\n"  # the old complete table, not a torn one
    assert list(tmp_path.iterdir()) == [target]
