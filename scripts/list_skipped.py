"""Write down the grid points skipped as incompatible, with the reason (may be empty).

params.skipped: list of {dataset, model, params, reason}; output.table: CSV.
"""

import pandas as pd

from partbased.io import log_to, write_table


def main(skipped: list[dict], table_path: str, log_path: str) -> None:
    log = log_to(log_path)
    table = pd.DataFrame(skipped, columns=["dataset", "model", "params", "reason"])
    write_table(table, table_path)
    log.info("%d skipped points", len(table))


main(list(snakemake.params.skipped), snakemake.output.table, snakemake.log[0])  # noqa: F821
