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


@pytest.mark.parametrize(
    "source, shape, n, labelled",
    [("mnist5k", (28, 28), 5000, True), ("digits", (8, 8), 1797, True), ("lfw_faces", (25, 25), 100, False), ("bars", (4, 4), 250, False)],
)
def test_sources(source, shape, n, labelled):
    images, labels, _ = load_source({"source": source})
    assert images.shape == (n, *shape) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.max() >= 0.5
    assert (labels is not None) == labelled
    if labelled:
        assert set(np.unique(labels)) == set(range(10))


def test_unknown_source_lists_known():
    with pytest.raises(ValueError, match=r"unknown data source 'svhn'; known: \['bars', 'cbcl', 'digits', 'fashion_mnist', 'lfw_faces', 'matrix', 'mnist', 'mnist5k', 'olivetti'\]"):
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


def test_lfw_faces_are_the_faces_of_the_bundled_subset():
    from skimage.data import lfw_subset

    images, _, _ = load_source({"source": "lfw_faces"})
    everything = lfw_subset()
    np.testing.assert_array_equal(images, everything[:100].astype(np.float32))  # the faces, not the 100 non-faces after them


def official_split(n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images tagged by index, labels 0..4 cycling, and an official split: train first, then test."""
    n = n_train + n_test
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1) * np.ones((1, 2, 2), np.float32)
    split = np.array(["train"] * n_train + ["test"] * n_test, dtype=object)
    return images, np.arange(n) % 5, split


def test_subset_of_an_official_split_is_seeded_stratified_and_in_order():
    images, labels, split = official_split(600, 100)
    ds = build_dataset(images, labels, 0.2, seed=3, attrs={}, split=split, n_train=100, n_test=50)
    kept = ds["image"].values[:, 0, 0].astype(int)  # the original index of each kept image
    part = ds["split"].values
    assert (part == "train").sum() == 100 and (part == "test").sum() == 50
    assert np.all(kept[part == "train"] < 600) and np.all(kept[part == "test"] >= 600)  # the official split is kept
    assert np.all(np.diff(kept) > 0)  # in the source's order
    np.testing.assert_array_equal(np.bincount(ds["label"].values[part == "train"]), [20] * 5)  # stratified
    np.testing.assert_array_equal(np.bincount(ds["label"].values[part == "test"]), [10] * 5)
    np.testing.assert_array_equal(ds["label"].values, labels[kept])
    again = build_dataset(images, labels, 0.2, seed=3, attrs={}, split=split, n_train=100, n_test=50)
    other = build_dataset(images, labels, 0.2, seed=4, attrs={}, split=split, n_train=100, n_test=50)
    assert np.array_equal(again["image"].values, ds["image"].values) and not np.array_equal(other["image"].values, ds["image"].values)


def test_subset_of_one_part_only_and_of_a_seeded_split():
    images, labels, split = official_split(600, 100)
    ds = build_dataset(images, labels, 0.2, seed=0, attrs={}, split=split, n_train=60)
    assert (ds["split"].values == "train").sum() == 60 and (ds["split"].values == "test").sum() == 100  # n_test absent: all
    digits, digit_labels, _ = load_source({"source": "digits"})  # no official split: split first, then the subset
    ds = build_dataset(digits, digit_labels, 0.25, seed=0, attrs={}, n_train=500, n_test=100)
    assert (ds["split"].values == "train").sum() == 500 and (ds["split"].values == "test").sum() == 100
    bars, _, _ = load_source({"source": "bars", "n_samples": 50})  # unlabelled: a plain seeded subset
    ds = build_dataset(bars, None, 0.2, seed=0, attrs={}, n_train=10)
    assert ds.sizes["sample"] == 20 and "label" not in ds.coords


def test_subset_larger_than_its_split_names_the_key():
    images, labels, split = official_split(60, 10)
    with pytest.raises(ValueError, match=r"dataset 'mnist': n_test = 11 is more than the 10 images of its test split"):
        build_dataset(images, labels, 0.2, seed=0, attrs={"name": "mnist"}, split=split, n_test=11)
    with pytest.raises(ValueError, match=r"n_train = 3: no stratified subset of the train split"):  # 3 images, 5 classes
        build_dataset(images, labels, 0.2, seed=0, attrs={}, split=split, n_train=3)
