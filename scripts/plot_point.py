"""Per-point figures: the atom grid, test images beside their reconstructions, the histograms of their
codes (report Fig. 5) and their max-approximation to dilation (report Fig. 7).

input.zarr, input.checkpoint; output.atoms, output.reconstructions, output.codes, output.dilation: PNGs;
params.figures: the figures section of the config (n_atoms, n_reconstructions, seed, dpi); the title
comes from the wildcards. The images shown are the same for every model of a dataset (pick_images).
"""

import numpy as np

from partbased.data import read_split
from partbased.io import log_to
from partbased.metrics.reconstruction import dilate
from partbased.models import load_model
from partbased.plots.images import (
    pick_images,
    plot_atoms,
    plot_code_histograms,
    plot_dilation,
    plot_if_diverged,
    plot_reconstructions,
    point_title,
)


def main(zarr_path: str, checkpoint_path: str, outputs: dict[str, str], title: str, figures: dict, log_path: str) -> None:
    log = log_to(log_path)
    dpi = figures["dpi"]
    test = read_split(zarr_path, "test")
    model = load_model(checkpoint_path)
    if plot_if_diverged(model, list(outputs.values()), title, dpi):  # not NaN images
        log.info("diverged point: %s", model.metadata["error"])
        return
    picks = pick_images(test.labels, figures["n_reconstructions"], figures["seed"], n_samples=len(test.x))
    labels = None if test.labels is None else test.labels[picks]
    log.info("test images shown: %s (labels %s)", picks.tolist(), None if labels is None else labels.tolist())
    x = test.x[picks]  # (n, pixels)
    codes = model.encode(x)  # (n, k)
    plot_atoms(model.atoms, test.image_shape, outputs["atoms"], title, n_atoms=figures["n_atoms"], dpi=dpi)
    plot_reconstructions(x, model.decode(codes), test.image_shape, outputs["reconstructions"], title, dpi=dpi)
    plot_code_histograms(x, codes, test.image_shape, outputs["codes"], title, dpi=dpi, labels=labels)
    h, w = test.image_shape
    atoms = np.asarray(model.atoms)
    # report Sec. 3.4: the same codes decoded with each atom dilated by disk(1), bias not dilated
    dilated_atoms = dilate(atoms.reshape(len(atoms), h, w)).reshape(len(atoms), h * w).astype(np.float32)
    x_dilated = dilate(x.reshape(len(x), h, w)).reshape(len(x), h * w)
    plot_dilation(x, x_dilated, model.decode(codes, atoms=dilated_atoms), test.image_shape, outputs["dilation"], title, dpi=dpi)
    log.info("wrote %s", ", ".join(outputs.values()))


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.input.checkpoint,  # noqa: F821
    {name: snakemake.output[name] for name in ("atoms", "reconstructions", "codes", "dilation")},  # noqa: F821
    point_title(snakemake.wildcards.dataset, snakemake.wildcards.model, snakemake.wildcards.params),  # noqa: F821
    dict(snakemake.params.figures),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
