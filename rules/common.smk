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
POINTS_BY_MODEL, POINTS_BY_DATASET = {}, {}  # the rows each metric figure draws, in one pass
for _p in POINTS:
    POINTS_BY_MODEL.setdefault((_p.dataset, _p.model), []).append(_p)
    POINTS_BY_DATASET.setdefault(_p.dataset, []).append(_p)
# what the claims of the seeds need to know of the bars datasets (partbased.claims)
BARS_SIZES = sorted_dict({name: d["size"] for name, d in DATASETS.items() if d["source"] == "bars"})
# Rule params are sorted dicts: Snakemake compares them by repr, so the order keys are written in must not count.
EVALUATION = sorted_dict(config["evaluation"])
PUBLISHED = sorted_dict(config.get("published", []))  # the published values compared with this run's, if any
# what the figure scripts get: per_point only picks targets, so toggling it redraws nothing
FIGURES = sorted_dict({key: value for key, value in config["figures"].items() if key != "per_point"})
# Each point's own figures, drawn by its evaluate_model job (one job, one torch import, per point);
# none with figures.per_point: false, for large grids.
POINT_FIGURE_CATEGORIES = {  # each figure's report category; its caption is report/{name}.rst
    "atoms": "Atoms",
    "reconstructions": "Reconstructions",
    "codes": "Code histograms",
    "dilation": "Max-approximation to dilation",
}
POINT_FIGURE_PATHS = {name: f"results/figures/{{dataset}}/{{model}}/{{params}}/{name}.png" for name in POINT_FIGURE_CATEGORIES}
POINT_FIGURES = {  # report-flagged outputs; targets use the plain paths (a flagged target would be rule all's report item)
    name: report(
        POINT_FIGURE_PATHS[name],
        caption=f"../report/{name}.rst",
        category=category,
        subcategory="{dataset}",
        labels={"model": "{model}", "point": "{params}"},
    )
    for name, category in POINT_FIGURE_CATEGORIES.items()
    if config["figures"]["per_point"]
}


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
    parameter, defaults included), the split it is fitted on. The device is not in it: it comes from the `device`
    resource."""
    p = point(wildcards)
    return {"family": p.family, "hyperparams": p.hyperparams, "settings": p.settings, "fit_split": p.fit_split}


def point_identity(wildcards):
    """The leading columns of the point's metrics row: every effective parameter, not only the grid's, and the
    split it was fitted on."""
    p = point(wildcards)
    return {"dataset": p.dataset, "model": p.model, "family": p.family, "fit_split": p.fit_split, **p.config}


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


def point_rows(points):
    return [rules.evaluate_model.output.metrics.format(dataset=p.dataset, model=p.model, params=p.params) for p in points]


def model_metrics_rows(wildcards):
    """The metrics rows one (dataset, model) figure draws: its own points only."""
    return point_rows(POINTS_BY_MODEL[(wildcards.dataset, wildcards.model)])


def dataset_metrics_rows(wildcards):
    """The metrics rows a dataset's cross-model figures draw: every point on that dataset."""
    return point_rows(POINTS_BY_DATASET[wildcards.dataset])


def varies_beyond_seed(points):
    """Whether a (dataset, model)'s grid varies a key other than the seed (else no metric-vs-hyperparameter figure)."""
    keys = {k for p in points for k in p.hyperparams if k != "seed"}
    return any(len({repr(p.hyperparams.get(k)) for p in points}) > 1 for k in keys)


def metric_figures():
    """Workflow-level and per-dataset figures and tables read from the metrics rows."""
    plotted = [key for key, points in POINTS_BY_MODEL.items() if varies_beyond_seed(points)]
    comparison = [path.format(dataset=d) for d in POINTS_BY_DATASET for path in rules.plot_comparison.output]
    penalties = [rules.plot_penalties.output.figure] if any(p.family == "ae" for p in POINTS) else []
    return [
        rules.render_metrics_table.output.page,
        *[rules.plot_metrics.output.figure.format(dataset=d, model=m) for d, m in plotted],
        *comparison,
        *penalties,
    ]


def per_point_figures():
    """Every grid point's own figures: atoms, reconstructions, codes, dilation, and the PAE-NMF figures."""
    return [
        *[path for name in POINT_FIGURES for path in expand_points(POINT_FIGURE_PATHS[name])],
        *[path.format(dataset=p.dataset, model=p.model, params=p.params) for p in PAE_POINTS for path in rules.plot_pae.output],
    ]


def all_targets():
    return [
        rules.aggregate_metrics.output.table,
        *rules.check_claims.output,
        *(rules.compare_published.output if PUBLISHED else []),
        *metric_figures(),
        *(per_point_figures() if config["figures"]["per_point"] else []),
    ]
