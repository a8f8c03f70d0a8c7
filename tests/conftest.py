"""Helpers to run the workflow on a tiny config in a temporary directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.datasets import load_digits

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY_CONFIG = {
    "datasets": [
        {"name": "digits", "source": "digits", "test_fraction": 0.3, "seed": 0},
        {"name": "bars", "source": "bars", "size": 4, "n_samples": 200, "seed": 1},
    ],
    "models": [
        {"type": "pca", "grid": {"k": [8]}},
        {"type": "nmf", "grid": {"k": [8]}, "settings": {"max_iter": 50, "encode_iter": 50}},
        {
            "type": "ae",
            "grid": {"k": [8], "beta": [0.0, 0.1]},
            "settings": {"epochs": 10, "batch_size": 32, "lr": 0.02, "nonneg": "project", "decoder_activation": "linear"},
        },
    ],
    "evaluation": {
        "seed": 0,
        "svm": {"n_C": 3, "cv_splits": 2, "cv_test_size": 0.2, "eval_splits": 3, "eval_test_size": 0.3},
    },
    "figures": {"n_atoms": 8, "n_reconstructions": 4, "dpi": 40},
}


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny matmuls: one thread is much faster than two on a shared 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """scikit-learn's 8×8 digits in [0, 1], (1797, 64) float32."""
    return (load_digits().data / 16).astype(np.float32)


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run this repository's Snakefile in `workdir` with `workdir/config.yaml`."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run (with `args`) schedules ({} when there is nothing to do)."""
    proc = snakemake(workdir, "-n", "--cores", "1", *args)
    text = proc.stdout + proc.stderr
    counts = {}
    table = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow, run once on the tiny config."""
    workdir = tmp_path_factory.mktemp("tiny")
    write_config(workdir, TINY_CONFIG)
    snakemake(workdir, "--cores", "2")
    return workdir
