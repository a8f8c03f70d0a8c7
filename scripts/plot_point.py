"""Per-point figures: the atom grid, and test images beside their reconstructions.

input.zarr, input.checkpoint; output.atoms, output.reconstructions: PNGs; params.figures: the figures
section of the config; the title comes from the wildcards.
"""

from partbased.data import read_split
from partbased.io import log_to
from partbased.models import load_model
from partbased.plots import plot_atoms, plot_if_diverged, plot_reconstructions, point_title


def main(zarr_path: str, checkpoint_path: str, atoms_path: str, recon_path: str, title: str, figures: dict, log_path: str) -> None:
    log = log_to(log_path)
    test = read_split(zarr_path, "test")
    model = load_model(checkpoint_path)
    if plot_if_diverged(model, [atoms_path, recon_path], title, figures["dpi"]):  # not NaN images
        log.info("diverged point: %s", model.metadata["error"])
        return
    plot_atoms(model.atoms, test.image_shape, atoms_path, title, n_atoms=figures["n_atoms"], dpi=figures["dpi"])
    x = test.x[: figures["n_reconstructions"]]
    plot_reconstructions(x, model.decode(model.encode(x)), test.image_shape, recon_path, title, dpi=figures["dpi"])
    log.info("wrote %s and %s", atoms_path, recon_path)


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.input.checkpoint,  # noqa: F821
    snakemake.output.atoms,  # noqa: F821
    snakemake.output.reconstructions,  # noqa: F821
    point_title(snakemake.wildcards.dataset, snakemake.wildcards.model, snakemake.wildcards.params),  # noqa: F821
    dict(snakemake.params.figures),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
