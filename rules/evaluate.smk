rule evaluate_model:
    input:
        zarr=rules.prepare_dataset.output.zarr,
        checkpoint=rules.train_model.output.checkpoint,
    output:
        **POINT_FIGURES,
        metrics="results/metrics/{dataset}/{model}/{params}/metrics.csv",
    log:
        "results/logs/evaluate_model/{dataset}/{model}/{params}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{model}/{params}.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: 1
    params:
        point=point_identity,
        evaluation=EVALUATION,
        figures=FIGURES,  # also without per_point: toggling it must not rerun the metrics
    script:
        "../scripts/evaluate_model.py"


rule aggregate_metrics:
    input:
        rows=metrics_rows,
    output:
        table=report(
            "results/metrics.csv",
            caption="../report/metrics.rst",
            category="Metrics table",
        ),
    log:
        "results/logs/aggregate_metrics.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../scripts/aggregate_metrics.py"


rule check_claims:
    input:
        table=rules.aggregate_metrics.output.table,
    output:
        claims="results/claims.csv",
        page=report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="Claims checked",
        ),
    log:
        "results/logs/check_claims.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        bars_sizes=BARS_SIZES,
    script:
        "../scripts/check_claims.py"


rule compare_published:
    input:
        table=rules.aggregate_metrics.output.table,
    output:
        table=report(
            "results/comparison.csv",
            caption="../report/comparison_published.rst",
            category="Published vs this run",
        ),
        page=report(
            "results/comparison.html",
            caption="../report/comparison_published.rst",
            category="Published vs this run",
        ),
    log:
        "results/logs/compare_published.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        published=PUBLISHED,
    script:
        "../scripts/compare_published.py"
