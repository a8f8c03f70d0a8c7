"""Concatenate every grid point's metrics row into the one tidy table, results/metrics.csv.

input: one-row CSVs; output.table: metrics.csv with dataset, model, family, one column per
hyperparameter, seed, the metrics, train_seconds and status (ok | diverged).
"""

import pandas as pd

from partbased.io import log_to, write_table
from partbased.metrics import METRIC_KEYS, STRUCTURE_KEYS


def main(row_paths: list[str], table_path: str, log_path: str) -> None:
    log = log_to(log_path)
    table = pd.concat([pd.read_csv(p) for p in row_paths], ignore_index=True)
    identity = ["dataset", "model", "family"]
    tail = ["seed", *METRIC_KEYS, *STRUCTURE_KEYS, "train_seconds", "status"]
    hyperparams = [c for c in table.columns if c not in identity + tail]
    table = table[identity + hyperparams + tail].sort_values(identity + hyperparams + ["seed"], kind="stable")
    write_table(table, table_path)
    log.info("%d rows, hyperparameter columns %s", len(table), hyperparams)


main(list(snakemake.input.rows), snakemake.output.table, snakemake.log[0])  # noqa: F821
