"""The config's published values beside this run's (partbased.published): results/comparison.csv and its page.

input.table: results/metrics.csv; output.table: comparison.csv (one row per published value); output.page:
comparison.html (the same rows, sortable); params.published: the config's `published:` list. No torch.
"""

from pathlib import Path

from partbased.io import log_to, write_table
from partbased.plots.tables import read_table, write_metrics_html
from partbased.published import INTRO, compare


def main(table_path: str, published: list[dict], out_path: str, page_path: str, log_path: str) -> None:
    log = log_to(log_path)
    comparison = compare(read_table(table_path), published)
    write_table(comparison, out_path)
    write_metrics_html(comparison, page_path, title="Published values beside this run's", csv_name=Path(out_path).name, intro=INTRO)
    unmatched = comparison.loc[comparison["n_points"] == 0, ["model", "point"]].drop_duplicates()
    for row in unmatched.itertuples(index=False):
        log.warning("no finished grid point of %s matches the published point %s", row.model, row.point)
    log.info("%d published values compared", len(comparison))


main(
    snakemake.input.table,  # noqa: F821
    [dict(entry) for entry in snakemake.params.published],  # noqa: F821
    snakemake.output.table,  # noqa: F821
    snakemake.output.page,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
