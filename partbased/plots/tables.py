"""Tables the figures read, and the metrics table as a readable, sortable HTML page.

No torch here: jobs that only plot or aggregate import pandas (and matplotlib/seaborn) alone.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from partbased.io import write_bytes

from .columns import IDENTITY, METRICS


def _integers_as_integers(table: pd.DataFrame, integer: set[str]) -> pd.DataFrame:
    for column in integer:
        if column in table and table[column].dtype.kind == "f":  # whole numbers, empty cells made them float
            table[column] = table[column].astype("Int64")
    return table


def read_rows(paths: list[str | Path]) -> pd.DataFrame:
    """The one-row metrics CSVs of some grid points, as one table (identity columns first).

    A figure reads only the rows it draws, so editing one grid point redraws only the figures
    that show it. Columns missing from some rows (other models' parameters) are left empty; a column
    of integers in every row that has it stays integer (nullable Int64: k prints 16, not 16.0).
    """
    if not paths:
        raise ValueError("read_rows: no metrics rows given")
    frames = [pd.read_csv(p) for p in paths]
    table = pd.concat(frames, ignore_index=True, sort=False)
    missing = [c for c in ("dataset", "model") if c not in table]
    if missing:
        raise ValueError(f"metrics rows lack the columns {missing} (read from {paths[0]} ...)")
    integer = {c for c in table.columns if all(f[c].dtype.kind in "iu" for f in frames if c in f)}
    table = _integers_as_integers(table, integer)
    first = [c for c in IDENTITY if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def read_table(path: str | Path) -> pd.DataFrame:
    """metrics.csv with its integer columns as integers, also where some rows leave them empty."""
    table = pd.read_csv(path)
    typed = pd.read_csv(path, dtype_backend="numpy_nullable")  # "16" and "" parse as Int64, "0.0" as Float64
    return _integers_as_integers(table, {c for c in typed.columns if str(typed[c].dtype) == "Int64"})


def cell_text(value, column: str = "") -> str:
    """How a value prints in tables and labels: integers as integers, metrics to 4 significant digits,
    other numbers to 6 (so epochs = 20000 is not 2e+04), empty cells blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}" if column in METRICS else f"{float(value):.6g}"
    return str(value)


def _cell(value, column: str) -> tuple[str, str]:
    """(shown text, sort key) of one cell."""
    text = cell_text(value, column)
    if isinstance(value, (float, np.floating)) and text:
        return text, repr(float(value))
    return text, text


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 12px; color: #222; }}
h1 {{ font-size: 17px; margin: 0 0 4px; }}
p {{ margin: 4px 0 8px; max-width: 70em; }}
input {{ font: inherit; padding: 3px 6px; width: 22em; margin-bottom: 8px; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; white-space: nowrap; }}
th {{ position: sticky; top: 0; background: #f3f3f3; cursor: pointer; text-align: left; }}
th.sorted-asc::after {{ content: " ▲"; }} th.sorted-desc::after {{ content: " ▼"; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr:hover td {{ background: #f6faff; }}
tr.diverged td {{ color: #b22222; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{intro} Click a column header to sort (again to reverse); type to
keep only the rows that contain the text. The same table as CSV: <code>{csv_name}</code>.</p>
<input id="filter" type="search" placeholder="filter rows, e.g. mnist5k or ae" aria-label="filter rows">
<table id="metrics">
<thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody></table>
<script>
(function () {{
  const table = document.getElementById("metrics");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach(function (th, col) {{
    th.addEventListener("click", function () {{
      const asc = !th.classList.contains("sorted-asc");
      headers.forEach(function (h) {{ h.classList.remove("sorted-asc", "sorted-desc"); }});
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      const numeric = th.dataset.type === "num";
      const rows = Array.from(body.rows);
      rows.sort(function (a, b) {{
        const x = a.cells[col].dataset.key, y = b.cells[col].dataset.key;
        if (x === "" || y === "") return (x === "") - (y === "");  // empty cells last either way
        const d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return asc ? d : -d;
      }});
      rows.forEach(function (r) {{ body.appendChild(r); }});
    }});
  }});
  document.getElementById("filter").addEventListener("input", function (ev) {{
    const text = ev.target.value.toLowerCase();
    Array.from(body.rows).forEach(function (r) {{
      r.hidden = text !== "" && !r.textContent.toLowerCase().includes(text);
    }});
  }});
}})();
</script>
</body></html>
"""


METRICS_INTRO = (
    "One row per grid point, {n_rows} rows: what the point is, its metrics, then every effective setting of its "
    "model. ↓: lower is better, ↑: higher is better; columns without an arrow describe the representation."
)


def metrics_html(
    table: pd.DataFrame, title: str = "Metrics of every grid point", csv_name: str = "metrics.csv", intro: str = METRICS_INTRO
) -> str:
    """The whole table as one self-contained HTML page (no external files), sortable by column; `intro` (its
    {n_rows} filled in) says what a row is."""
    numeric = {c: table[c].dtype.kind in "iuf" or str(table[c].dtype) == "Int64" for c in table.columns}
    header = []
    for column in table.columns:
        metric = METRICS.get(column)
        label = f"{column} {metric.arrow}".strip() if metric else column
        tip = f"{metric.label}: {'no better side' if metric.direction == 'descriptive' else metric.direction + ' is better'}" if metric else column
        kind = "num" if numeric[column] else "text"
        header.append(f'<th data-type="{kind}" title="{html.escape(tip)}">{html.escape(label)}</th>')
    rows = []
    for record in table.itertuples(index=False):
        cells = []
        for column, value in zip(table.columns, record):
            text, key = _cell(value, column)
            cls = ' class="num"' if numeric[column] else ""
            cells.append(f'<td{cls} data-key="{html.escape(key)}">{html.escape(text)}</td>')
        status = getattr(record, "status", "ok") if "status" in table else "ok"
        row_class = ' class="diverged"' if status == "diverged" else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    return _PAGE.format(
        title=html.escape(title), intro=html.escape(intro.format(n_rows=len(table))), csv_name=html.escape(csv_name),
        header="".join(header), body="\n".join(rows),
    )


def reading_order(columns) -> list[str]:
    """The metrics page's column order: what a row is (dataset, model, family, k, seed), then the metrics
    (columns.METRICS' order) and status, then every other effective setting, so that the numbers a reader
    compares are on screen without scrolling past 40 settings (metrics.csv keeps its tidy order)."""
    columns = list(columns)
    first = [c for c in (*IDENTITY, "k", "seed") if c in columns]
    metrics = [c for c in (*METRICS, "status") if c in columns and c not in first]
    return first + metrics + [c for c in columns if c not in first and c not in metrics]


def write_metrics_html(table: pd.DataFrame, path: str | Path, **kwargs) -> None:
    write_bytes(metrics_html(table, **kwargs).encode("utf-8"), path)
