"""Tests of the PAE-NMF figures (partbased.plots.pae) and scripts/plot_pae.py on tiny digits models."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import weibull_min
from sklearn.datasets import load_digits

from partbased.data import build_dataset, write_zarr
from partbased.models import PAENMF, PAENMFConfig
from partbased.plots.pae import (
    choose_pairs,
    latent_grid,
    plot_generated,
    plot_latent_distributions,
    plot_pair_distributions,
    weibull_pdf_grid,
)

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHAPE = (8, 8)
DPI = 30


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.data / 16).astype(np.float32), data.target.astype(np.int64)


def _fit(x: np.ndarray, kl_weight: float) -> PAENMF:
    config = PAENMFConfig(k=6, epochs=8, batch_size=256, lr=1e-2, kl_weight=kl_weight, device="cpu")
    return PAENMF(config).fit(x)


@pytest.fixture(scope="module")
def models(digits) -> dict[str, PAENMF]:
    x, _ = digits
    return {"with KL": _fit(x[:600], 1.0), "without KL": _fit(x[:600], 0.0)}


def _only_png(folder: Path, name: str) -> None:
    """The folder holds exactly one file, `name`, and it is a PNG (no temporary left behind)."""
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert (folder / name).read_bytes()[:8] == PNG_MAGIC


# ---------------------------------------------------------------- densities


def test_pdf_grid_matches_closed_form():
    k, lam = np.array([0.7, 1.0, 2.5]), np.array([0.5, 1.0, 3.0])
    grid = np.linspace(0.01, 5, 50)
    want = (k[:, None] / lam[:, None]) * (grid / lam[:, None]) ** (k[:, None] - 1) * np.exp(-((grid / lam[:, None]) ** k[:, None]))
    np.testing.assert_allclose(weibull_pdf_grid(k, lam, grid), want, rtol=1e-10)
    with pytest.raises(ValueError, match="positive"):
        weibull_pdf_grid([1.0, -1.0], [1.0, 1.0], grid)


@pytest.mark.parametrize("kl", ["with KL", "without KL"])
def test_plotted_pdfs_integrate_to_one(models, digits, kl):
    """On the grid the panels use, each plotted density holds ~all its mass (narrow no-KL peaks too)."""
    x, _ = digits
    k, lam = models[kl].latent_params(x[600:640])  # (40, 6) each
    for i in range(k.shape[1]):  # one panel per dimension: its lines share one grid
        grid = latent_grid(k[:, i], lam[:, i])
        pdf = weibull_pdf_grid(k[:, i], lam[:, i], grid)  # (40, g)
        for j, row in enumerate(pdf):
            if np.isfinite(row[0]):
                mass = np.trapezoid(row, grid)
            else:  # k < 1: infinite at 0; the mass in [0, grid[1]] comes from the CDF
                mass = np.trapezoid(row[1:], grid[1:]) + weibull_min.cdf(grid[1], c=k[j, i], scale=lam[j, i])
            assert mass == pytest.approx(1.0, abs=0.01)


def test_latent_grid_covers_every_distribution():
    k, lam = np.array([0.5, 1.0, 6.0]), np.array([2.0, 1.0, 0.001])
    grid = latent_grid(k, lam)
    assert grid[0] == 0 and np.all(np.diff(grid) > 0)
    assert np.all(weibull_min.cdf(grid[-1], c=k, scale=lam) >= 0.999 - 1e-9)
    narrow = (grid > 0) & (grid < 0.002)  # the λ = 0.001 peak is resolved, not skipped by the even grid
    assert narrow.sum() >= 50


# ---------------------------------------------------------------- figures


def test_latent_distributions_two_models_and_one(models, digits, tmp_path):
    x, _ = digits
    plot_latent_distributions(models, x[700:701], tmp_path / "two" / "latent.png", "t", DPI, n_dims=4, image_shape=SHAPE)
    _only_png(tmp_path / "two", "latent.png")
    plot_latent_distributions({"with KL": models["with KL"]}, x[700:701], tmp_path / "one" / "latent.png", "t", DPI)
    _only_png(tmp_path / "one", "latent.png")


def test_pair_distributions(models, digits, tmp_path):
    x, y = digits
    ia, ib, ic = choose_pairs(x[600:], y[600:], seed=0)
    test = x[600:]
    out = tmp_path / "pairs.png"
    plot_pair_distributions(models["with KL"], test[ia : ia + 1], test[ib : ib + 1], test[ic : ic + 1], out, "t", DPI, image_shape=SHAPE)
    _only_png(tmp_path, "pairs.png")


def test_pae_figures_fonts_and_lines_can_be_told_apart(models, digits, tmp_path, monkeypatch):
    """Every text >= 8 pt at the saved size; in the pairs figure no two lines share colour and dash."""
    import matplotlib.text

    from partbased.plots import style

    seen = {"sizes": [], "pairs_lines": []}
    real = style.save

    def check(fig, path, dpi):
        fig.canvas.draw()
        seen["sizes"] += [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
        if Path(path).name == "pairs.png":
            ax = fig.axes[3]  # the first density panel, after the three sample images
            seen["pairs_lines"] = [(line.get_color(), str(line.get_linestyle())) for line in ax.get_lines()]
        real(fig, path, dpi)

    monkeypatch.setattr(style, "save", check)
    x, y = digits
    ia, ib, ic = choose_pairs(x[600:], y[600:], seed=0)
    test = x[600:]
    plot_latent_distributions(models, test[:1], tmp_path / "latent.png", "t", DPI, n_dims=4, image_shape=SHAPE)
    plot_pair_distributions(models["with KL"], test[ia : ia + 1], test[ib : ib + 1], test[ic : ic + 1], tmp_path / "pairs.png", "t", DPI, image_shape=SHAPE)
    plot_generated(models["with KL"], test[:4], SHAPE, tmp_path / "generated.png", "t", DPI, n=4)
    assert seen["sizes"] and min(seen["sizes"]) >= 8, sorted(set(seen["sizes"]))
    assert len(seen["pairs_lines"]) == 3 and len(set(seen["pairs_lines"])) == 3
    assert len({color for color, _ in seen["pairs_lines"]}) == 3 and len({dash for _, dash in seen["pairs_lines"]}) == 3


def test_generated(models, digits, tmp_path):
    x, _ = digits
    plot_generated(models["with KL"], x[600:606], SHAPE, tmp_path / "generated.png", "t", DPI, n=6, seed=3)
    _only_png(tmp_path, "generated.png")


def test_mismatched_image_shape_raises_and_writes_nothing(models, digits, tmp_path):
    x, _ = digits
    m = models["with KL"]
    with pytest.raises(ValueError, match="image_shape"):
        plot_generated(m, x[:4], (7, 9), tmp_path / "g.png", "t", DPI, n=4)
    with pytest.raises(ValueError, match="image_shape"):
        plot_latent_distributions(models, x[:1], tmp_path / "l.png", "t", DPI, image_shape=(4, 4))
    with pytest.raises(ValueError, match="image_shape"):
        plot_pair_distributions(m, x[:1], x[1:2], x[2:3], tmp_path / "p.png", "t", DPI, image_shape=(64, 2))
    with pytest.raises(ValueError, match="pixels"):  # the samples do not fit the model either
        plot_pair_distributions(m, x[:1, :60], x[1:2, :60], x[2:3, :60], tmp_path / "p.png", "t", DPI)
    with pytest.raises(ValueError, match=r"\(1, pixels\)"):  # one sample only
        plot_latent_distributions(models, x[:2], tmp_path / "l.png", "t", DPI)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- choose_pairs


def test_choose_pairs_labelled(digits):
    x, y = digits
    for seed in range(5):
        ia, ib, ic = choose_pairs(x, y, seed=seed)
        assert len({ia, ib, ic}) == 3
        assert y[ia] == y[ib] and y[ic] != y[ia]
        same = np.flatnonzero((y == y[ia]) & (np.arange(len(y)) != ia))  # b is a's nearest of its class
        assert ((x[ib] - x[ia]) ** 2).sum() == pytest.approx(((x[same] - x[ia]) ** 2).sum(axis=1).min())
        assert choose_pairs(x, y, seed=seed) == (ia, ib, ic)
    assert len({choose_pairs(x, y, seed=s) for s in range(5)}) > 1  # the seed matters


def test_choose_pairs_unlabelled(digits):
    x, _ = digits
    x = np.concatenate([x[:200], x[:1]])  # an exact duplicate of sample 0 at index 200
    for seed in range(5):
        ia, ib, ic = choose_pairs(x, None, seed=seed)
        assert len({ia, ib, ic}) == 3
        d = ((x - x[ia]) ** 2).sum(axis=1)
        assert d[ib] > 0 and d[ib] == pytest.approx(d[d > 0].min())  # nearest distinct image
        assert d[ic] == pytest.approx(d.max())  # farthest
        assert choose_pairs(x, None, seed=seed) == (ia, ib, ic)
    with pytest.raises(ValueError, match="n >= 3"):
        choose_pairs(x[:2], None)


def test_choose_pairs_single_class_falls_back_to_pixels(digits):
    x, _ = digits
    ia, ib, ic = choose_pairs(x[:50], np.zeros(50, dtype=int), seed=1)
    d = ((x[:50] - x[ia]) ** 2).sum(axis=1)
    assert d[ic] == pytest.approx(d.max())


# ---------------------------------------------------------------- the script


@pytest.mark.parametrize("with_no_kl", [True, False])
def test_script_writes_three_pngs(models, digits, tmp_path, with_no_kl):
    x, y = digits
    images = x[:300].reshape(-1, *SHAPE)
    split = np.where(np.arange(300) < 200, "train", "test")
    write_zarr(build_dataset(images, y[:300], 0.3, 0, {"source": "digits"}, split=split), tmp_path / "data.zarr")
    models["with KL"].save(tmp_path / "kl.pt")
    models["without KL"].save(tmp_path / "nokl.pt")
    inputs = {"zarr": str(tmp_path / "data.zarr"), "checkpoint": str(tmp_path / "kl.pt")}
    if with_no_kl:
        inputs["no_kl"] = str(tmp_path / "nokl.pt")
    out = tmp_path / "fig"
    outputs = {name: str(out / f"{name}.png") for name in ("latent", "pairs", "generated")}
    fake = SimpleNamespace(
        input=SimpleNamespace(**inputs, get=inputs.get),
        output=SimpleNamespace(**outputs),
        params=SimpleNamespace(figures={"dpi": DPI, "n_generated": 4, "n_latent_dims": 6, "seed": 0}),
        wildcards=SimpleNamespace(dataset="digits", model="pae_nmf", params="k~6/seed~0"),
        log=[str(tmp_path / "log" / "plot_pae.log")],
    )
    runpy.run_path(str(REPO / "scripts" / "plot_pae.py"), init_globals={"snakemake": fake})
    assert sorted(p.name for p in out.iterdir()) == ["generated.png", "latent.png", "pairs.png"]
    for path in out.iterdir():
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert "wrote" in (tmp_path / "log" / "plot_pae.log").read_text()


def test_weibull_closed_forms_are_scipys():
    from partbased.plots.pae import _weibull_pdf, _weibull_ppf

    k = np.array([0.5, 1.0, 1.7, 4.0])[:, None]
    lam = np.array([0.3, 1.0, 2.5, 0.8])[:, None]
    h = np.linspace(0.0, 5.0, 51)[None, :]
    with np.errstate(divide="ignore"):  # k < 1 at h = 0: inf on both sides
        np.testing.assert_allclose(_weibull_pdf(h, k, lam), weibull_min.pdf(h, c=k, scale=lam), rtol=1e-12, atol=0)
    q = np.linspace(0.001, 0.999, 37)[None, :]
    np.testing.assert_allclose(_weibull_ppf(q, k, lam), weibull_min.ppf(q, c=k, scale=lam), rtol=1e-12)
