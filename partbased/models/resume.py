"""Resume a killed training job: the loop's full state, written atomically every few epochs.

The state carries a fingerprint (family, config, digest of the training data); a state with another
fingerprint is never reused, so an edited config always trains from scratch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

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

    def load(self) -> dict[str, Any] | None:
        """The saved loop state when it matches this run, else None (and a log line saying why)."""
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a torn or foreign file: start over rather than trust it
            log.warning("ignoring unreadable resume state %s: %s", self.path, exc)
            return None
        if payload.get("fingerprint") != self.fingerprint:
            log.warning("ignoring resume state %s: it belongs to another config or data", self.path)
            return None
        log.info("resuming from %s at step %s", self.path, payload["state"]["step"])
        return payload["state"]

    def due(self, step: int) -> bool:
        """True after every `every`-th completed step (step counts from 1)."""
        return self.every > 0 and step % self.every == 0

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp-{os.getpid()}")
        torch.save({"fingerprint": self.fingerprint, "state": state}, tmp)
        os.replace(tmp, self.path)  # atomic: a kill leaves the previous complete state

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
