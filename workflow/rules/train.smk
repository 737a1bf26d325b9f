rule train:
    input:
        graphs="results/graphs/{dataset}/{graph}.parquet",
        splits="results/splits/{dataset}.parquet",
    output:
        predictions="results/runs/{dataset}/{model}/{graph}/fold{fold}/predictions.parquet",
        metrics="results/runs/{dataset}/{model}/{graph}/fold{fold}/metrics.json",
        history="results/runs/{dataset}/{model}/{graph}/fold{fold}/history.csv",
        checkpoint="results/runs/{dataset}/{model}/{graph}/fold{fold}/checkpoint.pt",
    log:
        "results/logs/train/{dataset}/{model}/{graph}/fold{fold}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}/{graph}/fold{fold}.tsv"
    priority: run_priority
    conda:
        "../../envs/crystalbench.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=600,
    params:
        model=model_json,
        device=config["train"]["device"],
        jobs_per_gpu=config["train"]["jobs_per_gpu"],
        numerics=TRAIN_NUMERICS,
        out_dir=subpath(output.metrics, parent=True),
    shell:
        "crystalbench train --graphs {input.graphs:q} --splits {input.splits:q} "
        "--fold {wildcards.fold} --model {params.model:q} --out-dir {params.out_dir:q} "
        "--device {params.device} --jobs-per-gpu {params.jobs_per_gpu} --threads {threads} "
        "{params.numerics} > {log:q} 2>&1"
