rule plot_metrics:
    input:
        rows=model_metrics_rows,
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
        dpi=config["figures"]["dpi"],  # nothing else of figures: changing n_atoms redraws no table figure
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


rule plot_comparison:
    input:
        rows=dataset_metrics_rows,
    output:
        tradeoff=report(
            "results/figures/{dataset}/all-models/tradeoff.png",
            caption="../report/comparison_tradeoff.rst",
            category="Comparison",
            subcategory="{dataset}",
            labels={"figure": "1 reconstruction vs sparseness"},
        ),
        metrics=report(
            "results/figures/{dataset}/all-models/metrics.png",
            caption="../report/comparison_metrics.rst",
            category="Comparison",
            subcategory="{dataset}",
            labels={"figure": "2 metrics per model"},
        ),
        table=report(
            "results/figures/{dataset}/all-models/table.png",
            caption="../report/comparison_table.rst",
            category="Comparison",
            subcategory="{dataset}",
            labels={"figure": "3 models x metrics (Table 1)"},
        ),
        seconds=report(
            "results/figures/{dataset}/all-models/train_seconds.png",
            caption="../report/comparison_seconds.rst",
            category="Comparison",
            subcategory="{dataset}",
            labels={"figure": "4 training time"},
        ),
    log:
        "results/logs/plot_comparison/{dataset}.log",
    conda:
        "../envs/figures.yaml"
    params:
        models=list(MODELS),
        dpi=config["figures"]["dpi"],  # nothing else of figures: changing n_atoms redraws no table figure
    script:
        "../scripts/plot_comparison.py"


rule render_metrics_table:
    input:
        table=rules.aggregate_metrics.output.table,
    output:
        page=report(
            "results/metrics.html",
            caption="../report/metrics_html.rst",
            category="Metrics table",
        ),
    log:
        "results/logs/render_metrics_table.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/render_metrics_table.py"


rule plot_penalties:
    output:
        figure=report(
            "results/figures/penalties.png",
            caption="../report/penalties.rst",
            category="Sparsity penalties",
        ),
    log:
        "results/logs/plot_penalties.log",
    conda:
        "../envs/figures.yaml"
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/plot_penalties.py"
