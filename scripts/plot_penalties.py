"""The AE sparsity penalties as functions (report Figs. 2-3), one workflow-level figure.

output.figure: PNG; params.dpi.
"""

from partbased.io import log_to
from partbased.plots.penalties import plot_penalties


def main(figure_path: str, dpi: int, log_path: str) -> None:
    log = log_to(log_path)
    plot_penalties(figure_path, dpi=dpi)
    log.info("wrote %s", figure_path)


main(snakemake.output.figure, snakemake.params.dpi, snakemake.log[0])  # noqa: F821
