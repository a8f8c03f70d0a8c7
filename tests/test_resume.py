"""Killed training resumes from its last state and ends where an uninterrupted run ends."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, SNAKEMAKE, write_config
from partbased.io import CorruptFileError
from partbased.models import build_model, load_model
from partbased.models.checkpoint import load_payload, save_payload
from partbased.models.resume import Resume
from partbased.run import attempts_log_path, run_point
from partbased.run import fingerprint as run_fingerprint

AE_PARAMS = {"k": 8, "epochs": 40, "batch_size": 16, "lr": 0.01, "beta": 0.1, "nonneg": "project"}

TRAIN_UNTIL_KILLED = """
import logging, sys, numpy as np, torch
from pathlib import Path
torch.set_num_threads(1)
logging.basicConfig(filename=sys.argv[6], level=logging.INFO)
from partbased.run import run_point
x = np.load(sys.argv[1]); family = sys.argv[2]; params = eval(sys.argv[3])
run_point(family, params, x, sys.argv[4], sys.argv[5], device="cpu", checkpoint_every=1)
"""


def fingerprint(family: str, params: dict, x: np.ndarray) -> dict:
    return run_fingerprint(build_model(family, params), x)


def saved_state(path: Path) -> dict:
    """The payload of a resume state; {} while it is being replaced."""
    try:
        return load_payload(path, "resume state")
    except (FileNotFoundError, CorruptFileError):
        return {}


def kill_midway(tmp_path: Path, x: np.ndarray, family: str, params: dict, min_step: int) -> Path:
    """run_point in a subprocess (model.pt, history.csv in tmp_path), SIGKILLed once a resume state past
    `min_step` exists; the state's path."""
    np.save(tmp_path / "x.npy", x)
    state = tmp_path / "model.pt.resume"
    args = [sys.executable, "-c", TRAIN_UNTIL_KILLED, str(tmp_path / "x.npy"), family, repr(params), str(tmp_path / "model.pt"), str(tmp_path / "history.csv"),
            str(tmp_path / "job.log")]  # fmt: skip
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if saved_state(state).get("state", {}).get("step", 0) >= min_step:
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
    saved_step = saved_state(state)["state"]["step"]
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


def test_resumed_fit_counts_all_its_seconds_and_keeps_the_first_attempts_log(tmp_path, digits, caplog):
    torch.set_num_threads(1)
    state = kill_midway(tmp_path, digits, "ae", AE_PARAMS, min_step=5)
    saved = saved_state(state)
    step, before = saved["state"]["step"], saved["elapsed_s"]
    assert before > 0
    rows = len(pd.read_csv(tmp_path / "history.csv"))  # written at every resume state, while training
    assert step - 1 <= rows <= step  # (the kill may fall between the state and its CSV)
    first_attempt = attempts_log_path(tmp_path / "model.pt").read_text()
    assert "training ae" in first_attempt and "progress: epoch" in first_attempt

    caplog.set_level(logging.INFO, logger="partbased")
    start = time.perf_counter()
    model = run_point("ae", AE_PARAMS, digits, tmp_path / "model.pt", tmp_path / "history.csv", device="cpu", checkpoint_every=1)
    this_attempt = time.perf_counter() - start
    assert model.metadata["resumed_from_step"] == step
    assert before < model.metadata["train_seconds"] <= before + this_attempt  # both attempts, the resumed one in full
    assert load_model(tmp_path / "model.pt").metadata["train_seconds"] == model.metadata["train_seconds"]
    assert "earlier unfinished attempt(s)" in caplog.text and first_attempt.strip().splitlines()[0] in caplog.text
    assert "resuming from" in caplog.text
    assert not state.exists() and not attempts_log_path(tmp_path / "model.pt").exists()
    assert len(pd.read_csv(tmp_path / "history.csv")) == AE_PARAMS["epochs"]


def test_training_logs_progress_lines(tmp_path, digits, caplog):
    caplog.set_level(logging.INFO, logger="partbased")
    params = {**AE_PARAMS, "epochs": 4}
    run_point("ae", params, digits, tmp_path / "a.pt", tmp_path / "a.csv", device="cpu", progress_every_s=0)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert [line.split()[2] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert all(all(part in line for part in ("loss=", "recon=", "sparsity=", "elapsed 0:", "ETA ")) for line in lines)
    caplog.clear()
    run_point("nmf", {"k": 4, "max_iter": 30}, digits, tmp_path / "b.pt", tmp_path / "b.csv", device="cpu")  # every 5 s
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert lines[0].startswith("progress: iteration 1/30") and lines[-1].startswith("progress: iteration 30/30")


class RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("damage", ["code", "flipped byte"])
def test_unusable_resume_state_is_ignored(tmp_path, digits, damage):
    params = {"k": 4, "max_iter": 20}
    fp, state, marker = fingerprint("nmf", params, digits), tmp_path / "model.pt.resume", tmp_path / "code-ran"
    if damage == "code":
        torch.save({"fingerprint": fp, "state": {"step": 10, "h": RunsCode(marker)}}, state)
    else:
        save_payload({"fingerprint": fp, "state": {"step": 10, "h": torch.ones(len(digits), 4), "w": torch.ones(4, 64), "history": []}}, state)
        data = bytearray(state.read_bytes())
        data[len(data) // 2] ^= 0xFF
        state.write_bytes(bytes(data))
    resumed = build_model("nmf", params).fit(digits, resume=Resume(state, 0, fp))
    assert not marker.exists()
    np.testing.assert_array_equal(resumed.atoms, build_model("nmf", params).fit(digits).atoms)  # from scratch


def test_state_saved_on_one_device_resumes_on_another(digits):
    on_gpu, on_cpu = build_model("ae", {**AE_PARAMS, "device": "cuda"}), build_model("ae", {**AE_PARAMS, "device": "cpu"})
    assert run_fingerprint(on_gpu, digits) == run_fingerprint(on_cpu, digits)
    assert run_fingerprint(on_cpu, digits) != run_fingerprint(build_model("ae", {**AE_PARAMS, "lr": 0.5}), digits)


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
    killed_at = saved_state(state)
    subprocess.run([*cmd, "--unlock"], cwd=tmp_path, check=True, capture_output=True)  # a crash leaves the lock
    done = subprocess.run([*cmd, "--rerun-incomplete", *every], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "results/logs/train_model/digits/ae/k~8/seed~0.log").read_text()
    assert "resuming from" in log
    assert "earlier unfinished attempt(s)" in log and log.count("training ae") == 2  # the killed attempt's record too
    assert "progress: epoch 1/400" in log and "progress: epoch 400/400" in log and "ETA" in log
    assert not state.exists()  # cleared once the final checkpoint is written
    row = pd.read_csv(tmp_path / "results/metrics/digits/ae/k~8/seed~0/metrics.csv").iloc[0]
    assert row["train_seconds"] > killed_at["elapsed_s"]  # the whole fit, not only the resumed part
