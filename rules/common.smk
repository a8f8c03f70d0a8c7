# Config validation, the grid, and the helper functions the stage files call.
# Scripts find the partbased package through the scripts/partbased link (Snakemake puts
# scripts/ on their sys.path), so per-rule conda envs need no install of it.
from pathlib import Path

from partbased.config import sorted_dict, validate_config
from partbased.data import LOCAL_FILE_SOURCES, REMOTE_SOURCES, download_params, prepare_params
from partbased.grid import build_grid, kl_free_twins

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
validate_config(config, SCHEMA)  # impossible points and missing files fail here, before any job

DATASETS = {d["name"]: d for d in config["datasets"]}
MODELS = {m.get("name", m["type"]): m for m in config["models"]}
POINTS = build_grid(config, SCHEMA)
POINT = {(p.dataset, p.model, p.params): p for p in POINTS}
MODEL_DATASETS = sorted({(p.dataset, p.model) for p in POINTS})
PAE_POINTS = [p for p in POINTS if p.family == "pae_nmf"]
KL_FREE_TWIN = kl_free_twins(POINTS)
# Rule params are sorted dicts: Snakemake compares them by repr, so the order keys are written in must not count.
EVALUATION = sorted_dict(config["evaluation"])
# what the figure scripts get: per_point only picks targets, so toggling it redraws nothing
FIGURES = sorted_dict({key: value for key, value in config["figures"].items() if key != "per_point"})


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    params=r"[^/~]+~[^/]+(/[^/~]+~[^/]+)*",


def download_spec(wildcards):
    """What a download fetches depends on (its source): editing `mirrors`, `test_fraction` or `seed` refetches nothing."""
    return download_params(DATASETS[wildcards.dataset])


def prepare_spec(wildcards):
    """The dataset entry less what its preparation ignores (mirrors; test_fraction and seed of an official split)."""
    return prepare_params(DATASETS[wildcards.dataset])


def dataset_inputs(wildcards):
    """What preparing a dataset reads: downloaded files, the user's own files, or nothing (bundled)."""
    spec = DATASETS[wildcards.dataset]
    if spec["source"] in REMOTE_SOURCES:
        return {"raw": rules.download_dataset.output.raw.format(dataset=wildcards.dataset)}
    if spec["source"] in LOCAL_FILE_SOURCES:
        return {"path": spec["path"], **({"labels": spec["labels_path"]} if "labels_path" in spec else {})}
    return {}


def point(wildcards):
    return POINT[(wildcards.dataset, wildcards.model, wildcards.params)]


def point_run(wildcards):
    """What training a point computes from: family, hyperparams (grid values and seed), settings (every other
    parameter, defaults included). The device is not in it: it comes from the `device` resource."""
    p = point(wildcards)
    return {"family": p.family, "hyperparams": p.hyperparams, "settings": p.settings}


def point_identity(wildcards):
    """The leading columns of the point's metrics row: every effective parameter, not only the grid's."""
    p = point(wildcards)
    return {"dataset": p.dataset, "model": p.model, "family": p.family, **p.config}


def point_gpus(wildcards):
    """Torch families use a GPU when one is there (device auto); scikit-learn's PCA never does."""
    return 0 if point(wildcards).family == "pca" else 1


def pae_inputs(wildcards):
    """A PAE-NMF point's data and checkpoint, plus its kl_weight = 0 twin when the grid has one."""
    p = point(wildcards)
    inputs = {
        "zarr": rules.prepare_dataset.output.zarr.format(dataset=p.dataset),
        "checkpoint": rules.train_model.output.checkpoint.format(dataset=p.dataset, model=p.model, params=p.params),
    }
    twin = KL_FREE_TWIN.get(p)
    if twin is not None:
        inputs["no_kl"] = rules.train_model.output.checkpoint.format(dataset=p.dataset, model=p.model, params=twin.params)
    return inputs


def model_grid_columns(wildcards):
    return sorted(MODELS[wildcards.model]["grid"])


def expand_points(pattern):
    """`pattern` formatted for every runnable grid point."""
    return [pattern.format(dataset=p.dataset, model=p.model, params=p.params) for p in POINTS]


def metrics_rows(wildcards):
    return expand_points(rules.evaluate_model.output.metrics)


def per_point_figures():
    """Every grid point's own figures: atoms, reconstructions, and the PAE-NMF figures."""
    return [
        *expand_points(rules.plot_point.output.atoms),
        *expand_points(rules.plot_point.output.reconstructions),
        *[path.format(dataset=p.dataset, model=p.model, params=p.params) for p in PAE_POINTS for path in rules.plot_pae.output],
    ]


def all_targets():
    return [
        rules.aggregate_metrics.output.table,
        *[rules.plot_metrics.output.figure.format(dataset=d, model=m) for d, m in MODEL_DATASETS],
        *(per_point_figures() if config["figures"]["per_point"] else []),
    ]
