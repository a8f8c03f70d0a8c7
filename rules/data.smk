rule download_dataset:
    output:
        raw=directory("results/raw/{dataset}"),
    log:
        "results/logs/download_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        # the source alone: mirrors (where from) are read from the config by the script, so editing them refetches nothing
        spec=download_spec,
    script:
        "../scripts/download_dataset.py"


rule prepare_dataset:
    input:
        unpack(dataset_inputs),
    output:
        zarr=directory("results/data/{dataset}.zarr"),
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        spec=prepare_spec,
    script:
        "../scripts/prepare_dataset.py"
