rule symmetry:
    input:
        "results/structures/{dataset}.parquet",
    output:
        "results/symmetry/{dataset}.parquet",
    log:
        "results/logs/symmetry/{dataset}.log",
    benchmark:
        "results/benchmarks/symmetry/{dataset}.tsv"
    priority: dataset_priority
    conda:
        "../../envs/crystalbench.yaml"
    threads: PREPROCESSING_THREADS
    params:
        symprec=config["symprec"],
    shell:
        "crystalbench symmetry --structures {input:q} --out {output:q} "
        "--symprec {params.symprec} --processes {threads} > {log:q} 2>&1"
