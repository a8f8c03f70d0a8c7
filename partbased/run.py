"""Train one grid point: the library side of the train_model job (scripts/train_model.py is a wrapper).

run_point builds the model, resumes it where the family supports it, records a diverging fit
instead of failing, logs progress, writes the history as training goes, and saves the checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from .config import RUN_ENVIRONMENT  # kept out of the fingerprint: a state saved on a GPU resumes on a CPU
from .io import write_table
from .models import Model, build_model
from .models.resume import Resume, data_digest
from .progress import ProgressLog

log = logging.getLogger("partbased")



def fingerprint(model: Model, x: np.ndarray, x_val: np.ndarray | None = None) -> dict:
    """What a resume state must match to be reused: family, config (run environment left out), training data and
    the held-out data it watches (when it does)."""
    config = {key: value for key, value in dataclasses.asdict(model.config).items() if key not in RUN_ENVIRONMENT}
    out = {"model": model.name, "config": config, "data": data_digest(x)}
    return out if x_val is None else out | {"validation": data_digest(x_val)}


def attempts_log_path(checkpoint_path: str | Path) -> Path:
    """Where the log of unfinished attempts is kept: Snakemake deletes a job's log before it reruns the job."""
    return Path(f"{checkpoint_path}.attempts.log")


def run_point(
    family: str,
    params: dict,
    x: np.ndarray,
    checkpoint_path: str | Path,
    history_path: str | Path,
    *,
    device: str = "auto",
    checkpoint_every: int = 10,
    progress_every_s: float = 5.0,
    metadata: dict | None = None,
    x_val: np.ndarray | None = None,
) -> Model:
    """Train `family` with `params` (grid values and settings, seed included) on x (n, pixels), on `device`.

    Writes checkpoint_path (Model.save) and history_path (CSV; also at every resume state, so a
    long fit can be followed). A family with `supports_resume` saves its loop state every
    `checkpoint_every` steps to checkpoint_path + ".resume" and continues from there when rerun; its
    `train_seconds` then counts the earlier attempts too. A FloatingPointError from fit (a NaN/inf
    loss) is recorded as status "diverged" with its message, not raised. `metadata` (say image_shape)
    is saved with the checkpoint. The log lines of an attempt that does not finish are kept in
    checkpoint_path + ".attempts.log" and copied into the log of the attempt that does. x_val: held-out rows
    the fit watches (the AE's early stopping), given to fit only when not None.
    """
    checkpoint_path, history_path = Path(checkpoint_path), Path(history_path)
    attempts = attempts_log_path(checkpoint_path)
    if attempts.exists():
        log.info("earlier unfinished attempt(s) of this job, from %s:\n%s", attempts, attempts.read_text().rstrip())
    attempts.parent.mkdir(parents=True, exist_ok=True)
    keep = logging.FileHandler(attempts, mode="a")  # this attempt's lines, kept should it not finish
    keep.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(keep)
    try:
        model = _train(family, params, x, x_val, checkpoint_path, history_path, device, checkpoint_every, progress_every_s, metadata or {})
    finally:
        log.removeHandler(keep)
        keep.close()
    attempts.unlink(missing_ok=True)  # finished: the job log holds every attempt now
    return model


def _train(family, params, x, x_val, checkpoint_path, history_path, device, checkpoint_every, progress_every_s, metadata) -> Model:
    model = build_model(family, params, device=device)
    log.info("training %s %s on %s%s", family, model.config, x.shape, "" if x_val is None else f", watching {x_val.shape} held out")
    resume = None
    if model.supports_resume:  # a killed job continues where it stopped
        resume = Resume(Path(f"{checkpoint_path}.resume"), checkpoint_every, fingerprint(model, x, x_val))
        resume.on_save = lambda state: write_table(model.history_frame(), history_path)
    start = time.perf_counter()
    model.observe_history(ProgressLog(model.progress, progress_every_s, elapsed=resume.elapsed if resume else None))
    kwargs = ({"resume": resume} if resume else {}) | ({} if x_val is None else {"x_val": x_val})
    try:
        model.fit(x, **kwargs)
        status, error = "ok", ""
    except FloatingPointError as exc:  # a diverging point is recorded, not allowed to kill the sweep
        status, error = "diverged", str(exc)
        log.warning("diverged: %s", exc)
    seconds = resume.elapsed() if resume else time.perf_counter() - start
    model.metadata.update(
        metadata, status=status, error=error, train_seconds=seconds, n_train=len(x),
        resumed_from_step=resume.resumed_step if resume else 0,
    )  # fmt: skip
    write_table(model.history_frame(), history_path)
    model.save(checkpoint_path)
    if resume:
        resume.clear()  # the final checkpoint now holds everything
    last = model.history[-1] if model.history else None
    log.info("%s in %.2f s (whole fit%s); last history row: %s", status, seconds, ", resumed" if resume and resume.resumed_step else "", last)
    return model
