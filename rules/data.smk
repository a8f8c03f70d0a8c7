rule download_dataset:
    output:
        raw=directory("results/raw/{dataset}"),
    params:
        spec=dataset_spec,
    log:
        "results/logs/download_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/download_dataset.py"


rule prepare_dataset:
    input:
        unpack(dataset_inputs),
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
