rule graphs:
    input:
        structures="results/structures/{dataset}.parquet",
        symmetry="results/symmetry/{dataset}.parquet",
    output:
        "results/graphs/{dataset}/{graph}.parquet",
    log:
        "results/logs/graphs/{dataset}/{graph}.log",
    benchmark:
        "results/benchmarks/graphs/{dataset}/{graph}.tsv"
    priority: graph_priority
    conda:
        "../../envs/crystalbench.yaml"
    threads: PREPROCESSING_THREADS
    params:
        spec=as_json("graphs"),
    shell:
        "crystalbench graphs --structures {input.structures:q} --symmetry {input.symmetry:q} "
        "--spec {params.spec:q} --dataset {wildcards.dataset} --name {wildcards.graph} "
        "--processes {threads} --out {output:q} > {log:q} 2>&1"
