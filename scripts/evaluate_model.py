"""Evaluate one trained grid point on the test split: one tidy metrics row, and (figures.per_point) the
point's own figures, drawn in the same job so that torch and the data are loaded once per point.

input.zarr, input.checkpoint; output.metrics: one-row CSV (dataset, model, family,
hyperparameters, seed, metrics, train_seconds, status: ok | diverged); output.atoms,
output.reconstructions, output.codes, output.dilation (only with figures.per_point): PNGs
(partbased.plots.images.plot_point_figures), titled from the wildcards; params.point: the point's
identity; params.evaluation: the evaluation section of the config; params.figures: the figures section.
"""

import pandas as pd
import torch

from partbased.data import read_split
from partbased.io import log_to, write_table
from partbased.metrics import METRIC_KEYS, STRUCTURE_KEYS, SVMProtocol, evaluate, structure_metrics
from partbased.models import load_model


def main(
    zarr_path: str, checkpoint_path: str, metrics_path: str, figure_paths: dict[str, str], wildcards: tuple[str, str, str],
    point: dict, evaluation: dict, figures: dict, threads: int, log_path: str,
) -> None:
    log = log_to(log_path)
    torch.set_num_threads(threads)
    test = read_split(zarr_path, "test")
    model = load_model(checkpoint_path)
    if model.diverged:  # no metrics of a diverged model: NaN, with the status saying why
        metrics = dict.fromkeys(METRIC_KEYS + STRUCTURE_KEYS, float("nan"))
    else:
        # a model fitted on these very test images is evaluated on the codes its fit found (nmfsc's H), where it has them
        codes = model.fitted_codes if point["fit_split"] == "test" else None
        metrics = evaluate(
            model, test.x, test.labels, test.image_shape, SVMProtocol(**evaluation["svm"]), seed=evaluation["seed"], codes=codes
        )
        bars_size = test.spec["size"] if test.spec["source"] == "bars" else None
        metrics |= structure_metrics(model, read_split(zarr_path, "train").x, bars_size)
    row = {
        **point, **metrics, "epochs_run": model.metadata.get("epochs_run"), "train_seconds": model.metadata["train_seconds"],
        "status": model.metadata["status"],
    }  # fmt: skip
    write_table(pd.DataFrame([row]), metrics_path)
    log.info("metrics: %s", row)
    if figure_paths:
        from partbased.plots.images import plot_point_figures, point_title  # matplotlib only when figures are drawn

        plot_point_figures(model, test, figure_paths, point_title(*wildcards), figures, log)


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.input.checkpoint,  # noqa: F821
    snakemake.output.metrics,  # noqa: F821
    {name: path for name, path in snakemake.output.items() if name != "metrics"},  # the figures, with figures.per_point  # noqa: F821
    (snakemake.wildcards.dataset, snakemake.wildcards.model, snakemake.wildcards.params),  # noqa: F821
    dict(snakemake.params.point),  # noqa: F821
    dict(snakemake.params.evaluation),  # noqa: F821
    dict(snakemake.params.figures),  # noqa: F821
    snakemake.threads,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
