"""Config validation and the grid built from it."""

from __future__ import annotations

import copy

import pytest

from conftest import TINY_CONFIG
from partbased.config import ConfigError, validate_config
from partbased.grid import build_grid, kl_free_twins


def valid():
    return validate_config(copy.deepcopy(TINY_CONFIG))


def test_defaults_filled():
    config = valid()
    assert config["models"][0]["seeds"] == [0] and config["models"][0]["settings"] == {}
    assert config["evaluation"]["svm"]["C_max_exp"] == 3 and config["datasets"][1]["max_lines"] == 4


def test_every_problem_reported_with_its_path():
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"][0]["source"] = "svhn"
    config["models"][2]["grid"]["p"] = [0.5, 1.0]
    config["models"][2]["settings"]["decoder_activation"] = "tanh"
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "datasets[0].source: 'svhn' is not one of ['mnist5k', 'digits', 'bars', 'mnist', 'fashion_mnist', 'olivetti', 'cbcl', 'matrix']" in message
    assert "models[2].grid.p[1]: 1.0 is greater than or equal to the maximum of 1" in message
    assert "models[2].settings.decoder_activation: 'tanh' is not one of ['sigmoid', 'linear', 'relu', 'leaky_relu']" in message


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["models"].append({"type": "pca", "grid": {"k": [2]}}), "models[3].name: duplicate model name 'pca'"),
        (lambda c: c["models"][0].update(datasets=["mnist"]), "models[0].datasets[0]: unknown dataset 'mnist'; known: ['digits', 'bars']"),
        (lambda c: c["models"][1]["settings"].update(k=4), "models[1]: ['k'] set in both grid and settings"),
        (lambda c: c["datasets"][1].update(max_lines=9), "bars need min_lines <= max_lines <= 2*size"),
        (lambda c: c.update(threads=4), "<top level>: Additional properties are not allowed ('threads' was unexpected)"),
    ],
)
def test_semantic_errors(mutate, message):
    config = copy.deepcopy(TINY_CONFIG)
    mutate(config)
    with pytest.raises(ConfigError, match=None) as info:
        validate_config(config)
    assert message in str(info.value)


def test_grid_is_the_cartesian_product():
    config = valid()
    config["models"][2]["grid"]["k"] = [4, 8, 16]
    config["models"][2]["seeds"] = [0, 1]
    points, skipped = build_grid(config)
    ae = [p for p in points if p.model == "ae"]
    assert len(ae) == 2 * 3 * 2 * 2  # datasets x k x beta x seeds
    assert len({(p.dataset, p.params) for p in ae}) == len(ae)
    first = ae[0]
    assert first.params == "k~4/beta~0.0/seed~0" and first.hyperparams == {"k": 4, "beta": 0.0, "seed": 0}
    assert type(first.hyperparams["k"]) is int and first.settings["epochs"] == 10
    assert skipped == []


def test_incompatible_points_are_skipped_with_a_reason():
    config = valid()
    config["models"][0]["grid"]["k"] = [8, 32]  # bars have 16 pixels
    points, skipped = build_grid(config)
    assert skipped == [{"dataset": "bars", "model": "pca", "params": "k~32/seed~0", "reason": "pca needs k <= pixels per image (16), got k=32"}]
    assert any(p.dataset == "digits" and p.params == "k~32/seed~0" for p in points)


def test_model_restricted_to_datasets():
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][1]["datasets"] = ["bars"]
    points, _ = build_grid(validate_config(config))
    assert {p.dataset for p in points if p.model == "nmf"} == {"bars"}


def test_pae_points_find_their_kl_free_twin():
    config = valid()
    config["models"].append({"type": "pae_nmf", "grid": {"k": [4, 8], "kl_weight": [0.0, 0.5, 1.0]}, "seeds": [0, 1]})
    points, _ = build_grid(validate_config(config))
    twins = kl_free_twins(points)
    pae = [p for p in points if p.family == "pae_nmf"]
    assert len(twins) == len([p for p in pae if p.hyperparams["kl_weight"] != 0]) == 2 * 2 * 2 * 2  # datasets x k x kl x seeds
    for point, twin in twins.items():
        assert twin.hyperparams == {**point.hyperparams, "kl_weight": 0.0}
        assert (twin.dataset, twin.model, twin.family) == (point.dataset, point.model, point.family)
    config["models"][-1]["grid"]["kl_weight"] = [0.5, 1.0]  # no kl_weight = 0 point: no twins
    assert kl_free_twins(build_grid(validate_config(config))[0]) == {}
