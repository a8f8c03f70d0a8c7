"""Train one grid point on the train split and save its checkpoint and training history.

input.zarr: dataset store; output.checkpoint / output.history: model.pt and history.csv;
params.point: {family, hyperparams (grid values, seed included), settings (every other parameter)};
resources.checkpoint_every: epochs/iterations between resume states (output.checkpoint + ".resume");
resources.device (optional, default auto): where torch families train; not a parameter, so changing it reruns nothing.
"""

import dataclasses
import inspect
import time
from pathlib import Path

import torch

from partbased.config import RUN_ENVIRONMENT
from partbased.constraints import size_problems
from partbased.data import read_split
from partbased.io import log_to, write_table
from partbased.models import MODELS, build_model
from partbased.models.resume import Resume, data_digest


def main(
    zarr_path: str, checkpoint_path: str, history_path: str, family: str, hyperparams: dict, settings: dict,
    threads: int, checkpoint_every: int, device: str, log_path: str,
) -> None:
    log = log_to(log_path)
    torch.set_num_threads(threads)  # the cores Snakemake gave this job, no more
    train = read_split(zarr_path, "train")
    params = {**settings, **hyperparams}
    # sizes the config check could not know before the data (the user's own files)
    problems = size_problems(family, params, n_train=train.x.shape[0], pixels=train.x.shape[1])
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    if "device" in {f.name for f in dataclasses.fields(MODELS[family].config_class)}:
        params["device"] = device
    model = build_model(family, params)
    log.info("training %s %s on %s", family, model.config, train.x.shape)
    fit_kwargs = {}
    if "resume" in inspect.signature(model.fit).parameters:  # a killed job continues where it stopped
        config = {key: value for key, value in dataclasses.asdict(model.config).items() if key not in RUN_ENVIRONMENT}
        fingerprint = {"model": family, "config": config, "data": data_digest(train.x)}  # where it runs is not what it is
        fit_kwargs["resume"] = resume = Resume(Path(checkpoint_path + ".resume"), checkpoint_every, fingerprint)
    start = time.perf_counter()
    try:
        model.fit(train.x, **fit_kwargs)
        status, error = "ok", ""
    except FloatingPointError as exc:  # a diverging point is recorded, not allowed to kill the sweep
        status, error = "diverged", str(exc)
        log.warning("diverged: %s", exc)
    seconds = time.perf_counter() - start
    model.metadata.update(
        status=status, error=error, train_seconds=seconds, image_shape=list(train.image_shape), n_train=len(train.x)
    )
    write_table(model.history_frame(), history_path)
    model.save(checkpoint_path)
    if fit_kwargs:
        resume.clear()  # the final checkpoint now holds everything
    log.info("%s in %.2f s; last history row: %s", status, seconds, model.history[-1] if model.history else None)


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
