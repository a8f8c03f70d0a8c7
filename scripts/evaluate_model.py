"""Evaluate one trained grid point on the test split: one tidy metrics row.

input.zarr, input.checkpoint; output.metrics: one-row CSV (dataset, model, family,
hyperparameters, seed, metrics, train_seconds, status: ok | diverged); params.point: the point's identity;
params.evaluation: the evaluation section of the config.
"""

import pandas as pd
import torch

from partbased.data import read_split
from partbased.io import log_to, write_table
from partbased.metrics import METRIC_KEYS, STRUCTURE_KEYS, SVMProtocol, evaluate, structure_metrics
from partbased.models import load_model


def main(zarr_path: str, checkpoint_path: str, metrics_path: str, point: dict, evaluation: dict, threads: int, log_path: str) -> None:
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


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.input.checkpoint,  # noqa: F821
    snakemake.output.metrics,  # noqa: F821
    dict(snakemake.params.point),  # noqa: F821
    dict(snakemake.params.evaluation),  # noqa: F821
    snakemake.threads,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
