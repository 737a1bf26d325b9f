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
    conda:
        "../../envs/crystalbench.yaml"
    params:
        spec=as_json("graphs"),
    shell:
        "crystalbench graphs --structures {input.structures:q} --symmetry {input.symmetry:q} "
        "--spec {params.spec:q} --dataset {wildcards.dataset} --name {wildcards.graph} "
        "--out {output:q} > {log:q} 2>&1"
