"""Prepare one dataset: load its source, split train/test with a fixed seed (or keep the official
split), keep the n_train / n_test subset when asked, write the zarr store.

params.spec: the dataset's config entry less what preparing it ignores (prepare_params: an official split has no
test_fraction or seed); input.raw: downloaded files (remote sources only);
output.zarr: the store; log: the rule's log.
"""

from partbased.data import build_dataset, load_source, write_zarr
from partbased.io import log_to


def main(spec: dict, raw: str | None, zarr_path: str, log_path: str) -> None:
    log = log_to(log_path)
    images, labels, split = load_source(spec, raw)
    dataset = build_dataset(
        images, labels, test_fraction=spec.get("test_fraction"), seed=spec.get("seed"), attrs=spec, split=split,
        n_train=spec.get("n_train"), n_test=spec.get("n_test"),
    )
    write_zarr(dataset, zarr_path)
    train = dataset["split"].values == "train"
    log.info("wrote %s: %d train + %d test images of %s, labelled=%s", zarr_path, train.sum(), (~train).sum(), images.shape[1:], labels is not None)


main(dict(snakemake.params.spec), snakemake.input.get("raw"), snakemake.output.zarr, snakemake.log[0])  # noqa: F821
