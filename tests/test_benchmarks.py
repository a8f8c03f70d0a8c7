"""The benchmark scripts run and measure what their docstrings say (their ratios are not asserted:
speed targets live in the benchmarks, not in timed tests)."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_dag_plans_the_documented_job_graphs():
    # 100 points: 2N + 8 jobs for ours (check_claims among the 8) (also with the script check off, and without per-point figures:
    # evaluate_model draws them), N + 1 trivial jobs, 2N + 4 for the trivial graph of our shape.
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_dag.py"), "--points", "100", "--repeats", "1", "--attribute"],
        capture_output=True,
        text=True,
        check=True,
    )
    jobs = {m["name"].strip(): int(m["jobs"]) for m in re.finditer(r"^  (?P<name>[a-z][A-Za-z0-9, -]+?)\s+(?P<jobs>\d+) jobs", proc.stdout, re.M)}
    assert jobs == {
        "ours": 208,
        "ours, no per-point figures": 208,
        "trivial": 101,
        "trivial-2N": 204,
        "ours, no script check": 208,
    }, proc.stdout
    assert re.search(r"^RESULT bench_dag ratio=\d+\.\d\d target=1\.5 ok=(True|False)$", proc.stdout, re.M), proc.stdout
    assert "the check: " in proc.stdout


def test_bench_svm_quick_runs_both_solvers():
    # A smoke run of the published protocol's benchmark: a shrunk protocol on 2,000 codes.
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_svm.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    out = proc.stdout
    assert re.search(r"torch \(cpu, 1 threads\)\s+\d+\.\d\d s\s+C=\S+\s+accuracy 0\.\d{4}", out), out
    assert re.search(r"liblinear \(scikit-learn\)\s+\d+\.\d\d s", out), out
    assert "same C: True" in out, out  # the same splits and the same problem
    for line in re.findall(r"above ours by (\S+) … (\S+)", out):  # liblinear's objective is never below the optimum
        assert float(line[0]) > -1e-8, out
    assert re.search(r"^RESULT bench_svm ratio=\d+\.\d target=20 ok=(True|False)$", out, re.M), out


def test_bench_ae_reports_every_share_and_the_lbfgs_ratio():
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_ae.py"), "--n", "3000", "--rounds", "3", "--slice", "2",
         "--repeats", "1", "--lbfgs-rounds", "2", "--threads", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = re.findall(r"^RESULT (\w+) ratio=\d+\.\d\d target=[\d.]+ ok=(?:True|False)$", proc.stdout, re.M)
    assert names == ["bench_ae_adam_share", "bench_ae_adadelta_share", "bench_ae_lbfgs", "bench_ae_peak", "bench_ae"], proc.stdout
    assert re.search(r"(\d\.\d\d) evaluations per iteration", proc.stdout), proc.stdout
