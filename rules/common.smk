# Config validation, the grid, and the helper functions the stage files call.
# Scripts find the partbased package through the scripts/partbased link (Snakemake puts
# scripts/ on their sys.path), so per-rule conda envs need no install of it.
from pathlib import Path

from partbased.config import validate_config
from partbased.data import LOCAL_FILE_SOURCES, REMOTE_SOURCES
from partbased.grid import build_grid, kl_free_twins

validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")

DATASETS = {d["name"]: d for d in config["datasets"]}
MODELS = {m.get("name", m["type"]): m for m in config["models"]}
POINTS, SKIPPED = build_grid(config)
POINT = {(p.dataset, p.model, p.params): p for p in POINTS}
MODEL_DATASETS = sorted({(p.dataset, p.model) for p in POINTS})
PAE_POINTS = [p for p in POINTS if p.family == "pae_nmf"]
KL_FREE_TWIN = kl_free_twins(POINTS)
# what the figure scripts get: per_point only picks targets, so toggling it redraws nothing
FIGURES = {key: value for key, value in config["figures"].items() if key != "per_point"}


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    params=r"[^/~]+~[^/]+(/[^/~]+~[^/]+)*",


def dataset_spec(wildcards):
    return DATASETS[wildcards.dataset]


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
    """What training a point needs: family, hyperparams (grid values, seed included), settings (model-wide)."""
    p = point(wildcards)
    return {"family": p.family, "hyperparams": p.hyperparams, "settings": p.settings}


def point_identity(wildcards):
    """The leading columns of the point's metrics row."""
    p = point(wildcards)
    return {"dataset": p.dataset, "model": p.model, "family": p.family, **p.hyperparams}


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
    return list(MODELS[wildcards.model]["grid"])


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
        rules.list_skipped_points.output.table,
        *[rules.plot_metrics.output.figure.format(dataset=d, model=m) for d, m in MODEL_DATASETS],
        *(per_point_figures() if config["figures"]["per_point"] else []),
    ]
