"""The tiny workflow submitted to a real one-node SLURM cluster through profiles/slurm.

tests/slurm/setup_slurm.sh installs SLURM from Debian packages when missing (only as root with
apt-get; otherwise these tests skip with the reason), configures one node with a fake GPU (gres
gpu:1 on /dev/null), starts munged/slurmctld/slurmd and waits until the node is idle; the
session fixture's finalizer runs tests/slurm/teardown_slurm.sh. Set PARTBASED_SKIP_SLURM=1 to skip.

What the jobs were (state, work dir, GPUs) is read from records the cluster writes as each job
ends (slurmctld's job completion log, the node's epilog), never from `scontrol show job`:
slurmctld forgets a job MinJobAge (300 s) after it ends, sooner than a slow suite asks.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE, TINY_CONFIG, snakemake, write_config
from partbased.config import validate_config
from partbased.grid import build_grid

SLURM_DIR = REPO / "tests" / "slurm"
PROFILE = REPO / "profiles" / "slurm"
TARGETS = ["results/metrics.csv"]  # every train and evaluate job; figures are not compared
RUN_TIMEOUT_S = 1200  # a status loop that never ends must fail the test, not hang CI
SKIP_EXIT = 3  # setup_slurm.sh: SLURM not installed and not installable here


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster (state dir); stopped and unconfigured again at session end."""
    if os.environ.get("PARTBASED_SKIP_SLURM") == "1":
        pytest.skip("SLURM tests disabled: PARTBASED_SKIP_SLURM=1")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip("SLURM not usable: snakemake-executor-plugin-slurm is not installed in this environment")
    state = tmp_path_factory.mktemp("slurm")
    try:
        proc = subprocess.run(["bash", str(SLURM_DIR / "setup_slurm.sh"), str(state)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        subprocess.run(["bash", str(SLURM_DIR / "teardown_slurm.sh"), str(state)], capture_output=True)
        pytest.fail("setup_slurm.sh ran for more than 900 s")
    if proc.returncode == SKIP_EXIT:
        lines = proc.stderr.strip().splitlines()
        pytest.skip(lines[-1] if lines else "SLURM not installed")
    try:
        if proc.returncode != 0:
            pytest.fail(f"setup_slurm.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        yield state
    finally:
        subprocess.run(["bash", str(SLURM_DIR / "teardown_slurm.sh"), str(state)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def slurm_run(slurm_cluster, tmp_path_factory):
    """The tiny config run through `--profile profiles/slurm`: (workdir, snakemake's log text, the jobs' records)."""
    workdir = tmp_path_factory.mktemp("tiny_slurm")
    write_config(workdir, TINY_CONFIG)
    cmd = [
        *SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--profile", str(PROFILE),
        "--slurm-init-seconds-before-status-checks", "1",  # the profile's 40 s suits a real queue, not a test
        *TARGETS,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"snakemake --profile profiles/slurm ran for more than {RUN_TIMEOUT_S} s:\n{err.stdout}\n{err.stderr}")
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        slurm_logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in slurm_logs[-3:])
        pytest.fail(f"snakemake on SLURM failed ({proc.returncode}):\n{log[-6000:]}\n{tails}")
    return workdir, log, finished_jobs(slurm_cluster)


def submitted_jobs(log: str) -> dict[int, list[str]]:
    """SLURM job id -> the rules it ran, from the executor's 'submitted with SLURM jobid' lines.

    A rule job ran its rule; a group job (where a profile groups jobs) ran the rules its own SLURM
    log lists, as the snakemake inside the allocation prints them.
    """
    jobs = {}
    for match in re.finditer(r"submitted with SLURM jobid (\d+) \(log: (\S*/slurm_logs/(rule|group)_(\w+)/\S*\.log)\)", log):
        job_id, path, kind, name = int(match.group(1)), Path(match.group(2)), match.group(3), match.group(4)
        jobs[job_id] = [name] if kind == "rule" else re.findall(r"^rule (\w+):$", path.read_text(), re.M)
    return jobs


def planned_per_rule(workdir: Path, *targets: str) -> dict[str, int]:
    """Jobs per rule a dry run plans for `targets` (conftest.planned_jobs, restricted to targets)."""
    text = snakemake(workdir, "-n", "--cores", "1", *targets).stdout
    table = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M) if m.group(1) != "total"}


def finished_jobs(state: Path) -> dict[int, dict[str, str]]:
    """SLURM job id -> its record: JobState, WorkDir, ... (jobcomp.log) and Gpus (jobs.log, empty for none)."""
    records: dict[int, dict[str, str]] = {}
    for name in ("jobcomp.log", "jobs.log"):
        path = state / name
        for line in path.read_text().splitlines() if path.exists() else []:
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            records.setdefault(int(fields["JobId"]), {}).update(fields)
    return records


def test_every_job_ran_as_a_slurm_job(slurm_run):
    workdir, log, records = slurm_run
    jobs = submitted_jobs(log)
    ran = [rule for rules in jobs.values() for rule in rules]
    per_rule = {rule: ran.count(rule) for rule in set(ran)}
    # the jobs a local run of the same targets plans (fresh directory, nothing done yet)
    fresh = workdir.parent / (workdir.name + "_plan")
    fresh.mkdir()
    write_config(fresh, TINY_CONFIG)
    expected = planned_per_rule(fresh, *TARGETS)
    assert per_rule == expected, f"rules run in SLURM jobs {per_rule} != planned {expected}"
    # one rule per SLURM job: no training shares its allocation (and GPU) with the CPU-only evaluation
    assert all(len(rules) == 1 for rules in jobs.values()), jobs
    # each has its SLURM log named by its job id, and the cluster recorded it as COMPLETED here
    logs = {int(p.stem) for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(jobs) <= logs, f"no SLURM log for jobs {sorted(set(jobs) - logs)}"
    assert set(jobs) <= set(records), f"no record of jobs {sorted(set(jobs) - set(records))}"
    for job_id in jobs:
        assert records[job_id]["JobState"] == "COMPLETED", (job_id, records[job_id])
        assert records[job_id]["WorkDir"] == str(workdir)
    assert planned_per_rule(workdir, *TARGETS) == {}, "the SLURM run left jobs to do"


def test_training_jobs_asked_for_the_gpu(slurm_run):
    """The rule's `gpu` resource becomes --gpus=1 for torch families; PCA and the other rules get none."""
    _, log, records = slurm_run
    jobs = submitted_jobs(log)
    with_gpu = {job_id for job_id in jobs if records[job_id]["Gpus"]}
    assert all(records[job_id]["Gpus"] == "0" for job_id in with_gpu)  # the node's one GPU, index 0
    assert {rule for job_id in with_gpu for rule in jobs[job_id]} == {"train_model"}
    points = build_grid(validate_config(copy.deepcopy(TINY_CONFIG)))
    assert len(with_gpu) == sum(p.family != "pca" for p in points)  # PCA trains on the CPU


def test_metrics_equal_a_local_run(slurm_run, tiny_run):
    workdir, _, _ = slurm_run
    on_slurm = pd.read_csv(workdir / "results" / "metrics.csv")
    local = pd.read_csv(tiny_run / "results" / "metrics.csv")
    key = list(local.columns[: list(local.columns).index("recon_error")])  # dataset, model, family, hyperparameters, seed
    on_slurm, local = (frame.sort_values(key).reset_index(drop=True) for frame in (on_slurm, local))
    assert list(on_slurm.columns) == list(local.columns)
    assert len(on_slurm) == len(local) == 8
    differing = []
    for column in local.columns:
        if column == "train_seconds":
            continue
        a, b = on_slurm[column], local[column]
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
            same = np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-6, atol=1e-9, equal_nan=True)
        else:
            same = a.astype(str).equals(b.astype(str))
        if not same:
            differing.append(column)
    assert not differing, f"columns differing between the SLURM and the local run: {differing}\n{on_slurm}\n{local}"
