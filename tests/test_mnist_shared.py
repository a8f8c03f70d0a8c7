"""Full MNIST from the shared folder (the official files, recompressed): the loader and one small
real-data workflow run. Skipped where the folder is absent, as on a user's fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, snakemake, write_config
from partbased.data import download_source, load_source, read_split

SHARED_MNIST = Path(os.environ.get("PARTBASED_SHARED_MNIST", REPO.parent / "shared" / "data" / "mnist"))
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
pytestmark = pytest.mark.skipif(
    not all((SHARED_MNIST / f"{name}.gz").exists() for name in FILES),
    reason=f"no full MNIST at {SHARED_MNIST} (the shared folder beside the repository, or $PARTBASED_SHARED_MNIST)",
)

# the official label counts (LeCun, Cortes, Burges), train and t10k
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_loader_on_the_shared_files(tmp_path):
    spec = {"name": "mnist", "source": "mnist", "mirrors": [str(SHARED_MNIST)]}
    download_source(spec, tmp_path)  # what download_dataset runs: fetch, verify, parse
    # recompressed files: accepted by their unpacked content's sha256 and kept unpacked
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(FILES)
    images, labels, split = load_source(spec, tmp_path)
    assert images.shape == (70000, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 1
    assert list(split[:60000]) == ["train"] * 60000 and list(split[60000:]) == ["test"] * 10000
    assert np.bincount(labels[:60000]).tolist() == TRAIN_COUNTS
    assert np.bincount(labels[60000:]).tolist() == TEST_COUNTS


def test_small_workflow_on_a_subset_of_full_mnist(tmp_path):
    """One AE point, a few epochs, on 4000 + 1000 images drawn from the official split (n_train, n_test)."""
    config = {
        "datasets": [{"name": "mnist", "source": "mnist", "mirrors": [str(SHARED_MNIST)], "n_train": 4000, "n_test": 1000, "seed": 0}],
        "models": [
            {
                "type": "ae",
                "grid": {"k": [16], "beta": [0.0]},
                # a linear decoder: with a sigmoid one, a few epochs stay at the mean image (about 0.065)
                "settings": {"epochs": 10, "batch_size": 32, "lr": 0.005, "decoder_activation": "linear"},
            }
        ],
        "evaluation": {"seed": 0, "svm": {"n_C": 3, "cv_splits": 2, "cv_test_size": 0.2, "eval_splits": 3, "eval_test_size": 0.3}},
        "figures": {"per_point": False, "dpi": 30},
    }
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2")
    results = tmp_path / "results"
    train, test = read_split(results / "data" / "mnist.zarr", "train"), read_split(results / "data" / "mnist.zarr", "test")
    assert train.x.shape == (4000, 784) and test.x.shape == (1000, 784)
    # stratified: each digit keeps its share of the official split, to within one image
    assert np.all(np.abs(np.bincount(train.labels) - np.array(TRAIN_COUNTS) * 4000 / 60000) <= 1)
    assert np.all(np.abs(np.bincount(test.labels) - np.array(TEST_COUNTS) * 1000 / 10000) <= 1)
    table = pd.read_csv(results / "metrics.csv")
    assert len(table) == 1 and table["status"].item() == "ok"
    # learned something: well below predicting the mean image, and codes that classify far above chance
    assert table["recon_error"].item() < 0.75 * test.x.var(axis=0).mean()
    assert table["svm_accuracy"].item() > 0.5
