"""Tables the figures read, and the metrics table as a readable, sortable HTML page.

No torch here: jobs that only plot or aggregate import pandas (and matplotlib/seaborn) alone.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from partbased.io import atomic_path

from .columns import IDENTITY, METRICS, hyperparam_columns


def read_rows(paths: list[str | Path]) -> pd.DataFrame:
    """The one-row metrics CSVs of some grid points, as one table (identity columns first).

    A figure reads only the rows it draws, so editing one grid point redraws only the figures
    that show it. Columns missing from some rows (other models' hyperparameters) are left empty.
    """
    if not paths:
        raise ValueError("read_rows: no metrics rows given")
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True, sort=False)
    missing = [c for c in ("dataset", "model") if c not in table]
    if missing:
        raise ValueError(f"metrics rows lack the columns {missing} (read from {paths[0]} ...)")
    first = [c for c in IDENTITY if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def integral_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Hyperparameter columns holding whole numbers only (a float column because other models leave
    them empty, e.g. k = 16.0) as nullable integers, so they print as 16."""
    out = table.copy()
    for column in hyperparam_columns(table.columns):
        values = out[column]
        if values.dtype.kind == "f" and values.notna().any():
            finite = values.dropna()
            if np.isfinite(finite).all() and (finite == np.round(finite)).all():
                out[column] = values.astype("Int64")
    return out


def _cell(value) -> tuple[str, str]:
    """(shown text, sort key) of one cell: numbers to 4 significant digits, empty cells blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value)), str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}", repr(float(value))
    return str(value), str(value)


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
<p>One row per grid point, {n_rows} rows. ↓: lower is better, ↑: higher is better; columns without
an arrow describe the representation. Click a column header to sort (again to reverse); type to
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


def metrics_html(table: pd.DataFrame, title: str = "Metrics of every grid point", csv_name: str = "metrics.csv") -> str:
    """The whole table as one self-contained HTML page (no external files), sortable by column."""
    table = integral_columns(table)
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
            text, key = _cell(value)
            cls = ' class="num"' if numeric[column] else ""
            cells.append(f'<td{cls} data-key="{html.escape(key)}">{html.escape(text)}</td>')
        status = getattr(record, "status", "ok") if "status" in table else "ok"
        row_class = ' class="diverged"' if status == "diverged" else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    return _PAGE.format(
        title=html.escape(title), n_rows=len(table), csv_name=html.escape(csv_name), header="".join(header), body="\n".join(rows)
    )


def write_metrics_html(table: pd.DataFrame, path: str | Path, **kwargs) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(metrics_html(table, **kwargs), encoding="utf-8")
