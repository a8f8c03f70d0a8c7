"""Concatenate every grid point's metrics row into the one tidy table, results/metrics.csv.

input: one-row CSVs; output.table: metrics.csv with dataset, model, family, one column per parameter (every
effective setting of every family, sorted by name: a family without it leaves the cell empty), seed, the
metrics, epochs_run (epochs or iterations the fit ran, where the family reports them: the AE), train_seconds and
status (ok | diverged). Integers stay integers: `k` prints 16, not 16.0, also where other families leave the column
empty.
"""

import pandas as pd

from partbased.io import log_to, write_table
from partbased.metrics import METRIC_KEYS, STRUCTURE_KEYS


def concat_rows(rows: list[pd.DataFrame]) -> pd.DataFrame:
    """One table of the rows; a column of integers in every row that has it becomes nullable Int64 (not float)."""
    table = pd.concat(rows, ignore_index=True)
    for column in table.columns:
        # an empty cell (a diverged point's metric, a family without the column) says nothing of the type
        dtypes = [row[column].dtype for row in rows if column in row and row[column].notna().any()]
        if dtypes and all(pd.api.types.is_integer_dtype(dtype) for dtype in dtypes) and table[column].dtype != "int64":
            table[column] = table[column].astype("Int64")  # missing in some rows: <NA>, written as an empty cell
    return table


def by_text(column: pd.Series) -> pd.Series:
    """Sort key: object columns may mix types across families (a string here, empty there): sorted by their text."""
    return column.map(str) if column.dtype == object else column


def main(row_paths: list[str], table_path: str, log_path: str) -> None:
    log = log_to(log_path)
    table = concat_rows([pd.read_csv(p) for p in row_paths])
    identity = ["dataset", "model", "family"]
    tail = ["seed", *METRIC_KEYS, *STRUCTURE_KEYS, "epochs_run", "train_seconds", "status"]
    params = sorted(c for c in table.columns if c not in identity + tail)
    table = table[identity + params + [c for c in tail if c in table]]
    table = table.sort_values(identity + params + ["seed"], kind="stable", key=by_text).reset_index(drop=True)
    write_table(table, table_path)
    log.info("%d rows, parameter columns %s", len(table), params)


main(list(snakemake.input.rows), snakemake.output.table, snakemake.log[0])  # noqa: F821
