"""Cross-model figures of one dataset, from that dataset's rows only.

input.rows: the one-row metrics CSVs of every point on the dataset; output.tradeoff (reconstruction vs
sparseness, Pareto front), output.metrics (each research metric per model), output.seconds (training
time), output.table (models × metrics, like the report's Table 1): PNGs; params.models: every model
name in config order (a model keeps its colour across datasets); params.dpi.
Imports no torch: pandas, matplotlib and seaborn only.
"""

from partbased.io import log_to
from partbased.plots.comparison import plot_metric_table, plot_model_metrics, plot_tradeoff, plot_train_seconds
from partbased.plots.tables import read_rows


def main(row_paths: list[str], outputs: dict[str, str], dataset: str, models: list[str], dpi: int, log_path: str) -> None:
    log = log_to(log_path)
    rows = read_rows(row_paths)
    if set(rows["dataset"]) != {dataset}:
        raise ValueError(f"the comparison of {dataset} was given rows of {sorted(set(rows['dataset']))}")
    plot_tradeoff(rows, outputs["tradeoff"], dataset, dpi, models)
    plot_model_metrics(rows, outputs["metrics"], dataset, dpi, models)
    plot_train_seconds(rows, outputs["seconds"], dataset, dpi, models)
    plot_metric_table(rows, outputs["table"], dataset, dpi, models)
    log.info("plotted %d rows of %d models", len(rows), rows["model"].nunique())


main(
    list(snakemake.input.rows),  # noqa: F821
    {name: snakemake.output[name] for name in ("tradeoff", "metrics", "seconds", "table")},  # noqa: F821
    snakemake.wildcards.dataset,  # noqa: F821
    list(snakemake.params.models),  # noqa: F821
    snakemake.params.dpi,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
