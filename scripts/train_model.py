"""Train one grid point on its fit split and save its checkpoint and training history (partbased.run.run_point).

input.zarr: dataset store; output.checkpoint / output.history: model.pt and history.csv (the latter also
written at every resume state); params.point: {family, hyperparams (grid values, seed included),
settings (every other parameter), fit_split ("train", or "test": nmfsc as the part-based AE study ran it)};
resources.checkpoint_every: epochs/iterations between resume states (output.checkpoint + ".resume");
resources.device (optional, default auto): where torch families train; not a parameter, so changing it
reruns nothing. A point whose fit watches held-out data (the AE's early stopping) also reads the test split,
as Ponchon's ShallowAE.train(X_val=x_test) did.
"""

import torch

from partbased.constraints import size_problems, validation_needed
from partbased.data import read_split
from partbased.io import log_to
from partbased.run import run_point


def main(
    zarr_path: str, checkpoint_path: str, history_path: str, family: str, hyperparams: dict, settings: dict,
    fit_split: str, threads: int, checkpoint_every: int, device: str, log_path: str,
) -> None:
    log_to(log_path)
    torch.set_num_threads(threads)  # the cores Snakemake gave this job, no more
    fit = read_split(zarr_path, fit_split)
    params = {**settings, **hyperparams}
    # sizes the config check could not know before the data (the user's own files)
    problems = size_problems(family, params, n_train=fit.x.shape[0], pixels=fit.x.shape[1])
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    x_val = read_split(zarr_path, "test").x if validation_needed(family, params) else None
    run_point(
        family, params, fit.x, checkpoint_path, history_path, device=device, checkpoint_every=checkpoint_every,
        metadata={"image_shape": list(fit.image_shape), "fit_split": fit_split}, x_val=x_val,
    )


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.output.checkpoint,  # noqa: F821
    snakemake.output.history,  # noqa: F821
    snakemake.params.point["family"],  # noqa: F821
    dict(snakemake.params.point["hyperparams"]),  # noqa: F821
    dict(snakemake.params.point["settings"]),  # noqa: F821
    snakemake.params.point["fit_split"],  # noqa: F821
    snakemake.threads,  # noqa: F821
    snakemake.resources.checkpoint_every,  # noqa: F821
    snakemake.resources.get("device", "auto"),  # noqa: F821  (set with --set-resources train_model:device=cpu)
    snakemake.log[0],  # noqa: F821
)
