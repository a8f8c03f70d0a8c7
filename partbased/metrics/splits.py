"""The SVM protocol's stratified splits, drawn exactly as scikit-learn draws them, without importing it.

`train_test_split(..., stratify=y, random_state=s)` and `StratifiedShuffleSplit(n, test_size,
random_state=s).split(X, y)` (sklearn/model_selection/_split.py: `_iter_indices`,
`_validate_shuffle_split`; sklearn/utils/extmath.py: `_approximate_mode`), call for call on the same
`np.random.RandomState`, so that the indices are identical (tests/test_svm.py compares them with
scikit-learn's). Why not call scikit-learn: importing it costs ~1.6 s of CPU per evaluation job here,
a quarter of the job, for two index draws (issue "The default run: half the time").
"""

from __future__ import annotations

import math

import numpy as np


def split_sizes(n_samples: int, test_size: float) -> tuple[int, int]:
    """(n_train, n_test) for a float test_size, as `_validate_shuffle_split`: n_test = ceil(test_size * n).
    A side too small for the classes is refused by stratified_shuffle_split."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    n_test = math.ceil(test_size * n_samples)
    return n_samples - n_test, n_test


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Samples per class for n_draws draws: floors of the proportional shares, then one more for the
    largest remainders, ties broken by rng (scikit-learn's `_approximate_mode`, same rng calls)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_shuffle_split(
    y: np.ndarray, n_splits: int, n_train: int, n_test: int, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs of StratifiedShuffleSplit(n_splits, test_size=n_test,
    train_size=n_train, random_state=random_state).split(y, y)."""
    classes, y_indices, class_counts = np.unique(np.asarray(y), return_inverse=True, return_counts=True)
    if class_counts.min() < 2:
        raise ValueError(f"class {classes[class_counts.argmin()]!r} has 1 member; stratified splits need 2")
    if min(n_train, n_test) < len(classes):
        raise ValueError(f"a split of {n_train} + {n_test} samples has a side smaller than the {len(classes)} classes")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(random_state)
    splits = []
    for _ in range(n_splits):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        train: list[int] = []
        test: list[int] = []
        for i in range(len(classes)):
            members = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
            train.extend(members[: n_i[i]])
            test.extend(members[n_i[i] : n_i[i] + t_i[i]])
        splits.append((rng.permutation(train), rng.permutation(test)))
    return splits


def stratified_train_test_split(
    x: np.ndarray, y: np.ndarray, test_size: float, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_train, x_test, y_train, y_test of train_test_split(x, y, test_size=test_size, stratify=y,
    random_state=random_state)."""
    n_train, n_test = split_sizes(len(y), test_size)
    ((train, test),) = stratified_shuffle_split(y, 1, n_train, n_test, random_state)
    return x[train], x[test], y[train], y[test]


def shuffle_splits(y: np.ndarray, n_splits: int, test_size: float, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """list(StratifiedShuffleSplit(n_splits, test_size=test_size, random_state=random_state).split(y, y))."""
    n_train, n_test = split_sizes(len(y), test_size)
    return stratified_shuffle_split(y, n_splits, n_train, n_test, random_state)
