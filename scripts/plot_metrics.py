"""Metric-vs-hyperparameter figure of one (dataset, model), read only from metrics.csv.

input.table: results/metrics.csv; output.figure: PNG; params.dataset, params.model,
params.hyperparams: the model's grid columns; params.figures: figure settings.
"""

import pandas as pd

from partbased.io import log_to
from partbased.plots import plot_metrics


def main(table_path: str, figure_path: str, dataset: str, model: str, hyperparams: list[str], figures: dict, log_path: str) -> None:
    log = log_to(log_path)
    table = pd.read_csv(table_path)
    rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
    if rows.empty:
        raise ValueError(f"no rows for dataset={dataset!r}, model={model!r} in {table_path}")
    plot_metrics(rows, hyperparams, figure_path, title=f"{model} on {dataset}", dpi=figures["dpi"])
    log.info("plotted %d rows against %s", len(rows), hyperparams)


main(
    snakemake.input.table,  # noqa: F821
    snakemake.output.figure,  # noqa: F821
    snakemake.wildcards.dataset,  # noqa: F821
    snakemake.wildcards.model,  # noqa: F821
    list(snakemake.params.hyperparams),  # noqa: F821
    dict(snakemake.params.figures),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
