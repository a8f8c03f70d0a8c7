rule train_model:
    input:
        zarr=rules.prepare_dataset.output.zarr,
    output:
        checkpoint="results/models/{dataset}/{model}/{params}/model.pt",
        history="results/models/{dataset}/{model}/{params}/history.csv",
    params:
        point=point_run,
    threads: 1
    resources:
        gpu=point_gpus,
        # epochs/iterations between resume states; a resource, so changing it reruns nothing
        checkpoint_every=10,
    log:
        "results/logs/train_model/{dataset}/{model}/{params}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/{params}.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_model.py"
