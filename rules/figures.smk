rule plot_point:
    input:
        zarr=rules.prepare_dataset.output.zarr,
        checkpoint=rules.train_model.output.checkpoint,
    output:
        atoms=report(
            "results/figures/{dataset}/{model}/{params}/atoms.png",
            caption="../report/atoms.rst",
            category="Atoms",
            subcategory="{dataset}",
            labels={"model": "{model}", "point": "{params}"},
        ),
        reconstructions=report(
            "results/figures/{dataset}/{model}/{params}/reconstructions.png",
            caption="../report/reconstructions.rst",
            category="Reconstructions",
            subcategory="{dataset}",
            labels={"model": "{model}", "point": "{params}"},
        ),
    params:
        title=point_title,
        figures=config["figures"],
    log:
        "results/logs/plot_point/{dataset}/{model}/{params}.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_point.py"


rule plot_metrics:
    input:
        table=rules.aggregate_metrics.output.table,
    output:
        figure=report(
            "results/figures/{dataset}/{model}/metrics.png",
            caption="../report/metrics_vs_hyperparams.rst",
            category="Metrics vs hyperparameters",
            subcategory="{dataset}",
            labels={"model": "{model}"},
        ),
    params:
        hyperparams=model_grid_columns,
        figures=config["figures"],
    log:
        "results/logs/plot_metrics/{dataset}/{model}.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_metrics.py"
