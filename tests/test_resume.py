"""Killed training resumes from its last state and ends where an uninterrupted run ends."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, SNAKEMAKE, write_config
from partbased.models import build_model
from partbased.models.resume import Resume, data_digest

AE_PARAMS = {"k": 8, "epochs": 40, "batch_size": 16, "lr": 0.01, "beta": 0.1, "nonneg": "project"}

TRAIN_UNTIL_KILLED = """
import sys, numpy as np, torch
from pathlib import Path
torch.set_num_threads(1)
from partbased.models import build_model
from partbased.models.resume import Resume
x = np.load(sys.argv[1]); family = sys.argv[2]; params = eval(sys.argv[3]); fingerprint = eval(sys.argv[4])
build_model(family, params).fit(x, resume=Resume(Path(sys.argv[5]), 1, fingerprint))
"""


def fingerprint(family: str, params: dict, x: np.ndarray) -> dict:
    model = build_model(family, params)
    return {"model": family, "config": dataclasses.asdict(model.config), "data": data_digest(x)}


def kill_midway(tmp_path: Path, x: np.ndarray, family: str, params: dict, min_step: int) -> Path:
    """Train in a subprocess, SIGKILL it once a resume state past `min_step` exists; the state's path."""
    np.save(tmp_path / "x.npy", x)
    state = tmp_path / "model.pt.resume"
    args = [sys.executable, "-c", TRAIN_UNTIL_KILLED, str(tmp_path / "x.npy"), family, repr(params), repr(fingerprint(family, params, x)), str(state)]
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if state.exists() and torch.load(state, weights_only=False)["state"]["step"] >= min_step:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "training finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return state


@pytest.mark.parametrize("family, params", [("ae", AE_PARAMS), ("nmf", {"k": 8, "max_iter": 4000})])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, digits, family, params):
    torch.set_num_threads(1)
    state = kill_midway(tmp_path, digits, family, params, min_step=3)
    saved_step = torch.load(state, weights_only=False)["state"]["step"]
    total = params.get("epochs", params.get("max_iter"))
    assert 3 <= saved_step < total

    resumed = build_model(family, params).fit(digits, resume=Resume(state, 1, fingerprint(family, params, digits)))
    straight = build_model(family, params).fit(digits)
    np.testing.assert_array_equal(resumed.atoms, straight.atoms)  # bit for bit
    assert resumed.history == straight.history


def test_state_of_another_config_is_never_reused(tmp_path, digits):
    torch.set_num_threads(1)
    state = kill_midway(tmp_path, digits, "ae", AE_PARAMS, min_step=3)
    edited = {**AE_PARAMS, "lr": 0.02}
    resumed = build_model("ae", edited).fit(digits, resume=Resume(state, 1, fingerprint("ae", edited, digits)))
    fresh = build_model("ae", edited).fit(digits)
    np.testing.assert_array_equal(resumed.atoms, fresh.atoms)
    assert len(resumed.history) == edited["epochs"]


def test_killed_workflow_job_resumes(tmp_path):
    config = {
        "datasets": [{"name": "digits", "source": "digits"}],
        "models": [{"type": "ae", "grid": {"k": [8]}, "settings": {"epochs": 400, "batch_size": 16, "lr": 0.01}}],
        "evaluation": {"svm": {"n_C": 2, "cv_splits": 2, "cv_test_size": 0.2, "eval_splits": 2, "eval_test_size": 0.3}},
    }
    write_config(tmp_path, config)

    cmd = [*SNAKEMAKE, "results/metrics.csv", "--cores", "1", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml")]
    every = ["--set-resources", "train_model:checkpoint_every=5"]  # takes several values: keep it last
    proc = subprocess.Popen([*cmd, *every], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    state = tmp_path / "results/models/digits/ae/k~8/seed~0/model.pt.resume"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not state.exists() and proc.poll() is None:
            time.sleep(0.1)
        assert state.exists(), "no resume state was written"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its job, as a crash would
        proc.wait()
    assert not (tmp_path / "results/models/digits/ae/k~8/seed~0/model.pt").exists()
    subprocess.run([*cmd, "--unlock"], cwd=tmp_path, check=True, capture_output=True)  # a crash leaves the lock
    done = subprocess.run([*cmd, "--rerun-incomplete", *every], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "results/logs/train_model/digits/ae/k~8/seed~0.log").read_text()
    assert "resuming from" in log
    assert not state.exists()  # cleared once the final checkpoint is written
