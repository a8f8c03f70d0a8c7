"""Figures and report tables (partbased.plots): the image picks, Pareto front, HTML table, signed atoms,
fonts, and that table-read figure jobs import no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image
import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from partbased.plots import style
from partbased.plots.columns import METRICS
from partbased.plots.comparison import pareto_front, plot_metric_table, plot_model_metrics, plot_tradeoff, plot_train_seconds, point_labels
from partbased.plots.hyperparams import plot_metrics
from partbased.plots.images import pick_images, plot_atoms, plot_code_histograms, plot_dilation, plot_reconstructions
from partbased.plots.penalties import penalty_curves, plot_penalties
from partbased.plots.tables import cell_text, metrics_html, read_rows, read_table, reading_order

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _rows(n_ae: int = 4) -> pd.DataFrame:
    """A small metrics table of one dataset: pca, nmf (one point each) and an AE grid, one diverged."""
    rng = np.random.default_rng(0)
    rows = [
        {"dataset": "digits", "model": "pca", "family": "pca", "k": 16, "seed": 0},
        {"dataset": "digits", "model": "nmf", "family": "nmf", "k": 16, "seed": 0},
    ]
    for i in range(n_ae):
        rows.append({"dataset": "digits", "model": "ae", "family": "ae", "k": 16, "beta": [0.0, 0.1][i % 2], "project": i >= 2, "seed": 0})
    table = pd.DataFrame(rows)
    for metric in METRICS:
        table[metric] = rng.uniform(0.1, 0.9, len(table))
    table["dilation_error"] = [0.05, 0.04, 18.0, 0.03, 0.02, 0.03][: len(table)]
    table["status"] = "ok"
    table.loc[len(table) - 1, "status"] = "diverged"
    table.loc[len(table) - 1, [m for m in METRICS if m != "train_seconds"]] = np.nan
    table["k"] = table["k"].astype(float)  # as read back from a CSV where other models lack k
    return table


# ---------------------------------------------------------------- picks


def test_picks_spread_over_classes_and_repeat():
    labels = np.repeat(np.arange(10), 30)  # ordered by label, as the test split is: first rows are all zeros
    picks = pick_images(labels, 10, seed=0)
    assert sorted(labels[picks]) == list(range(10))  # every class once
    assert np.array_equal(picks, pick_images(labels, 10, seed=0))  # the same for every model
    assert not np.array_equal(picks, pick_images(labels, 10, seed=1))
    assert np.array_equal(pick_images(labels, 8, seed=0), picks[:8])  # fewer picks: a prefix (PAE originals)
    three = pick_images(np.array([0] * 50 + [1] * 5 + [2] * 5), 10, seed=0)
    assert len(set(three)) == 10 and len({0, 1, 2} - set(np.array([0] * 50 + [1] * 5 + [2] * 5)[three])) == 0


def test_picks_unlabelled_are_distinct_and_seeded():
    picks = pick_images(None, 10, seed=3, n_samples=200)
    assert len(set(picks)) == 10 and picks.max() < 200 and np.array_equal(picks, pick_images(None, 10, seed=3, n_samples=200))
    assert len(pick_images(None, 10, seed=0, n_samples=4)) == 4
    with pytest.raises(ValueError, match="n_samples"):
        pick_images(None, 3, seed=0)


def test_mnist5k_test_split_picks_show_every_class(tmp_path):
    """The real thing: mnist5k's test split is ordered by label (its first ten rows are all zeros);
    the figures' picks from the prepared store show every class."""
    from partbased.data import build_dataset, load_source, read_split, write_zarr

    spec = {"name": "mnist5k", "source": "mnist5k", "test_fraction": 0.2, "seed": 0}
    images, labels, split = load_source(spec)
    write_zarr(build_dataset(images, labels, 0.2, 0, spec, split=split), tmp_path / "m.zarr")
    test = read_split(tmp_path / "m.zarr", "test")
    assert len(set(test.labels[:10])) == 1  # what taking the first rows showed
    assert sorted(test.labels[pick_images(test.labels, 10, seed=0)]) == list(range(10))


# ---------------------------------------------------------------- tables


def test_read_rows_concatenates_points_and_keeps_identity_first(tmp_path):
    table = _rows()
    paths = []
    for i, row in table.iterrows():
        path = tmp_path / f"{i}.csv"
        row.dropna().to_frame().T.to_csv(path, index=False)
        paths.append(path)
    back = read_rows(paths)
    assert len(back) == len(table) and list(back.columns[:3]) == ["dataset", "model", "family"]
    assert back["beta"].isna().sum() == 2  # pca and nmf have no beta
    with pytest.raises(ValueError, match="no metrics rows"):
        read_rows([])


def test_html_table_has_every_row_integer_k_and_directions():
    table = _rows()
    page = metrics_html(table)
    assert page.count("<tr") == len(table) + 1  # header + one per point
    assert ">16.0<" not in page and ">16<" in page  # k prints as an integer
    assert "recon_error ↓" in page and "svm_accuracy ↑" in page and "hoyer_atoms</th>" in page
    assert 'class="diverged"' in page and "addEventListener" in page  # sortable, diverged marked
    assert "http" not in page  # self-contained


def test_metrics_page_shows_identity_then_metrics_then_settings():
    columns = ["dataset", "model", "family", "alpha", "beta", "k", "lr", "seed", "recon_error", "hoyer_codes", "svm_accuracy", "status"]
    order = reading_order(columns)
    assert order[:5] == ["dataset", "model", "family", "k", "seed"]
    assert order[5:9] == ["recon_error", "hoyer_codes", "svm_accuracy", "status"]  # before any setting
    assert order[9:] == ["alpha", "beta", "lr"] and sorted(order) == sorted(columns)


def test_integers_stay_integers_where_other_rows_leave_them_empty(tmp_path):
    table = pd.DataFrame({"dataset": ["d", "d"], "model": ["a", "b"], "k": [16, None], "epochs": [None, 20000], "beta": [0.0, 1.0]})
    table = table.astype({"k": "Int64", "epochs": "Int64"})  # as aggregate_metrics writes them: 16 and an empty cell
    table.to_csv(tmp_path / "metrics.csv", index=False)
    back = read_table(tmp_path / "metrics.csv")
    assert str(back["k"].dtype) == "Int64" and str(back["epochs"].dtype) == "Int64" and back["beta"].dtype.kind == "f"
    assert cell_text(back["epochs"][1], "epochs") == "20000" and cell_text(back["k"][0], "k") == "16"
    assert cell_text(0.1234567, "recon_error") == "0.1235" and cell_text(0.00012345678, "lr") == "0.000123457"
    for i, row in table.iterrows():
        row.dropna().to_frame().T.infer_objects().to_csv(tmp_path / f"{i}.csv", index=False)
    rows = read_rows([tmp_path / "0.csv", tmp_path / "1.csv"])
    assert str(rows["k"].dtype) == "Int64" and str(rows["epochs"].dtype) == "Int64"


# ---------------------------------------------------------------- cross-model figures


def test_pareto_front():
    recon = np.array([0.1, 0.2, 0.3, 0.25, np.nan, 0.1])
    sparse = np.array([0.2, 0.5, 0.9, 0.4, 0.99, 0.1])
    # 3 is beaten by 1 (lower error, higher sparseness); 5 ties 0 on error with less sparseness; NaN never
    assert pareto_front(recon, sparse).tolist() == [True, True, True, False, False, False]


def test_pareto_front_matches_the_definition_on_random_points():
    rng = np.random.default_rng(1)
    recon = rng.integers(0, 8, 300).astype(float)  # many ties
    sparse = rng.integers(0, 8, 300).astype(float)
    recon[::37] = np.nan
    brute = np.array([
        np.isfinite(r) and np.isfinite(h) and not np.any((recon <= r) & (sparse >= h) & ((recon < r) | (sparse > h)))
        for r, h in zip(recon, sparse)
    ])
    assert np.array_equal(pareto_front(recon, sparse), brute) and brute.sum() >= 2


def test_point_labels_name_only_what_varies():
    labels = point_labels(_rows())
    assert labels.iloc[0] == "pca" and labels.iloc[2] == "ae beta=0, project=False"


def _font_sizes_at_save(monkeypatch) -> list[float]:
    """Record the font size of every visible text of each figure as it is saved."""
    sizes: list[float] = []
    real = style.save

    def check(fig, path, dpi):
        fig.canvas.draw()
        sizes.extend(t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip())
        real(fig, path, dpi)

    monkeypatch.setattr(style, "save", check)
    return sizes


def test_every_figure_is_a_png_with_fonts_of_at_least_8_pt(monkeypatch, tmp_path):
    sizes = _font_sizes_at_save(monkeypatch)
    rows = _rows()
    models = ["pca", "nmf", "ae"]
    plot_tradeoff(rows, tmp_path / "tradeoff.png", "digits", 40, models)
    plot_model_metrics(rows, tmp_path / "metrics.png", "digits", 40, models)
    plot_train_seconds(rows, tmp_path / "seconds.png", "digits", 40, models)
    plot_metric_table(rows, tmp_path / "table.png", "digits", 40, models)
    plot_metrics(rows[rows["model"] == "ae"], ["k", "beta", "project", "seed"], tmp_path / "hyper.png", "ae on digits", 40)
    plot_penalties(tmp_path / "penalties.png", 40)
    x = np.random.default_rng(0).random((4, 64), dtype=np.float32)
    plot_atoms(x - 0.5, (8, 8), tmp_path / "atoms.png", "t", 4, 40)
    plot_reconstructions(x, x, (8, 8), tmp_path / "recon.png", "t", 40)
    plot_code_histograms(x, x[:, :16], (8, 8), tmp_path / "codes.png", "t", 40, labels=[0, 1, 2, 3])
    plot_dilation(x, x, x, (8, 8), tmp_path / "dil.png", "t", 40)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 10 and all((tmp_path / p).read_bytes()[:8] == PNG for p in written)
    assert sizes and min(sizes) >= 8, sorted(set(sizes))


def test_one_point_grid_has_nothing_to_plot_against(tmp_path):
    rows = _rows()
    with pytest.raises(ValueError, match="varies none"):
        plot_metrics(rows[rows["model"] == "pca"], ["k", "seed"], tmp_path / "x.png", "pca on digits", 40)


def _colors(path: Path) -> np.ndarray:
    return matplotlib.image.imread(path)[..., :3].reshape(-1, 3)


def test_signed_atoms_on_a_diverging_scale_nonnegative_in_grey(tmp_path):
    atoms = np.tile(np.linspace(-1, 1, 64, dtype=np.float32), (4, 1))
    plot_atoms(atoms, (8, 8), tmp_path / "signed.png", "t", 4, 40)
    plot_atoms(np.abs(atoms), (8, 8), tmp_path / "nonneg.png", "t", 4, 40)
    signed, grey = _colors(tmp_path / "signed.png"), _colors(tmp_path / "nonneg.png")
    red = (signed[:, 0] > 0.6) & (signed[:, 2] < 0.4)
    blue = (signed[:, 2] > 0.6) & (signed[:, 0] < 0.4)
    assert red.sum() > 50 and blue.sum() > 50  # both signs visible
    assert np.abs(grey - grey.mean(axis=1, keepdims=True)).max() < 0.05  # grey only
    assert style.is_signed(atoms) and not style.is_signed(np.abs(atoms))


def test_penalties_curves_are_the_aes_own():
    t = np.array([0.1, 0.3, 0.6])
    curves = penalty_curves(0.3, t, ["kl", "l2", "log"], eps=1e-8)
    assert np.allclose(curves["l2"], (0.3 - t) ** 2)
    assert np.allclose(curves["log"], np.log1p((0.3 - t) ** 2))
    kl = 0.3 * np.log(0.3 / t) + 0.7 * np.log(0.7 / (1 - t))
    assert np.allclose(curves["kl"], kl, atol=1e-6) and curves["kl"][1] == pytest.approx(0, abs=1e-9)


# ---------------------------------------------------------------- jobs that read tables import no torch


@pytest.mark.parametrize("script", ["plot_comparison.py", "plot_metrics.py", "render_metrics_table.py"])
def test_table_figure_scripts_do_not_import_torch(tmp_path, script):
    rows = _rows()
    paths = []
    for i, row in rows.iterrows():
        paths.append(tmp_path / f"{i}.csv")
        row.to_frame().T.to_csv(paths[-1], index=False)
    rows.to_csv(tmp_path / "metrics.csv", index=False)
    out = tmp_path / "out"
    ae_rows = [str(p) for p, model in zip(paths, rows["model"]) if model == "ae"]
    fake = {
        "plot_comparison.py": {
            "input": {"rows": [str(p) for p in paths]},
            "output": {k: str(out / f"{k}.png") for k in ("tradeoff", "metrics", "seconds", "table")},
            "wildcards": {"dataset": "digits"},
            "params": {"models": ["pca", "nmf", "ae"], "dpi": 30},
        },
        "plot_metrics.py": {
            "input": {"rows": ae_rows},
            "output": {"figure": str(out / "m.png")},
            "wildcards": {"dataset": "digits", "model": "ae"},
            "params": {"hyperparams": ["k", "beta", "project"], "dpi": 30},
        },
        "render_metrics_table.py": {"input": {"table": str(tmp_path / "metrics.csv")}, "output": {"page": str(out / "metrics.html")}},
    }[script]
    code = f"""
import runpy, sys
class Namespace(dict):
    __getattr__ = dict.__getitem__
snakemake = Namespace({{key: Namespace(value) for key, value in {fake!r}.items()}}, log=[{str(tmp_path / "log.txt")!r}])
runpy.run_path({str(REPO / "scripts" / script)!r}, init_globals={{"snakemake": snakemake}})
assert "torch" not in sys.modules, "torch was imported"
print("OK")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    log = (tmp_path / "log.txt").read_text() if (tmp_path / "log.txt").exists() else ""
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr + log
    assert all(p.read_bytes()[:8] == PNG for p in out.glob("*.png"))
    assert any(out.iterdir())
