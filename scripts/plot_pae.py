"""PAE-NMF figures of one grid point (seed pae-nmf-weibull-vae, Fig. 5–7).

input.zarr, input.checkpoint (the point's PAE-NMF), optional input.no_kl (the same point trained with
kl_weight = 0); output.latent (latent distributions of one test sample, with and without KL when no_kl
is given), output.pairs (a similar pair vs a dissimilar sample), output.generated (test originals, the
first of the images the point's other figures show, above samples from the prior): PNGs, titled from
the wildcards; params.figures: the figures section of the config (dpi, n_latent_dims, n_generated, seed).
"""

from partbased.data import read_split
from partbased.io import log_to
from partbased.models import load_model
from partbased.plots.images import pick_images, plot_if_diverged, point_title
from partbased.plots.pae import choose_pairs, plot_generated, plot_latent_distributions, plot_pair_distributions


def main(
    zarr_path: str,
    checkpoint_path: str,
    no_kl_path: str | None,
    latent_path: str,
    pairs_path: str,
    generated_path: str,
    title: str,
    figures: dict,
    log_path: str,
) -> None:
    log = log_to(log_path)
    dpi = figures["dpi"]
    n_dims, n_generated, seed = figures["n_latent_dims"], figures["n_generated"], figures["seed"]
    test = read_split(zarr_path, "test")
    model = load_model(checkpoint_path)
    if plot_if_diverged(model, [latent_path, pairs_path, generated_path], title, dpi):  # not NaN densities
        log.info("diverged point: %s", model.metadata["error"])
        return
    ia, ib, ic = choose_pairs(test.x, test.labels, seed=seed)
    log.info("test samples: a=%d, b=%d (similar), c=%d (dissimilar)", ia, ib, ic)
    models = {"with KL" if model.config.kl_weight > 0 else f"kl_weight={model.config.kl_weight:g}": model}
    latent_title = title
    if no_kl_path:
        no_kl = load_model(no_kl_path)
        if no_kl.diverged:
            log.warning("no-KL model diverged (%s); latent plot shows the KL model only", no_kl.metadata["error"])
            latent_title += "\n(no-KL model diverged)"
        else:
            models["without KL"] = no_kl
    x = test.x[ia : ia + 1]
    plot_latent_distributions(models, x, latent_path, latent_title, dpi=dpi, n_dims=n_dims, image_shape=test.image_shape)
    plot_pair_distributions(
        model, test.x[ia : ia + 1], test.x[ib : ib + 1], test.x[ic : ic + 1], pairs_path, title,
        dpi=dpi, n_dims=n_dims, image_shape=test.image_shape,
    )
    originals = test.x[pick_images(test.labels, n_generated, seed, n_samples=len(test.x))]  # a prefix of plot_point's picks
    plot_generated(model, originals, test.image_shape, generated_path, title, dpi=dpi, n=n_generated, seed=seed)
    log.info("wrote %s, %s and %s", latent_path, pairs_path, generated_path)


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.input.checkpoint,  # noqa: F821
    snakemake.input.get("no_kl"),  # noqa: F821  (absent: the latent plot shows the single model)
    snakemake.output.latent,  # noqa: F821
    snakemake.output.pairs,  # noqa: F821
    snakemake.output.generated,  # noqa: F821
    point_title(snakemake.wildcards.dataset, snakemake.wildcards.model, snakemake.wildcards.params),  # noqa: F821
    dict(snakemake.params.figures),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
