"""Progress lines for long work: every few seconds, where it is, its numbers, time elapsed and left."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

log = logging.getLogger("partbased")


def clock(seconds: float) -> str:
    """h:mm:ss (or "?" when unknown)."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLog:
    """An observer of history rows (Model.observe_history) that logs a line at most every `every_s` seconds.

    Line: `progress: epoch 12/400 (3 %) loss=0.0213 recon=0.0201 ... elapsed 0:00:05 ETA 0:02:41`, plus
    the first row and the last step always. `progress(row)` gives (steps done, total or None); the
    rate behind the ETA counts only the steps of this attempt (a resumed fit starts its clock anew),
    while `elapsed` (seconds of the whole fit, earlier attempts included) is what the line shows.
    """

    def __init__(
        self,
        progress: Callable[[dict], tuple[int, int | None]],
        every_s: float = 5.0,
        elapsed: Callable[[], float] | None = None,
        logger: logging.Logger = log,
    ):
        self.progress, self.every_s, self.logger = progress, every_s, logger
        self.started = time.perf_counter()
        self.elapsed = elapsed or (lambda: time.perf_counter() - self.started)
        self.first_done: int | None = None  # steps done at the first row this attempt saw
        self.last_line = -math.inf

    def __call__(self, row: dict) -> None:
        now = time.perf_counter()
        done, total = self.progress(row)
        first = self.first_done is None
        if first:
            self.first_done = done - 1  # the first row's step was computed in this attempt
        finished = total is not None and done >= total
        if not (first or finished or now - self.last_line >= self.every_s):
            return
        self.last_line = now
        unit = "epoch" if "epoch" in row else "iteration" if "iteration" in row else "step"
        where = f"{unit} {done}/{total} ({100 * done / total:.0f} %)" if total else f"{unit} {done}"
        terms = " ".join(f"{key}={value:.6g}" for key, value in row.items() if key not in ("epoch", "iteration") and _number(value))
        steps = done - self.first_done
        eta = (now - self.started) / steps * (total - done) if total and steps > 0 else math.nan
        self.logger.info("progress: %s %s elapsed %s ETA %s", where, terms, clock(self.elapsed()), clock(eta))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
