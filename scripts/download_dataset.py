"""Download a remote dataset's files once, verified by sha256 (mirrors tried in order).

params.spec: what the download depends on (download_params: the source); the dataset's `mirrors` are read
from the config, not given as a param: where the files come from is not what they are, so editing the mirrors
reruns nothing. output.raw: the folder of verified files.
"""

from partbased.data import download_source
from partbased.io import log_to


def main(spec: dict, mirrors: list[str] | None, raw: str, log_path: str) -> None:
    log = log_to(log_path)
    download_source({**spec, "mirrors": mirrors}, raw)
    log.info("verified %s files in %s", spec["source"], raw)


main(
    dict(snakemake.params.spec),  # noqa: F821
    {d["name"]: d.get("mirrors") for d in snakemake.config["datasets"]}[snakemake.wildcards.dataset],  # noqa: F821
    snakemake.output.raw,  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
