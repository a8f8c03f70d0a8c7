rule evaluate_model:
    input:
        zarr=rules.prepare_dataset.output.zarr,
        checkpoint=rules.train_model.output.checkpoint,
    output:
        metrics="results/metrics/{dataset}/{model}/{params}/metrics.csv",
    params:
        point=point_identity,
        evaluation=config["evaluation"],
    threads: 1
    log:
        "results/logs/evaluate_model/{dataset}/{model}/{params}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{model}/{params}.tsv"
    conda:
        "../envs/evaluate.yaml"
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


rule list_skipped_points:
    output:
        table="results/skipped.csv",
    params:
        skipped=SKIPPED,
    log:
        "results/logs/list_skipped_points.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../scripts/list_skipped.py"
