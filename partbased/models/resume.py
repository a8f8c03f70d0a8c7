"""Resume a killed training job: the loop's full state, written atomically every few epochs.

The state carries a fingerprint (family, config, digest of the training data); a state with another
fingerprint is never reused, so an edited config always trains from scratch. It also carries the
training seconds spent up to it, so that a resumed fit reports the time of the whole fit.
States are written and read like checkpoints (models/checkpoint.py): plain types and tensors,
loaded with weights_only=True and checked by a digest; a state that fails either is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_payload, save_payload, to_plain

log = logging.getLogger("partbased")


def data_digest(x: np.ndarray) -> str:
    """sha256 of the training array's shape, dtype and bytes."""
    x = np.ascontiguousarray(x)
    return hashlib.sha256(f"{x.shape}{x.dtype}".encode() + x.tobytes()).hexdigest()


@dataclass
class Resume:
    path: Path  # where the loop state lives (beside the final checkpoint, not a declared output)
    every: int  # epochs/iterations between two saves
    fingerprint: dict  # {"model", "config", "data"}: what the state must match to be reused
    # called with each state just after it is saved (run_point writes the partial history.csv there)
    on_save: Callable[[dict[str, Any]], None] | None = None
    started: float = field(default_factory=time.perf_counter)  # this attempt's clock (perf_counter)
    resumed_seconds: float = 0.0  # training seconds of the earlier attempts, up to the loaded state
    resumed_step: int = 0  # the step the loaded state had reached (0: started from scratch)

    def load(self) -> dict[str, Any] | None:
        """The saved loop state when it matches this run, else None (and a log line saying why)."""
        self.path = Path(self.path)
        if not self.path.exists():
            return None
        try:
            payload = load_payload(self.path, "resume state")
        except Exception as exc:  # a torn, corrupted or foreign file: start over rather than trust it
            log.warning("ignoring unusable resume state: %s", exc)
            return None
        if payload.get("fingerprint") != to_plain(self.fingerprint):  # as saved: tuples are lists there
            log.warning("ignoring resume state %s: it belongs to another config or data", self.path)
            return None
        self.resumed_seconds = float(payload.get("elapsed_s", 0.0))
        self.resumed_step = int(payload["state"]["step"])
        log.info("resuming from %s at step %s (%.1f s of training before it)", self.path, self.resumed_step, self.resumed_seconds)
        return payload["state"]

    def due(self, step: int) -> bool:
        """True after every `every`-th completed step (step counts from 1)."""
        return self.every > 0 and step % self.every == 0

    def elapsed(self) -> float:
        """Training seconds of the whole fit so far: the earlier attempts' plus this one's."""
        return self.resumed_seconds + time.perf_counter() - self.started

    def save(self, state: dict[str, Any]) -> None:
        payload = {"fingerprint": self.fingerprint, "state": state, "elapsed_s": self.elapsed()}
        save_payload(payload, self.path)  # atomic: a kill leaves the previous complete state
        if self.on_save is not None:
            self.on_save(state)

    def clear(self) -> None:
        Path(self.path).unlink(missing_ok=True)
