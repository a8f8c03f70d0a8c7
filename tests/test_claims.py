"""The seeds' claims (partbased.claims) on small synthetic metrics tables: PASS, FAIL, and n/a when the run lacks
what a claim needs; the light import; the report page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partbased.claims import CLAIMS, COLUMNS, FAIL, NA, PASS, check_claims, claims_html

AE = {"penalty": "kl", "encoder_activation": "sigmoid", "decoder_activation": "sigmoid", "nonneg": "none", "beta": 0.0}


def _row(dataset, model, family, seed=0, **values):
    return {"dataset": dataset, "model": model, "family": family, "seed": seed, "status": "ok", **values}


def paper_table() -> pd.DataFrame:
    """A run in which every claim holds: two seeds of every point."""
    rows = []
    for seed in (0, 1):
        rows += [
            _row("digits", "pca", "pca", seed, k=16, hoyer_atoms=0.30, recon_error=0.020, atoms_min=-0.4),
            _row("digits", "nmf", "nmf", seed, k=16, hoyer_atoms=0.60 + 0.01 * seed, recon_error=0.025, atoms_min=0.0),
            _row("bars", "nmf", "nmf", seed, k=8, bars_recovery=1.0, pixel_atoms=0.0, hoyer_atoms=0.7),
            _row("bars", "sparse_nmf", "sparse_nmf", seed, k=36, lam=0.0, bars_recovery=0.875, pixel_atoms=0.9),
            _row("bars", "sparse_nmf", "sparse_nmf", seed, k=36, lam=0.25, bars_recovery=1.0, pixel_atoms=0.0),
            _row("digits", "pae_nmf", "pae_nmf", seed, k=16, kl_weight=0.0, latent_kl=40.0),
            _row("digits", "pae_nmf", "pae_nmf", seed, k=16, kl_weight=1.0, latent_kl=3.0),
            _row("digits", "ae_lin", "ae", seed, k=16, **{**AE, "encoder_activation": "linear", "decoder_activation": "linear",
                                                         "penalty": "none", "beta": 0.1}, pca_angle_max=2.0, recon_error=0.0205),
        ]
        # the sparse AE: β 0, 0.1, 1 x nonneg none/project; codes sparsest at β = 0.1, then collapsing
        for beta, recon, hoyer, dil in ((0.0, 0.022, 0.2, 0.05), (0.1, 0.030, 0.5, 0.03), (1.0, 0.060, 0.1, 0.04)):
            for nonneg, h_atoms, a_min, d in (("none", 0.2, -0.5, dil), ("project", 0.5, 0.0, dil * 0.8)):
                rows.append(_row("digits", "ae", "ae", seed, k=16, **{**AE, "beta": beta, "nonneg": nonneg}, recon_error=recon,
                                 hoyer_codes=hoyer, hoyer_atoms=h_atoms, atoms_min=a_min, dilation_error=d, pca_angle_max=40.0))
    return pd.DataFrame(rows)


def _status(result: pd.DataFrame, claim: str) -> dict[str, str]:
    return dict(zip(result.loc[result["claim"] == claim, "dataset"], result.loc[result["claim"] == claim, "status"]))


def test_every_claim_passes_on_a_run_where_it_holds():
    result = check_claims(paper_table(), bars_sizes={"bars": 4})
    assert list(result.columns) == list(COLUMNS)
    assert [c.id for c in CLAIMS] == list(dict.fromkeys(result["claim"]))
    assert (result["status"] == PASS).all(), result.to_string()
    assert _status(result, "nmf_recovers_bars") == {"bars": PASS} and _status(result, "nmf_atoms_sparser_than_pca") == {"digits": PASS}
    evidence = dict(zip(result["claim"], result["evidence"]))
    assert "0.6–0.61 (2 seeds) vs PCA 0.3 (2 seeds)" in evidence["nmf_atoms_sparser_than_pca"]
    assert "peak at β=0.1" in evidence["sparse_ae_tradeoff"]
    assert all(c.source for c in CLAIMS) and result["source"].str.contains("Sec.").all()


def _mutate(table, where, **values):
    table = table.copy()
    mask = np.ones(len(table), bool)
    for column, value in where.items():
        mask &= (table[column] == value).to_numpy()
    assert mask.any()
    for column, value in values.items():
        table.loc[mask, column] = value
    return table


FAILING = {
    # one NMF seed's atoms as dense as PCA's
    "nmf_atoms_sparser_than_pca": lambda t: _mutate(t, {"family": "nmf", "dataset": "digits", "seed": 1}, hoyer_atoms=0.3),
    "nmf_recovers_bars": lambda t: _mutate(t, {"family": "nmf", "dataset": "bars", "seed": 1}, bars_recovery=0.875),
    "sparse_nmf_overcomplete_bars": lambda t: _mutate(t, {"family": "sparse_nmf", "lam": 0.0}, pixel_atoms=0.2),
    # reconstruction improving with β
    "sparse_ae_tradeoff": lambda t: _mutate(t, {"model": "ae", "beta": 1.0}, recon_error=0.01),
    "projection_nonneg_sparser_atoms": lambda t: _mutate(t, {"model": "ae", "nonneg": "project", "seed": 0}, atoms_min=-1e-3),
    "linear_ae_spans_pca": lambda t: _mutate(t, {"model": "ae_lin", "seed": 1}, pca_angle_max=12.0),  # one unlucky seed
    "sparse_nonneg_lower_dilation_error": lambda t: _mutate(t, {"model": "ae", "nonneg": "project", "beta": 1.0}, dilation_error=0.09),
    "ae_trained_like_pca": lambda t: _mutate(t, {"model": "ae", "beta": 0.0, "nonneg": "none"}, recon_error=0.025),
    "pae_kl_closer_to_prior": lambda t: _mutate(t, {"family": "pae_nmf", "kl_weight": 1.0}, latent_kl=50.0),
}

ABSENT = {  # the run lacks what the claim needs
    "nmf_atoms_sparser_than_pca": lambda t: t[t["family"] != "pca"],
    "nmf_recovers_bars": lambda t: t.assign(k=t["k"].where(t["family"] != "nmf", 16)),  # no k = 2·size
    "sparse_nmf_overcomplete_bars": lambda t: t[t["lam"] != 0.25],
    "sparse_ae_tradeoff": lambda t: t[t["beta"] != 1.0],  # only two β values
    "projection_nonneg_sparser_atoms": lambda t: t.drop(columns="atoms_min"),  # a table from before the column
    "linear_ae_spans_pca": lambda t: t[t["model"] != "ae_lin"],
    "sparse_nonneg_lower_dilation_error": lambda t: t[~((t["model"] == "ae") & (t["nonneg"] == "none"))],
    "ae_trained_like_pca": lambda t: t[~t["family"].isin(["pca", "nmf"])],
    "pae_kl_closer_to_prior": lambda t: t[t["kl_weight"] != 0.0],
}


@pytest.mark.parametrize("claim", [c.id for c in CLAIMS])
def test_claim_fails_when_the_numbers_contradict_it(claim):
    result = check_claims(FAILING[claim](paper_table()), bars_sizes={"bars": 4})
    assert set(_status(result, claim).values()) == {FAIL}, result.to_string()
    others = result[result["claim"] != claim]
    assert (others["status"] == PASS).all(), others.to_string()  # each mutation breaks its own claim only


@pytest.mark.parametrize("claim", [c.id for c in CLAIMS])
def test_claim_is_na_when_the_run_lacks_what_it_needs(claim):
    result = check_claims(ABSENT[claim](paper_table()), bars_sizes={"bars": 4})
    rows = result[result["claim"] == claim]
    assert rows["status"].tolist() == [NA] and rows["dataset"].tolist() == [""]
    assert rows["evidence"].item().startswith("not in this run: ")


def test_a_nonnegative_decoder_is_held_to_nmf_and_full_rank_points_are_left_out():
    table = paper_table()
    # 0.028 is above 1.2 × PCA (0.024) but within 1.2 × NMF (0.03): a projected decoder passes, a free one does not
    result = check_claims(_mutate(table, {"model": "ae", "beta": 0.0, "nonneg": "project"}, recon_error=0.028))
    assert _status(result, "ae_trained_like_pca") == {"digits": PASS}
    assert "nonneg=project: recon. error 0.028 (2 seeds) vs 1.2 × NMF = 0.03" in result.set_index("claim").loc["ae_trained_like_pca", "evidence"]
    result = check_claims(_mutate(table, {"model": "ae", "beta": 0.0, "nonneg": "none"}, recon_error=0.028))
    assert _status(result, "ae_trained_like_pca") == {"digits": FAIL}
    assert "✗ ae k=16 nonneg=none" in result.set_index("claim").loc["ae_trained_like_pca", "evidence"]
    assert _status(check_claims(table[table["family"] != "nmf"]), "ae_trained_like_pca") == {"digits": PASS}  # free decoders only
    # k ≥ the data's dimension (pca_angle_max empty on an ok row): PCA reconstructs exactly, nothing to test
    full = table.assign(pca_angle_max=np.nan)
    assert _status(check_claims(full), "ae_trained_like_pca") == {"": NA}
    assert _status(check_claims(full), "linear_ae_spans_pca") == {"": NA}


def test_bars_claims_are_na_without_the_bars_size_and_found_by_their_column():
    result = check_claims(paper_table())  # the bars dataset is found (bars_recovery), its size is not known
    assert _status(result, "nmf_recovers_bars") == {"": NA} and _status(result, "sparse_nmf_overcomplete_bars") == {"": NA}
    assert _status(result, "nmf_atoms_sparser_than_pca") == {"digits": PASS}


def test_a_diverged_point_fails_a_claim_on_every_seed():
    table = _mutate(paper_table(), {"model": "ae_lin", "seed": 0}, pca_angle_max=np.nan, status="diverged")
    result = check_claims(table, bars_sizes={"bars": 4})
    assert _status(result, "linear_ae_spans_pca") == {"digits": FAIL}
    assert result.loc[result["claim"] == "linear_ae_spans_pca", "evidence"].item() == "ae_lin k=16: angle to PCA 2° (2 seeds, 1 nan)"


def test_empty_cells_of_other_families_do_not_match_a_value():
    # a PCA row has no beta: it is never an "AE at β = 0", and a table with PCA alone tests nothing
    pca_only = paper_table().query("family == 'pca'")
    assert (check_claims(pca_only)["status"] == NA).all()


def test_claims_page_colours_the_status():
    result = check_claims(FAILING["linear_ae_spans_pca"](paper_table()).query("family != 'pae_nmf'"), bars_sizes={"bars": 4})
    page = claims_html(result)
    assert page.count('class="status PASS"') == (result["status"] == PASS).sum()
    assert page.count('class="status FAIL"') == 1 and page.count('class="status na"') == 1
    assert "spans the PCA subspace" in page and "eggert-koerner Sec. IV-A" in page


def test_importing_claims_imports_no_heavy_library():
    code = "import sys, partbased.claims; print(sorted(m for m in ('torch', 'sklearn', 'skimage', 'scipy', 'matplotlib') if m in sys.modules))"
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.strip() == "[]"
