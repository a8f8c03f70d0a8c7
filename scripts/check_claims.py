"""Check the seeds' claims on this run's metrics table: results/claims.csv and its report page.

input.table: results/metrics.csv; output.claims: claims.csv (claim, dataset, status PASS | FAIL | n/a, evidence,
source); output.page: claims.html (self-contained); params.bars_sizes: {bars dataset: size}. No torch.
"""

from partbased.claims import check_claims, claims_html
from partbased.io import log_to, write_bytes, write_table
from partbased.plots.tables import read_table


def main(table_path: str, claims_path: str, page_path: str, bars_sizes: dict, log_path: str) -> None:
    log = log_to(log_path)
    result = check_claims(read_table(table_path), bars_sizes=bars_sizes)
    write_table(result, claims_path)
    write_bytes(claims_html(result).encode("utf-8"), page_path)
    log.info("claims: %s", result["status"].value_counts().to_dict())
    for row in result.itertuples(index=False):
        log.info("%s %s %s: %s", row.status, row.claim, row.dataset, row.evidence)


main(
    snakemake.input.table,  # noqa: F821
    snakemake.output.claims,  # noqa: F821
    snakemake.output.page,  # noqa: F821
    dict(snakemake.params.bars_sizes),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
