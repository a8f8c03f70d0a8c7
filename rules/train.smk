rule train_model:
    input:
        zarr=rules.prepare_dataset.output.zarr,
    output:
        checkpoint="results/models/{dataset}/{model}/{params}/model.pt",
        history="results/models/{dataset}/{model}/{params}/history.csv",
    log:
        "results/logs/train_model/{dataset}/{model}/{params}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/{params}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    # `device` (where torch trains; auto = CUDA when present) is a resource as well, read by the script but left
    # undeclared: a string resource must be equal across a group's jobs (profiles/slurm groups a point's jobs).
    # Set it with --set-resources train_model:device=cpu; like every resource, it reruns nothing.
    resources:
        gpu=point_gpus,
        # epochs/iterations between resume states; a resource, so changing it reruns nothing
        checkpoint_every=10,
    params:
        point=point_run,
    script:
        "../scripts/train_model.py"
