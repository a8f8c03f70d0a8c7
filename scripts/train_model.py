"""Train one grid point on the train split and save its checkpoint and training history (partbased.run.run_point).

input.zarr: dataset store; output.checkpoint / output.history: model.pt and history.csv (the latter also
written at every resume state); params.point: {family, hyperparams (grid values, seed included),
settings (every other parameter)}; resources.checkpoint_every: epochs/iterations between resume states
(output.checkpoint + ".resume"); resources.device (optional, default auto): where torch families train;
not a parameter, so changing it reruns nothing.
"""

import torch

from partbased.constraints import size_problems
from partbased.data import read_split
from partbased.io import log_to
from partbased.run import run_point


def main(
    zarr_path: str, checkpoint_path: str, history_path: str, family: str, hyperparams: dict, settings: dict,
    threads: int, checkpoint_every: int, device: str, log_path: str,
) -> None:
    log_to(log_path)
    torch.set_num_threads(threads)  # the cores Snakemake gave this job, no more
    train = read_split(zarr_path, "train")
    params = {**settings, **hyperparams}
    # sizes the config check could not know before the data (the user's own files)
    problems = size_problems(family, params, n_train=train.x.shape[0], pixels=train.x.shape[1])
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    run_point(
        family, params, train.x, checkpoint_path, history_path, device=device, checkpoint_every=checkpoint_every,
        metadata={"image_shape": list(train.image_shape)},
    )


main(
    snakemake.input.zarr,  # noqa: F821
    snakemake.output.checkpoint,  # noqa: F821
    snakemake.output.history,  # noqa: F821
    snakemake.params.point["family"],  # noqa: F821
    dict(snakemake.params.point["hyperparams"]),  # noqa: F821
    dict(snakemake.params.point["settings"]),  # noqa: F821
    snakemake.threads,  # noqa: F821
    snakemake.resources.checkpoint_every,  # noqa: F821
    snakemake.resources.get("device", "auto"),  # noqa: F821  (set with --set-resources train_model:device=cpu)
    snakemake.log[0],  # noqa: F821
)
