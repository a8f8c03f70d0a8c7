"""Config validation, the canonical grid built from it, and what each job's params hold."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from conftest import TINY_CONFIG
from partbased.config import RUN_ENVIRONMENT, ConfigError, family_fields, load_schema, sorted_dict, validate_config
from partbased.data import download_params, prepare_params, train_size
from partbased.grid import build_grid, kl_free_twins
from partbased.models import MODELS, AEConfig


def valid(config=None):
    return validate_config(copy.deepcopy(config or TINY_CONFIG))


def errors_of(mutate) -> str:
    config = copy.deepcopy(TINY_CONFIG)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


def ae_entry(**changes) -> dict:
    """TINY_CONFIG with its AE entry (models[2]) changed: grid/settings updated, None values removed."""
    config = copy.deepcopy(TINY_CONFIG)
    for section in ("grid", "settings"):
        config["models"][2][section].update(changes.pop(section, {}))
    config["models"][2].update(changes)
    return config


def points_of(config) -> dict[tuple[str, str, str], dict]:
    return {(p.dataset, p.model, p.params): p.config for p in build_grid(valid(config))}


# ----------------------------------------------------------------------------- schema and messages


def test_defaults_filled():
    config = valid()
    assert config["models"][0]["seeds"] == [0] and config["models"][0]["settings"] == {}
    assert config["evaluation"]["svm"]["C_max_exp"] == 3 and config["datasets"][1]["max_lines"] == 4


def test_every_problem_reported_with_its_path():
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"][0]["source"] = "svhn"
    config["models"][2]["grid"]["beta"] = [0.5, -1.0]
    config["models"][2]["settings"]["decoder_activation"] = "tanh"
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "datasets[0].source: 'svhn' is not one of ['mnist5k', 'digits', 'lfw_faces', 'bars', 'mnist', 'fashion_mnist', 'olivetti', 'cbcl', 'matrix']" in message
    assert "models[2].grid.beta[1]: -1.0 is less than the minimum of 0" in message
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
    assert message in errors_of(mutate)


def test_schema_defaults_are_the_model_defaults():
    """The effective settings of a point come from the schema's defaults: they must be the dataclasses' own."""
    schema = load_schema()
    for family, cls in MODELS.items():
        fields = {f.name: f.default for f in dataclasses.fields(cls.config_class) if f.name not in ("seed", *RUN_ENVIRONMENT)}
        declared = {key: field.default for key, field in family_fields(schema, family).items()}
        assert declared == fields, family


# ----------------------------------------------------------------------------- canonical paths and identity


def test_grid_is_the_cartesian_product():
    config = valid()
    config["models"][2]["grid"]["k"] = [4, 8, 16]
    config["models"][2]["seeds"] = [0, 1]
    points = build_grid(config)
    ae = [p for p in points if p.model == "ae"]
    assert len(ae) == 2 * 3 * 2 * 2  # datasets x k x beta x seeds
    assert len({(p.dataset, p.params) for p in ae}) == len(ae)
    first = ae[0]
    assert first.params == "beta~0.0/k~4/seed~0" and first.hyperparams == {"beta": 0.0, "k": 4, "seed": 0}
    assert type(first.hyperparams["k"]) is int and first.settings["epochs"] == 10


def test_paths_list_grid_keys_sorted_then_seed():
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][2]["grid"] = {"beta": [0.0, 0.1], "k": [8]}  # reordered
    assert points_of(config) == points_of(TINY_CONFIG)
    assert ("digits", "ae", "beta~0.1/k~8/seed~0") in points_of(config)


def test_one_spelling_per_value():
    """beta: [0, 1] and [0.0, 0.5, 1.0] give the same points for 0 and 1; k: 16.0 is k: 16."""
    ints = points_of(ae_entry(grid={"beta": [0, 1]}))
    floats = points_of(ae_entry(grid={"beta": [0.0, 0.5, 1.0], "k": [8.0]}))
    assert ints.items() <= floats.items() and len(floats) == len(ints) + 2
    assert ("bars", "ae", "beta~1.0/k~8/seed~0") in ints
    point = ints[("bars", "ae", "beta~1.0/k~8/seed~0")]
    assert type(point["beta"]) is float and type(point["k"]) is int and type(point["epochs"]) is int
    assert points_of(ae_entry(grid={"beta": [-0.0]})).keys() == points_of(ae_entry(grid={"beta": [0]})).keys()


def test_null_is_a_value_of_its_own():
    config = copy.deepcopy(TINY_CONFIG)
    config["models"].append({"type": "nmf_sc", "grid": {"k": [4], "sW": [None, 0.5]}})
    points = [p for p in build_grid(valid(config)) if p.family == "nmf_sc" and p.dataset == "bars"]
    assert [p.params for p in points] == ["k~4/sW~None/seed~0", "k~4/sW~0.5/seed~0"]
    assert points[0].hyperparams["sW"] is None and points[0].settings["sH"] is None  # not NaN


def test_a_default_written_out_is_the_same_point():
    explicit = ae_entry(settings={"optimizer": "adam", "weight_decay": 0, "penalty": "kl"})
    assert points_of(explicit) == points_of(TINY_CONFIG)


def test_point_config_holds_every_effective_setting_but_the_device():
    point = next(p for p in build_grid(valid()) if p.model == "ae")
    expected = {f.name for f in dataclasses.fields(AEConfig)} - {"device"}
    assert set(point.config) == expected and list(point.config) == sorted(expected)
    assert point.config["nonneg"] == "project" and point.config["penalty"] == "kl"  # given, and the default


def test_rule_params_are_sorted():
    assert list(sorted_dict({"b": 1, "a": {"d": 2, "c": [{"f": 0, "e": 1}]}})) == ["a", "b"]
    assert sorted_dict({"b": 1, "a": {"d": 2, "c": [{"f": 0, "e": 1}]}}) == {"a": {"c": [{"e": 1, "f": 0}], "d": 2}, "b": 1}
    assert list(sorted_dict({"b": 1, "a": {"d": 2, "c": 3}})["a"]) == ["c", "d"]


def test_model_restricted_to_datasets():
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][1]["datasets"] = ["bars"]
    points = build_grid(validate_config(config))
    assert {p.dataset for p in points if p.model == "nmf"} == {"bars"}


def test_pae_points_find_their_kl_free_twin():
    config = valid()
    config["models"].append({"type": "pae_nmf", "grid": {"k": [4, 8], "kl_weight": [0.0, 0.5, 1.0]}, "seeds": [0, 1]})
    points = build_grid(validate_config(config))
    twins = kl_free_twins(points)
    pae = [p for p in points if p.family == "pae_nmf"]
    assert len(twins) == len([p for p in pae if p.hyperparams["kl_weight"] != 0]) == 2 * 2 * 2 * 2  # datasets x k x kl x seeds
    for point, twin in twins.items():
        assert twin.hyperparams == {**point.hyperparams, "kl_weight": 0.0}
        assert (twin.dataset, twin.model, twin.family) == (point.dataset, point.model, point.family)
    config["models"][-1]["grid"]["kl_weight"] = [0.5, 1.0]  # no kl_weight = 0 point: no twins
    assert kl_free_twins(build_grid(validate_config(config))) == {}


# ----------------------------------------------------------------------------- what a download and a preparation depend on


def test_download_is_keyed_by_its_files():
    spec = {"name": "mnist", "source": "mnist", "test_fraction": 0.2, "seed": 0}
    assert download_params(spec) == download_params({**spec, "test_fraction": 0.5, "seed": 3, "mirrors": ["/data"]}) == {"source": "mnist"}


def test_preparation_ignores_what_it_does_not_read():
    official = {"name": "mnist", "source": "mnist", "test_fraction": 0.2, "seed": 0, "size": 4, "n_samples": 250}
    assert prepare_params(official) == prepare_params({**official, "test_fraction": 0.5, "seed": 7, "mirrors": ["/x"]}) == {"source": "mnist"}
    assert prepare_params({**official, "n_train": 1000})["seed"] == 0  # a subset may be drawn with the seed
    digits = validate_config({"datasets": [{"name": "digits", "source": "digits"}], "models": [{"type": "pca", "grid": {"k": [2]}}]})["datasets"][0]
    assert prepare_params(digits) == {"seed": 0, "source": "digits", "test_fraction": 0.2}  # no bars keys, no name
    assert list(prepare_params({**digits, "mirrors": ["/x"]})) == ["seed", "source", "test_fraction"]
    bars = valid()["datasets"][1]
    assert prepare_params(bars) == {"max_lines": 4, "min_lines": 1, "n_samples": 200, "seed": 1, "size": 4, "source": "bars", "test_fraction": 0.2}


def test_training_split_sizes_known_before_the_data():
    assert train_size({"source": "digits", "test_fraction": 0.2}) == 1437  # what scikit-learn's split gives
    assert train_size({"source": "mnist5k", "test_fraction": 0.2}) == 4000
    assert train_size({"source": "bars", "n_samples": 313, "test_fraction": 0.2}) == 250
    assert train_size({"source": "fashion_mnist", "test_fraction": 0.5}) == 60000  # the official split
    assert train_size({"source": "olivetti", "test_fraction": 0.2}) == 320
    assert train_size({"source": "matrix", "path": "x.csv", "test_fraction": 0.2}) is None  # known at training time


# ----------------------------------------------------------------------------- config semantics


def test_project_and_device_are_not_parameters():
    message = errors_of(lambda c: c["models"][2]["grid"].update(project=[False, True]))
    assert "models[2].grid.project: `project` was replaced by `nonneg`" in message
    assert "Additional properties" not in message  # one message per key, saying what replaces it
    message = errors_of(lambda c: c["models"][1]["settings"].update(device="cpu"))
    assert "models[1].settings.device: `device` is where training runs, not a hyperparameter" in message


def test_nonneg_duplicates_impossible():
    message = errors_of(lambda c: c["models"][2]["grid"].update(nonneg=["project", "project"]))
    assert "models[2].grid.nonneg[1]: 'project' is the same value as item 0 ('project'); list each value once" in message
    message = errors_of(lambda c: c["models"][2]["grid"].update(beta=[0, 0.0]))
    assert "models[2].grid.beta[1]: 0.0 is the same value as item 0 (0); list each value once" in message
    message = errors_of(lambda c: c["models"][2].update(seeds=[1, 1]))
    assert "models[2].seeds[1]: 1 is the same value as item 0 (1)" in message


def test_default_ae_constrains_nothing():
    assert AEConfig().nonneg == "none" and AEConfig().beta == 0
    description = load_schema()["$defs"]["ae_params"]["description"]
    assert "plain AE" in description and "nonneg none" in description


def test_plain_linear_ae_with_beta_zero_accepted():
    config = ae_entry(grid={"beta": [0.0]}, settings={"encoder_activation": "linear"})  # penalty: the default kl
    assert len(build_grid(valid(config))) == 2 + 2 + 2  # pca, nmf and the linear AE on both datasets
    message = errors_of(lambda c: c["models"][2]["settings"].update(encoder_activation="linear"))
    assert "models[2].settings.encoder_activation: penalty 'kl' with beta 0.1 needs codes in [0, 1]" in message
    assert "beta 0.0" not in message  # only the point with a sparsity term


def test_p_needs_the_unit_interval_only_for_kl():
    valid(ae_entry(grid={"p": [0.0, 1.5]}, settings={"penalty": "l2"}))
    message = errors_of(lambda c: c["models"][2]["grid"].update(p=[0.05, 1.5]))
    assert "models[2].grid.p[1]: penalty 'kl' needs p in (0, 1) (a Bernoulli mean, report Sec. 3.2), got 1.5" in message
    assert "grid.p[0]" not in message


def test_batch_size_larger_than_the_training_split_rejected():
    message = errors_of(lambda c: c["models"][2]["settings"].update(batch_size=100000))
    assert "models[2].settings.batch_size on dataset 'digits': 100000 is larger than the training split (1257 images)" in message
    assert "models[2].settings.batch_size on dataset 'bars': 100000 is larger than the training split (160 images)" in message
    message = errors_of(lambda c: c["models"][2].update(grid={"k": [8], "batch_size": [32, 500]}, settings={"epochs": 1}))
    assert "models[2].grid.batch_size[1] on dataset 'bars': 500 is larger" in message and "digits" not in message
    message = errors_of(lambda c: c["models"][2].update(settings={"epochs": 1}, datasets=["bars"]) or c["datasets"][1].update(n_samples=50))
    assert "models[2].settings.batch_size (not set: the default 64) on dataset 'bars': 64 is larger than the training split (40 images)" in message
    valid(ae_entry(settings={"batch_size": 100000, "optimizer": "lbfgs"}))  # full batch: batch_size unused
    config = copy.deepcopy(TINY_CONFIG)
    config["models"].append({"type": "pae_nmf", "grid": {"k": [4]}, "settings": {"batch_size": 100000}})
    valid(config)  # PAE-NMF: batch_size >= n is its documented full batch (the authors' setting)


def test_pca_k_beyond_the_data_rejected():
    message = errors_of(lambda c: c["models"][0]["grid"].update(k=[8, 32]))
    assert message.strip().endswith("models[0].grid.k[1] on dataset 'bars': pca needs k <= pixels per image (16), got 32")
    config = copy.deepcopy(TINY_CONFIG)
    config["models"][0]["datasets"] = ["digits"]
    config["models"][0]["grid"]["k"] = [8, 32]
    assert len(build_grid(valid(config))) == 2 + 6  # pca k 8 and 32 on digits


def test_missing_user_file_names_the_key(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"].append({"name": "own", "source": "matrix", "path": "data/mine.csv", "labels_path": "data/labels.csv"})
    with pytest.raises(ConfigError) as info:
        validate_config(copy.deepcopy(config), root=tmp_path)
    assert f"datasets[2].path: file not found: data/mine.csv (relative to {tmp_path})" in str(info.value)
    assert "datasets[2].labels_path: file not found: data/labels.csv" in str(info.value)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.csv").write_text("1,2\n")
    (tmp_path / "data" / "labels.csv").write_text("0\n")
    validate_config(config, root=tmp_path)
