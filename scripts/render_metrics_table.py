"""The metrics table as a readable, sortable HTML page for the report (beside the CSV).

input.table: results/metrics.csv; output.page: results/metrics.html (self-contained; identity, metrics, then
the settings: tables.reading_order). No torch.
"""

from pathlib import Path

from partbased.io import log_to
from partbased.plots.tables import read_table, reading_order, write_metrics_html


def main(table_path: str, page_path: str, log_path: str) -> None:
    log = log_to(log_path)
    table = read_table(table_path)
    write_metrics_html(table[reading_order(table.columns)], page_path, csv_name=Path(table_path).name)
    log.info("%d rows, %d columns", *table.shape)


main(snakemake.input.table, snakemake.output.page, snakemake.log[0])  # noqa: F821
