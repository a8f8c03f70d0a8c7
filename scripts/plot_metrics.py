"""Metric-vs-hyperparameter figure of one (dataset, model), from that model's rows only.

input.rows: the model's one-row metrics CSVs (so editing another point redraws nothing here);
output.figure: PNG; params.hyperparams: the model's grid columns; params.dpi.
Imports no torch: pandas, matplotlib and seaborn only.
"""

from partbased.io import log_to
from partbased.plots.hyperparams import plot_metrics
from partbased.plots.tables import read_rows


def main(row_paths: list[str], figure_path: str, dataset: str, model: str, hyperparams: list[str], dpi: int, log_path: str) -> None:
    log = log_to(log_path)
    rows = read_rows(row_paths)
    wrong = rows[(rows["dataset"] != dataset) | (rows["model"] != model)]
    if not wrong.empty:
        raise ValueError(f"rows of other points given to the figure of {model} on {dataset}: {wrong[['dataset', 'model']].drop_duplicates().values.tolist()}")
    plot_metrics(rows, hyperparams, figure_path, title=f"{model} on {dataset}", dpi=dpi)
    log.info("plotted %d rows against %s", len(rows), hyperparams)


main(
    list(snakemake.input.rows),  # noqa: F821
    snakemake.output.figure,  # noqa: F821
    snakemake.wildcards.dataset,  # noqa: F821
    snakemake.wildcards.model,  # noqa: F821
    list(snakemake.params.hyperparams),  # noqa: F821
    snakemake.params.dpi,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
