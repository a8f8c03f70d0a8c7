rule prepare_dataset:
    output:
        zarr=directory("results/data/{dataset}.zarr"),
    params:
        spec=dataset_spec,
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_dataset.py"
