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
    log:
        "results/logs/plot_point/{dataset}/{model}/{params}.log",
    conda:
        "../envs/figures.yaml"
    params:
        figures=FIGURES,
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
    log:
        "results/logs/plot_metrics/{dataset}/{model}.log",
    conda:
        "../envs/figures.yaml"
    params:
        hyperparams=model_grid_columns,
        figures=FIGURES,
    script:
        "../scripts/plot_metrics.py"


rule plot_pae:
    input:
        unpack(pae_inputs),
    output:
        latent=report(
            "results/figures/{dataset}/{model}/{params}/latent.png",
            caption="../report/pae_latent.rst",
            category="PAE-NMF",
            subcategory="{dataset}",
            labels={"model": "{model}", "point": "{params}", "figure": "latent distributions"},
        ),
        pairs=report(
            "results/figures/{dataset}/{model}/{params}/pairs.png",
            caption="../report/pae_pairs.rst",
            category="PAE-NMF",
            subcategory="{dataset}",
            labels={"model": "{model}", "point": "{params}", "figure": "similar vs dissimilar"},
        ),
        generated=report(
            "results/figures/{dataset}/{model}/{params}/generated.png",
            caption="../report/pae_generated.rst",
            category="PAE-NMF",
            subcategory="{dataset}",
            labels={"model": "{model}", "point": "{params}", "figure": "generated"},
        ),
    log:
        "results/logs/plot_pae/{dataset}/{model}/{params}.log",
    conda:
        "../envs/figures.yaml"
    params:
        figures=FIGURES,
    script:
        "../scripts/plot_pae.py"
