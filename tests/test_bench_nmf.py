"""The NMF benchmarks run at a toy size and print what their docstrings say; what can be checked
without timing is checked: equal losses against scikit-learn, and nmf_sc's trajectory equal to the
former implementation's (the ratios are not asserted: at this size they are noise, even negative)."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], capture_output=True, text=True, check=True)
    return proc.stdout


def test_bench_nmf_prints_its_three_results():
    out = run("bench_nmf.py", "--data", "random", "--n", "600", "--k", "5", "--repeats", "1", "--iters", "2", "4",
              "--hals-iters", "2", "4", "--mu-reference", "60", "--threads", "1")
    for name, target in (("bench_nmf", "1"), ("bench_nmf_hals", "2"), ("bench_nmf_hals_vs_mu", "5")):
        assert re.search(rf"^RESULT {name} ratio=-?\d+\.\d\d target={target} ok=(True|False)$", out, re.M), out
    rels = [float(m) for m in re.findall(r"ours - sklearn = ([-+0-9.e]+) relative", out)]
    assert len(rels) == 2 and all(abs(r) <= 1e-3 for r in rels), out  # same iterates as scikit-learn's mu and cd
    assert re.search(r"hals needs \d+ iterations", out), out


def test_bench_nmf_sc_trajectory_equals_the_former_implementation():
    out = run("bench_nmf_sc.py", "--n", "500", "--k", "5", "--iters", "2", "5", "--repeats", "1", "--threads", "1")
    assert re.search(r"^RESULT bench_nmf_sc seconds=-?\d+\.\d{3} target=0\.35 ok=(True|False)$", out, re.M), out
    assert re.search(r"^RESULT bench_nmf_sc_vs_reference ratio=-?\d+\.\d target=none ok=True$", out, re.M), out
    assert "step sizes identical" in out
