"""Data sources, the bars generator and the zarr store."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from partbased.data import build_dataset, load_source, make_bars, read_split, single_bars, write_zarr


def test_bars_follow_eggert_koerner():
    images, n_lines = make_bars(300, size=4, seed=0)
    assert images.shape == (300, 4, 4) and images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images.reshape(300, -1), axis=1), 1.0, rtol=1e-6)
    assert set(np.unique(n_lines)) == {1, 2, 3, 4}
    bars = single_bars(4).reshape(8, -1)
    for img, n in zip(images.reshape(300, -1), n_lines):
        support = img > 0  # thresholded: a single positive level on the union of its lines
        assert np.allclose(img[support], img[support][0])
        covering = [b for b in bars if np.all(support[b > 0])]  # the bars inside the support
        assert 1 <= len(covering) and np.array_equal(np.any([b > 0 for b in covering], axis=0), support)
        assert len(covering) >= n


def test_bars_seeded():
    a, _ = make_bars(20, seed=3)
    b, _ = make_bars(20, seed=3)
    c, _ = make_bars(20, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bars_reject_impossible_line_counts():
    with pytest.raises(ValueError, match="max_lines"):
        make_bars(10, size=2, max_lines=5)


@pytest.mark.parametrize("source, shape, n, labelled", [("mnist5k", (28, 28), 5000, True), ("digits", (8, 8), 1797, True), ("bars", (4, 4), 250, False)])
def test_sources(source, shape, n, labelled):
    images, labels, _ = load_source({"source": source})
    assert images.shape == (n, *shape) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.max() >= 0.5
    assert (labels is not None) == labelled
    if labelled:
        assert set(np.unique(labels)) == set(range(10))


def test_unknown_source_lists_known():
    with pytest.raises(ValueError, match=r"unknown data source 'svhn'; known: \['bars', 'cbcl', 'digits', 'fashion_mnist', 'matrix', 'mnist', 'mnist5k', 'olivetti'\]"):
        load_source({"source": "svhn"})


def test_zarr_store_round_trip(tmp_path):
    images, labels, _ = load_source({"source": "digits"})
    ds = build_dataset(images, labels, test_fraction=0.25, seed=0, attrs={"source": "digits"})
    path = tmp_path / "digits.zarr"
    write_zarr(ds, path)
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left beside it
    store = xr.open_zarr(path, consolidated=False)
    assert store["image"].dims == ("sample", "y", "x") and store["image"].dtype == np.float32
    assert set(store.coords) >= {"label", "split"}
    train, test = read_split(path, "train"), read_split(path, "test")
    assert len(train.x) + len(test.x) == len(images) and abs(len(test.x) - 0.25 * len(images)) <= 1
    assert train.image_shape == (8, 8) and train.x.shape[1] == 64
    # stratified: each class keeps its share in the test split
    np.testing.assert_allclose(np.bincount(test.labels) / len(test.labels), np.bincount(labels) / len(labels), atol=0.01)
    # the same seed gives the same split
    write_zarr(build_dataset(images, labels, 0.25, 0, {}), tmp_path / "again.zarr")
    assert np.array_equal(read_split(tmp_path / "again.zarr", "test").x, test.x)


def test_unlabelled_store_has_no_labels(tmp_path):
    images, labels, _ = load_source({"source": "bars", "n_samples": 50})
    write_zarr(build_dataset(images, labels, 0.2, 0, {}), tmp_path / "bars.zarr")
    assert read_split(tmp_path / "bars.zarr", "test").labels is None


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    images, labels, _ = load_source({"source": "bars", "n_samples": 50})
    ds = build_dataset(images, labels, 0.2, 0, {})

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", explode)
    with pytest.raises(OSError, match="disk full"):
        write_zarr(ds, tmp_path / "bars.zarr")
    assert list(tmp_path.iterdir()) == []
