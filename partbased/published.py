"""Published numbers beside this run's: the config's `published:` entries against results/metrics.csv.

Each entry names a dataset, a model (entry name), a point (grid-key or setting values picking its grid points;
the seed optional), published metric values (and optionally their published std) and a source (a repository
path or a paper's table). `compare` makes one row per published value: ours (the mean over the matching points
that trained, `n_points` of them, over seeds say), theirs, the relative deviation (ours − theirs) / |theirs|,
both stds where known, and the source. A published point that matches no finished point gives an empty `ours`,
never a made-up one. No torch here: the job that writes the table only reads metrics.csv.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .grid import format_value

COLUMNS = [
    "dataset", "model", "point", "metric", "ours", "theirs", "relative_deviation", "ours_std", "theirs_std", "n_points",
    "source",
]  # fmt: skip
INTRO = (
    "One row per published value, {n_rows} rows: ours (the mean over the matching grid points that trained, "
    "n_points of them), theirs, relative_deviation = (ours − theirs) / |theirs|, the stds where known, and where "
    "the published value comes from."
)


def point_text(point: dict) -> str:
    """A published point as one cell: its keys sorted, each value spelt as in paths, e.g. 'beta=0.001, p=0.2'."""
    return ", ".join(f"{key}={format_value(point[key])}" for key in sorted(point))


def _matches(column: pd.Series, value) -> pd.Series:
    """Rows whose cell equals `value`: numbers to 1e-12 relative (CSV round trips), anything else by its text."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        numeric = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        return pd.Series(np.isclose(numeric, float(value), rtol=1e-12, atol=0.0), index=column.index)
    return column.map(str) == str(value)


def matching_points(table: pd.DataFrame, entry: dict) -> pd.DataFrame:
    """The finished (status ok) rows of metrics.csv that a published entry's dataset, model and point pick."""
    rows = table[(table["dataset"] == entry["dataset"]) & (table["model"] == entry["model"])]
    if "status" in rows:
        rows = rows[rows["status"] == "ok"]
    for key, value in entry.get("point", {}).items():
        if key not in rows:
            return rows.iloc[0:0]
        rows = rows[_matches(rows[key], value)]
    return rows


def compare(table: pd.DataFrame, published: list[dict]) -> pd.DataFrame:
    """One row per published value (see the module doc), in the order the config lists them."""
    out = []
    for entry in published:
        rows = matching_points(table, entry)
        for metric, theirs in entry["metrics"].items():
            ours = float(rows[metric].mean()) if metric in rows and len(rows) else float("nan")
            std = f"{metric}_std"
            out.append({
                "dataset": entry["dataset"],
                "model": entry["model"],
                "point": point_text(entry.get("point", {})),
                "metric": metric,
                "ours": ours,
                "theirs": float(theirs),
                "relative_deviation": (ours - theirs) / abs(theirs) if theirs != 0 else float("nan"),
                "ours_std": float(rows[std].mean()) if std in rows and len(rows) else float("nan"),
                "theirs_std": float(entry.get("std", {}).get(metric, float("nan"))),
                "n_points": len(rows),
                "source": entry["source"],
            })
    return pd.DataFrame(out, columns=COLUMNS)
