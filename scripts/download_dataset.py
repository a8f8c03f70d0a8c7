"""Download a remote dataset's files once, verified by sha256 (mirrors tried in order).

params.spec: the dataset's config entry; output.raw: the folder of verified files.
"""

from partbased.data import download_source
from partbased.io import log_to


def main(spec: dict, raw: str, log_path: str) -> None:
    log = log_to(log_path)
    download_source(spec, raw)
    log.info("verified %s files in %s", spec["source"], raw)


main(dict(snakemake.params.spec), snakemake.output.raw, snakemake.log[0])  # noqa: F821
