"""The seeds' qualitative claims as data, each checked on this run's metrics table (results/metrics.csv).

A claim is evaluated on every dataset where the run has what it needs (its models, its grid, its columns)
and states PASS or FAIL with the numbers behind it; where nothing in the run can test it, it is `n/a`
(never PASS), with what it needs. Comparisons between points are made between points whose other
parameters are all equal (same dataset, model and every other column of the table); "every seed" means
every row, so one lucky seed does not carry a claim, and a diverged point (its metrics empty) fails it.

Sources (shared/seeds/): [EK] eggert-koerner-sparse-coding-nmf, [REPORT] part-based-autoencoders-report,
[PROPS] properties-of-autoencoders, [PAE] pae-nmf-weibull-vae.

Imports pandas and numpy only: the claims job runs without torch or scikit-learn.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from partbased.plots.columns import hyperparam_columns

PASS, FAIL, NA = "PASS", "FAIL", "n/a"
COLUMNS = ("claim", "dataset", "status", "evidence", "source")
PCA_ANGLE_MAX = 5.0  # degrees: "spans the PCA subspace"
PCA_RECON_FACTOR = 1.2  # "trained like PCA": reconstruction error ≤ 1.2 × PCA's
PIXEL_SHARE = 0.5  # "pixel-like atoms": at least half the atoms contain no whole bar
RECON_RTOL = 0.01  # "non-decreasing": a drop of up to 1 % of the value counts as noise


@dataclass(frozen=True)
class Context:
    """What the checks read: the metrics table and the bars datasets' sizes (None: unknown)."""

    table: pd.DataFrame
    bars_sizes: Mapping[str, int | None]


@dataclass(frozen=True)
class Outcome:
    dataset: str
    passed: bool
    evidence: str


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    needs: str  # what the run must hold for the claim to be checked (the n/a evidence)
    check: Callable[[Context], list[Outcome]]  # one Outcome per dataset where the claim applies


# --------------------------------------------------------------------------- helpers


def _num(value) -> str:
    return "nan" if value is None or pd.isna(value) else f"{float(value):.3g}"


def _values(series: pd.Series, unit: str = "") -> str:
    """'0.61' for one value, '0.58–0.63 (3 seeds)' for several, '2° (2 seeds, 1 nan)' with empty cells."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    finite = values[~np.isnan(values)]
    if not len(finite):
        text = "nan"
    elif np.all(finite == finite[0]):
        text = _num(finite[0]) + unit
    else:
        text = f"{_num(finite.min())}–{_num(finite.max())}{unit}"
    notes = [f"{len(values)} seeds"] if len(values) > 1 else []
    notes += [f"{len(values) - len(finite)} nan"] if 0 < len(finite) < len(values) else []
    return text + (f" ({', '.join(notes)})" if notes else "")


def _rows(table: pd.DataFrame, family: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The table's rows of `family`; empty when the table lacks the family or any of `columns`."""
    if "family" not in table or any(c not in table for c in columns):
        return table.iloc[:0]
    return table[table["family"] == family]


def _eq(rows: pd.DataFrame, column: str, value) -> pd.Series:
    """rows[column] == value (floats by np.isclose); False where the column is absent or empty."""
    if column not in rows:
        return pd.Series(False, index=rows.index)
    if isinstance(value, str):
        return rows[column].map(str) == value
    numbers = pd.to_numeric(rows[column], errors="coerce").astype(float)
    return pd.Series(np.isclose(numbers, value), index=rows.index)


def _unpenalised(rows: pd.DataFrame) -> pd.Series:
    """AE rows without a sparsity term: β = 0, or penalty none."""
    return _eq(rows, "beta", 0.0) | _eq(rows, "penalty", "none")


def _groups(rows: pd.DataFrame, vary: tuple[str, ...]):
    """(label, rows) per set of points equal in every parameter but `vary` and the seed, within one dataset and model.

    label: the model and the parameters that tell the sets of that model apart (e.g. 'ae k=16 nonneg=none').
    """
    if rows.empty:
        return
    keys = ["dataset", "model", *[c for c in hyperparam_columns(rows.columns) if c not in (*vary, "seed")]]
    text = rows[keys].map(str)  # empty cells (other families' columns) compare equal as "nan"/"<NA>"
    for _, group in rows.groupby([text[c] for c in keys], sort=False, dropna=False):
        model_rows = rows[(rows["dataset"] == group["dataset"].iloc[0]) & (rows["model"] == group["model"].iloc[0])]
        shown = [c for c in keys[2:] if model_rows[c].map(str).nunique() > 1 or c == "k"]
        first = group.iloc[0]
        label = " ".join([str(first["model"]), *[f"{c}={_param(first[c])}" for c in shown if pd.notna(first[c])]])
        yield label, group


def _full_rank(rows: pd.DataFrame) -> pd.Series:
    """Points whose k reaches the data's dimension: pca_angle_max is empty on an ok row (the PCA subspace is the
    whole space, PCA reconstructs exactly), so neither "spans the PCA subspace" nor "within 1.2 × PCA" says anything."""
    if "pca_angle_max" not in rows:
        return pd.Series(False, index=rows.index)
    ok = rows["status"] == "ok" if "status" in rows else pd.Series(True, index=rows.index)
    return ok & rows["pca_angle_max"].isna()


def _param(value) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _by(rows: pd.DataFrame, column: str) -> list[tuple[float, pd.DataFrame]]:
    """(value, rows) for each value of a numeric column, ascending."""
    numbers = pd.to_numeric(rows[column], errors="coerce").astype(float)
    return [(value, rows[np.isclose(numbers, value)]) for value in sorted(numbers.dropna().unique())]


def _mean(rows: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(rows[column], errors="coerce").astype(float).mean(skipna=False))


def _per_dataset(items: list[tuple[str, bool, str]]) -> list[Outcome]:
    """One Outcome per dataset from (dataset, passed, evidence) items: PASS only if all of its items pass."""
    out: dict[str, list[tuple[bool, str]]] = {}
    for dataset, passed, evidence in items:
        out.setdefault(dataset, []).append((bool(passed), evidence))
    outcomes = []
    for dataset, parts in out.items():
        passed = all(p for p, _ in parts)
        mark = passed or len(parts) == 1  # several items, some failing: mark those
        outcomes.append(Outcome(dataset, passed, "; ".join(e if p or mark else f"✗ {e}" for p, e in parts)))
    return outcomes


def _bars(ctx: Context, rows: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    """(dataset, size, rows) for each bars dataset of known size among `rows`."""
    return [(d, int(s), rows[rows["dataset"] == d]) for d, s in ctx.bars_sizes.items() if s and (rows["dataset"] == d).any()]


# --------------------------------------------------------------------------- the checks


def _nmf_sparser_than_pca(ctx: Context) -> list[Outcome]:
    t = ctx.table
    pca, nmf = _rows(t, "pca", ("hoyer_atoms", "k")), _rows(t, "nmf", ("hoyer_atoms", "k"))
    items = []
    for label, group in _groups(nmf, ()):
        dataset, k = group["dataset"].iloc[0], group["k"].iloc[0]
        reference = pca[(pca["dataset"] == dataset) & _eq(pca, "k", float(k))]
        if reference.empty:
            continue
        passed = group["hoyer_atoms"].min() > reference["hoyer_atoms"].max()
        items.append((dataset, passed, f"{label}: Hoyer atoms {_values(group['hoyer_atoms'])} vs PCA {_values(reference['hoyer_atoms'])}"))
    return _per_dataset(items)


def _nmf_recovers_bars(ctx: Context) -> list[Outcome]:
    items = []
    for dataset, size, rows in _bars(ctx, _rows(ctx.table, "nmf", ("bars_recovery", "k"))):
        for label, group in _groups(rows[_eq(rows, "k", 2.0 * size)], ()):
            passed = bool((group["bars_recovery"] >= 1 - 1e-9).all())
            items.append((dataset, passed, f"{label} (= 2·{size} bars): bars recovered {_values(group['bars_recovery'])}"))
    return _per_dataset(items)


def _sparse_nmf_overcomplete(ctx: Context) -> list[Outcome]:
    items = []
    for dataset, size, rows in _bars(ctx, _rows(ctx.table, "sparse_nmf", ("bars_recovery", "pixel_atoms", "lam", "k"))):
        overcomplete = rows[pd.to_numeric(rows["k"], errors="coerce") > size * size]
        for label, group in _groups(overcomplete, ("lam",)):
            sparse, plain = group[_eq(group, "lam", 0.25)], group[_eq(group, "lam", 0.0)]
            if sparse.empty or plain.empty:
                continue
            passed = bool((sparse["bars_recovery"] >= 1 - 1e-9).all() and (plain["pixel_atoms"] >= PIXEL_SHARE).all())
            items.append((dataset, passed, f"{label} (> {size * size} pixels): λ=0.25 bars recovered "
                          f"{_values(sparse['bars_recovery'])}; λ=0 pixel-like atoms {_values(plain['pixel_atoms'])}"))
    return _per_dataset(items)


def _sparse_ae_tradeoff(ctx: Context) -> list[Outcome]:
    rows = _rows(ctx.table, "ae", ("beta", "recon_error", "hoyer_codes"))
    rows = rows[~_eq(rows, "penalty", "none")]
    items = []
    for label, group in _groups(rows, ("beta",)):
        levels = _by(group, "beta")
        if len(levels) < 3 or levels[0][0] != 0:
            continue
        betas = [b for b, _ in levels]
        recon = [_mean(g, "recon_error") for _, g in levels]
        hoyer = [_mean(g, "hoyer_codes") for _, g in levels]
        peak = int(np.nanargmax(hoyer)) if not np.all(np.isnan(hoyer)) else 0
        recon_ok = all(b >= a * (1 - RECON_RTOL) for a, b in zip(recon, recon[1:]))
        hoyer_ok = peak > 0 and all(b >= a for a, b in zip(hoyer[:peak], hoyer[1 : peak + 1]))
        items.append((group["dataset"].iloc[0], recon_ok and hoyer_ok,
                      f"{label}, β {', '.join(map(_param, betas))}: recon. error {', '.join(map(_num, recon))}; "
                      f"Hoyer codes {', '.join(map(_num, hoyer))} (peak at β={_param(betas[peak])})"))
    return _per_dataset(items)


def _projection_nonneg(ctx: Context) -> list[Outcome]:
    items = []
    for label, group in _groups(_rows(ctx.table, "ae", ("nonneg", "atoms_min", "hoyer_atoms")), ("nonneg",)):
        projected, free = group[_eq(group, "nonneg", "project")], group[_eq(group, "nonneg", "none")]
        if projected.empty or free.empty:
            continue
        h_proj, h_free = _mean(projected, "hoyer_atoms"), _mean(free, "hoyer_atoms")
        passed = bool((projected["atoms_min"] >= 0).all()) and h_proj > h_free
        items.append((group["dataset"].iloc[0], passed, f"{label}: atoms min, project {_values(projected['atoms_min'])} vs "
                      f"none {_values(free['atoms_min'])}; Hoyer atoms, project {_num(h_proj)} vs none {_num(h_free)}"))
    return _per_dataset(items)


def _linear_ae_spans_pca(ctx: Context) -> list[Outcome]:
    rows = _rows(ctx.table, "ae", ("pca_angle_max", "encoder_activation", "decoder_activation", "nonneg"))
    linear = rows[_eq(rows, "encoder_activation", "linear") & _eq(rows, "decoder_activation", "linear")
                  & _eq(rows, "nonneg", "none") & _unpenalised(rows) & ~_full_rank(rows)]
    items = []
    for label, group in _groups(linear, ()):
        passed = bool((group["pca_angle_max"] < PCA_ANGLE_MAX).all())
        items.append((group["dataset"].iloc[0], passed, f"{label}: angle to PCA {_values(group['pca_angle_max'], '°')}"))
    return _per_dataset(items)


def _sparse_nonneg_dilation(ctx: Context) -> list[Outcome]:
    rows = _rows(ctx.table, "ae", ("beta", "nonneg", "dilation_error"))
    rows = rows[~_eq(rows, "penalty", "none")]
    items = []
    for label, group in _groups(rows, ("beta", "nonneg")):
        free = group[_eq(group, "beta", 0.0) & _eq(group, "nonneg", "none")]
        sparse = group[(pd.to_numeric(group["beta"], errors="coerce") > 0) & _eq(group, "nonneg", "project")]
        if free.empty or sparse.empty:
            continue
        reference = _mean(free, "dilation_error")
        for beta, points in _by(sparse, "beta"):
            error = _mean(points, "dilation_error")
            items.append((group["dataset"].iloc[0], error < reference,
                          f"{label}: β={_param(beta)} project {_num(error)} vs β=0 none {_num(reference)}"))
    return _per_dataset(items)


def _ae_trained_like_pca(ctx: Context) -> list[Outcome]:
    t = ctx.table
    references = {"pca": _rows(t, "pca", ("recon_error", "k")), "nmf": _rows(t, "nmf", ("recon_error", "k"))}
    ae = _rows(t, "ae", ("recon_error", "k", "nonneg"))
    items = []
    for label, group in _groups(ae[_unpenalised(ae) & ~_full_rank(ae)], ()):
        dataset, k = group["dataset"].iloc[0], group["k"].iloc[0]
        # an unconstrained decoder against PCA, the best rank-k reconstruction; a constrained one (nonneg
        # project or a decay) against NMF, the best nonnegative one (digits, k = 16: NMF's error is 1.5 × PCA's)
        family = "pca" if _eq(group, "nonneg", "none").all() else "nmf"
        rows = references[family]
        rows = rows[(rows["dataset"] == dataset) & _eq(rows, "k", float(k))]
        if rows.empty:
            continue
        bound = PCA_RECON_FACTOR * min(_mean(r, "recon_error") for _, r in rows.groupby("model"))
        worst = group["recon_error"].max(skipna=False)
        items.append((dataset, bool(worst <= bound), f"{label}: recon. error {_values(group['recon_error'])} vs "
                      f"{PCA_RECON_FACTOR:g} × {family.upper()} = {_num(bound)}"))
    return _per_dataset(items)


def _pae_kl_closer(ctx: Context) -> list[Outcome]:
    items = []
    for label, group in _groups(_rows(ctx.table, "pae_nmf", ("kl_weight", "latent_kl")), ("kl_weight",)):
        levels = _by(group, "kl_weight")
        if not levels or levels[0][0] != 0 or len(levels) < 2:
            continue
        without = _mean(levels[0][1], "latent_kl")
        for weight, points in levels[1:]:
            kl = _mean(points, "latent_kl")
            items.append((group["dataset"].iloc[0], kl < without,
                          f"{label}: latent KL {_num(kl)} (kl_weight={_param(weight)}) vs {_num(without)} (kl_weight=0)"))
    return _per_dataset(items)


CLAIMS = (
    Claim(
        "nmf_atoms_sparser_than_pca",
        "NMF's atoms are sparser (Hoyer) than PCA's at the same k (every NMF seed above every PCA one)",
        "part-based-autoencoders-report Sec. 2.1; eggert-koerner Sec. V (NMF's parts-based, localised basis vectors)",
        "a pca and an nmf point with the same k on one dataset",
        _nmf_sparser_than_pca,
    ),
    Claim(
        "nmf_recovers_bars",
        "NMF on bars with k = the number of bars (2·size) recovers every bar (bars_recovery = 1, every seed)",
        "eggert-koerner Sec. IV-A, Fig. 2 (8 basis vectors on 4×4 bars)",
        "an nmf point on a bars dataset with k = 2·size",
        _nmf_recovers_bars,
    ),
    Claim(
        "sparse_nmf_overcomplete_bars",
        f"Overcomplete sparse NMF on bars (k > pixels): λ = 0.25 recovers every bar, while λ = 0 gives pixel-like "
        f"atoms (pixel_atoms ≥ {PIXEL_SHARE:g}: that share of atoms contains no whole bar), every seed",
        "eggert-koerner Sec. IV-A, Fig. 3–4 (36 basis vectors on 4×4 bars, λ = 0 and 0.25)",
        "sparse_nmf points on a bars dataset with k > size² and lam 0 and 0.25, other parameters equal",
        _sparse_nmf_overcomplete,
    ),
    Claim(
        "sparse_ae_tradeoff",
        f"A sparse AE's reconstruction error does not decrease with β (within {RECON_RTOL:.0%}), while its codes' "
        "Hoyer sparseness rises with β up to its peak (it may drop after: codes collapse); means over seeds",
        "part-based-autoencoders-report Sec. 3.4, Fig. 8a–b",
        "ae points with a sparsity penalty and ≥ 3 values of beta including 0, other parameters equal",
        _sparse_ae_tradeoff,
    ),
    Claim(
        "projection_nonneg_sparser_atoms",
        "Projecting the AE decoder (nonneg: project) makes every atom entry ≥ 0 (every seed) and raises the atoms' "
        "Hoyer sparseness over the same point with nonneg: none (means over seeds)",
        "part-based-autoencoders-report Sec. 3.3, Sec. 3.4 Fig. 6",
        "ae points with nonneg none and project, other parameters equal",
        _projection_nonneg,
    ),
    Claim(
        "linear_ae_spans_pca",
        f"A linear AE without a penalty (β = 0 or penalty none, nonneg none) spans the PCA subspace: largest "
        f"principal angle < {PCA_ANGLE_MAX:g}° for every seed (k below the data's dimension)",
        "part-based-autoencoders-report Sec. 3.1; properties-of-autoencoders Sec. 3",
        "an ae point with linear encoder and decoder, no penalty, nonneg none, k below the data's dimension",
        _linear_ae_spans_pca,
    ),
    Claim(
        "sparse_nonneg_lower_dilation_error",
        "A sparse nonnegative AE (β > 0, nonneg project) approximates dilation better (lower max-approximation "
        "error to dilation) than the unconstrained AE (β = 0, nonneg none); means over seeds",
        "part-based-autoencoders-report Sec. 3.4, Fig. 7 and 8c",
        "ae points with a sparsity penalty at beta 0 with nonneg none and beta > 0 with nonneg project, other parameters equal",
        _sparse_nonneg_dilation,
    ),
    Claim(
        "ae_trained_like_pca",
        f"Every AE point without a sparsity term (β = 0 or penalty none) reconstructs within {PCA_RECON_FACTOR:g} × "
        "PCA's error at the same k on the same data (a nonnegative decoder: within that factor of NMF's), every "
        "seed: the AEs are trained well enough to compare (points with k ≥ the data's dimension are left out)",
        "properties-of-autoencoders Sec. 3 (an unregularised AE is close to PCA); part-based-autoencoders-report Sec. 3.1",
        "an ae point with beta 0 (or penalty none) and k below the data's dimension, and a pca point (nmf for a "
        "nonnegative decoder) with the same k on one dataset",
        _ae_trained_like_pca,
    ),
    Claim(
        "pae_kl_closer_to_prior",
        "PAE-NMF trained with the KL term (kl_weight > 0) keeps its latent distributions closer to the Weibull(1, 1) "
        "prior (smaller mean KL on the test set) than without it (kl_weight = 0); means over seeds",
        "pae-nmf-weibull-vae Sec. 3, Fig. 5; Sec. 4",
        "pae_nmf points with kl_weight 0 and > 0, other parameters equal",
        _pae_kl_closer,
    ),
)


def bars_datasets(table: pd.DataFrame) -> list[str]:
    """The datasets with a bars_recovery value: the bars datasets of this run."""
    if "bars_recovery" not in table:
        return []
    return sorted(table.loc[table["bars_recovery"].notna(), "dataset"].unique())


def check_claims(table: pd.DataFrame, bars_sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Every claim of CLAIMS on `table`: one row per (claim, dataset) it applies to, one `n/a` row when none.

    bars_sizes: {bars dataset: size} (the config's `size`); without it the bars datasets are those with a
    bars_recovery value and their size is unknown, so the claims that need it are n/a.
    """
    sizes = dict(bars_sizes) if bars_sizes is not None else dict.fromkeys(bars_datasets(table))
    ctx = Context(table, sizes)
    records = []
    for claim in CLAIMS:
        outcomes = claim.check(ctx)
        if not outcomes:
            records.append((claim.id, "", NA, f"not in this run: {claim.needs}", claim.source))
        for outcome in sorted(outcomes, key=lambda o: o.dataset):
            records.append((claim.id, outcome.dataset, PASS if outcome.passed else FAIL, outcome.evidence, claim.source))
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


# --------------------------------------------------------------------------- the report page

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Claims checked</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 12px; color: #222; }}
h1 {{ font-size: 17px; margin: 0 0 4px; }}
p {{ margin: 4px 0 8px; max-width: 70em; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
td.status {{ font-weight: bold; white-space: nowrap; }}
td.PASS {{ background: #d9f2d9; color: #145214; }}
td.FAIL {{ background: #f8d7d7; color: #8b1a1a; }}
td.na {{ background: #eeeeee; color: #666; }}
td.small {{ font-size: 12px; color: #555; }}
</style></head>
<body>
<h1>Claims checked</h1>
<p>Each qualitative claim of the seeds, tested on this run's <code>metrics.csv</code>: {summary}.
PASS/FAIL per dataset where the run has what the claim needs; n/a where it has nothing to test it with
(never PASS). The same table as CSV: <code>claims.csv</code>.</p>
<table>
<thead><tr><th>claim</th><th>dataset</th><th>status</th><th>evidence</th><th>source</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""


def claims_html(result: pd.DataFrame) -> str:
    """check_claims' table as one self-contained HTML page: PASS green, FAIL red, n/a grey."""
    texts = {claim.id: claim.text for claim in CLAIMS}
    rows = []
    for r in result.itertuples(index=False):
        css = "na" if r.status == NA else r.status
        claim = f"<b>{html.escape(r.claim)}</b><br>{html.escape(texts.get(r.claim, ''))}"
        rows.append(
            f"<tr><td>{claim}</td><td>{html.escape(r.dataset)}</td><td class=\"status {css}\">{html.escape(r.status)}</td>"
            f"<td>{html.escape(r.evidence)}</td><td class=\"small\">{html.escape(r.source)}</td></tr>"
        )
    counts = result["status"].value_counts()
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in (PASS, FAIL, NA))
    return _PAGE.format(summary=summary, body="\n".join(rows))


__all__ = ["CLAIMS", "COLUMNS", "FAIL", "NA", "PASS", "Claim", "bars_datasets", "check_claims", "claims_html"]
