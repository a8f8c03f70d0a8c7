"""DAG build time (`snakemake -n`) of this workflow on a 10,000-point grid vs trivial Snakefiles.

Dry runs, each in its own temporary directory, `--repeats` rounds of one run each:

  ours          this repository's Snakefile (`--directory`), a config whose grid has N points
                (one `bars` dataset, one `ae` entry: 100 values of k x N/100 values of beta), i.e.
                N x (train_model, evaluate_model, which draws the point's figures too) + 8 other jobs = 2N + 8 jobs;
  ours, no per-point figures   the same grid with `figures: {per_point: false}` (the setting for
                large grids): the same 2N + 8 jobs, fewer outputs;
  trivial       one rule, N jobs (`touch out/{i}.txt`) plus `all`;
  trivial-2N    the same job graph shape as ours without any helper code: one input rule, two
                chained per-point rules (the second with two outputs, as evaluate_model draws the
                figures) with the same nested `k~../beta~../seed~0` paths and an aggregate rule,
                2N + 4 jobs: what Snakemake itself costs for our number of jobs.

The ratios use CPU seconds of the snakemake process (user + sys; wall is printed too). The host's
speed drifts over minutes, so a ratio is taken within each round, between runs that follow each other
(ours and trivial-2N are neighbours; every other round runs in reverse order, so neither side always
goes first), and the median over rounds is reported.
RESULT bench_dag: ours / trivial-2N, i.e. against the same number of trivial jobs (target <= 1.5).
RESULT bench_dag_per_point: ours / trivial, i.e. per grid point, no target: a point is two jobs by
design (training and evaluation with figures are cached apart, so that editing an evaluation or figure
setting never retrains). `--profile` writes cProfile stats of our dry run and lists the top functions
by cumulative time, those of rules/*.smk and partbased/ first. `--attribute` adds a run of ours with
Snakemake's per-job check of `script:` files (dag.ScriptProcessor) switched off in that one process,
a measurement only: how much of the ratio that check is (it resolves and reads the script through
the source cache for every job, and smart_open builds a namedtuple class for each of its three URI
parses).

    python benchmarks/bench_dag.py [--points 10000] [--repeats 3] [--profile] [--attribute]

Note: with slurm-client installed and a slurm.conf whose slurmctld is down, every snakemake call
takes ~10 s longer (the slurm executor plugin runs `scontrol show config` on load): stop/start
SLURM consistently, or compare within one run as this script does.
"""

from __future__ import annotations

import argparse
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# snakemake with dag.ScriptProcessor.process_job a no-op (only for --attribute; never for a real run)
SNAKEMAKE_WITHOUT_SCRIPT_CHECK = [
    sys.executable,
    "-c",
    (
        "import runpy, sys; import snakemake.api; import snakemake.dag as dag; "
        "dag.ScriptProcessor.process_job = lambda self, job: None; "
        "sys.argv[0] = 'snakemake'; runpy.run_module('snakemake', run_name='__main__')"
    ),
]

TRIVIAL = """\
rule all:
    input: expand("out/{{i}}.txt", i=range({n}))

rule make:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""

TRIVIAL_2N = """\
KS, BETAS = range(1, {n_k} + 1), [round(0.01 * i, 2) for i in range({n_beta})]
POINTS = [f"k~{{k}}/beta~{{b}}/seed~0" for k in KS for b in BETAS]

wildcard_constraints:
    params=r"[^/~]+~[^/]+(/[^/~]+~[^/]+)*",

rule all:
    input:
        "results/metrics.csv", "results/figures/metrics.png",
        expand("results/figures/{{params}}/atoms.png", params=POINTS),

rule prepare:
    output: "results/data.txt"
    shell: "touch {{output}}"

rule train:
    input: "results/data.txt"
    output: "results/models/{{params}}/model.pt"
    shell: "touch {{output}}"

rule evaluate:
    input: "results/data.txt", "results/models/{{params}}/model.pt"
    output: "results/metrics/{{params}}/metrics.csv", "results/figures/{{params}}/atoms.png"
    shell: "touch {{output}}"

rule aggregate:
    input: expand("results/metrics/{{params}}/metrics.csv", params=POINTS)
    output: "results/metrics.csv"
    shell: "touch {{output}}"

rule plot_metrics:
    input: "results/metrics.csv"
    output: "results/figures/metrics.png"
    shell: "touch {{output}}"
"""


def grid_config(points: int, per_point_figures: bool = True) -> dict:
    n_k = 100
    n_beta = points // n_k
    assert n_k * n_beta == points, "--points must be a multiple of 100"
    return {
        "figures": {"per_point": per_point_figures},
        "datasets": [{"name": "bars", "source": "bars", "size": 4, "n_samples": 200, "seed": 0}],
        "models": [
            {
                "type": "ae",
                "grid": {"k": list(range(1, n_k + 1)), "beta": [round(0.01 * i, 2) for i in range(n_beta)]},
                "settings": {"epochs": 1},
            }
        ],
    }


def dry_run(args: list[str], cwd: Path, prefix: list[str] | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s of the child, jobs planned) of one `snakemake -n`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([*(prefix or SNAKEMAKE), *args, "-n", "--quiet", "all", "--cores", "1"], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    total = next((int(line.split()[1]) for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("total")), -1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the ratios are medians over rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile our dry run and list the hot spots")
    parser.add_argument("--attribute", action="store_true", help="also time ours without Snakemake's per-job script check")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_dag_") as tmp:
        tmp = Path(tmp)
        ours, lean, triv, triv2 = tmp / "ours", tmp / "lean", tmp / "trivial", tmp / "trivial2n"
        for d in (ours, lean, triv, triv2):
            d.mkdir()
        (ours / "config.yaml").write_text(yaml.safe_dump(grid_config(args.points), sort_keys=False))
        (lean / "config.yaml").write_text(yaml.safe_dump(grid_config(args.points, per_point_figures=False), sort_keys=False))
        (triv / "Snakefile").write_text(TRIVIAL.format(n=args.points))
        (triv2 / "Snakefile").write_text(TRIVIAL_2N.format(n_k=100, n_beta=args.points // 100))
        def workflow(d: Path, snakemake: list[str] = SNAKEMAKE) -> tuple[list[str], Path, list[str]]:
            return ["-s", str(REPO / "Snakefile"), "--directory", str(d), "--configfile", str(d / "config.yaml")], d, snakemake

        def trivial(d: Path) -> tuple[list[str], Path, list[str]]:
            return ["-s", str(d / "Snakefile"), "--directory", str(d)], d, SNAKEMAKE

        # in run order: each ratio's two sides are neighbours
        runs = {
            "ours": workflow(ours),
            "trivial-2N": trivial(triv2),
            **({"ours, no script check": workflow(ours, SNAKEMAKE_WITHOUT_SCRIPT_CHECK)} if args.attribute else {}),
            "ours, no per-point figures": workflow(lean),
            "trivial": trivial(triv),
        }
        results = {name: [] for name in runs}
        for round_ in range(args.repeats):
            for name in list(runs) if round_ % 2 == 0 else reversed(runs):
                cmd, cwd, prefix = runs[name]
                results[name].append(dry_run(cmd, cwd, prefix))

        def ratio_of(a: str, b: str) -> tuple[float, list[float]]:
            per_round = [ra[1] / rb[1] for ra, rb in zip(results[a], results[b])]
            return statistics.median(per_round), per_round

        print(f"snakemake -n, grid of {args.points} points ({args.repeats} rounds, medians)")
        for name, runs_of in results.items():
            wall, cpu = (statistics.median(r[i] for r in runs_of) for i in (0, 1))
            jobs = runs_of[0][2]
            print(f"  {name:26s} {jobs:6d} jobs  wall {wall:6.1f} s  CPU {cpu:6.1f} s  ({cpu / max(jobs, 1) * 1e3:.2f} ms CPU/job)")
        ratio2, rounds2 = ratio_of("ours", "trivial-2N")
        ratio, _ = ratio_of("ours", "trivial")
        lean_ratio, _ = ratio_of("ours, no per-point figures", "trivial")
        print(f"  ours / trivial-2N (same job count and shape): {ratio2:.2f}; per round: {' '.join(f'{r:.2f}' for r in rounds2)}")
        print(f"  per grid point, ours / trivial: {ratio:.2f}; without per-point figures: {lean_ratio:.2f}")
        if args.attribute:
            unchecked, rounds_unchecked = ratio_of("ours, no script check", "trivial-2N")
            print(
                f"  ours without Snakemake's per-job script check / trivial-2N: {unchecked:.2f}; per round: "
                f"{' '.join(f'{r:.2f}' for r in rounds_unchecked)} (the check: {ratio2 - unchecked:.2f} of {ratio2:.2f})"
            )

        if args.profile:
            out = tmp / "ours.prof"
            cmd, cwd, _ = runs["ours"]
            dry_run(cmd, cwd, prefix=[sys.executable, "-m", "cProfile", "-o", str(out), "-m", "snakemake"])
            stats = pstats.Stats(str(out))
            stats.sort_stats("cumulative")
            print("\n-- cProfile of ours, functions of rules/ and partbased/ by cumulative time --")
            stats.print_stats(r"rules/|partbased/|Snakefile", 15)
            print("-- snakemake internals by own time --")
            stats.sort_stats("tottime").print_stats(15)

        print(f"RESULT bench_dag_per_point ratio={ratio:.2f} target=none")
        print(f"RESULT bench_dag ratio={ratio2:.2f} target=1.5 ok={ratio2 <= 1.5}")


if __name__ == "__main__":
    main()
