"""Small I/O helpers shared by the workflow scripts: atomic writes and logging to the rule's log."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling path; it replaces `path` only if the block completes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV written atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def log_to(path: str | Path) -> logging.Logger:
    """Send logging and warnings of a script to its rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=str(path), filemode="w", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.captureWarnings(True)
    logger = logging.getLogger("partbased")

    def log_then_raise(exc_type, exc, tb):  # the error lands in the rule's log and on the terminal
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = log_then_raise
    return logger
