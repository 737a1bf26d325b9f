rule demo_structures:
    output:
        table="results/structures/{dataset}.parquet",
        rejects="results/structures/{dataset}.rejects.parquet",
    log:
        "results/logs/structures/{dataset}.log",
    wildcard_constraints:
        dataset="demo_[A-Za-z0-9_]+",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        seed=lambda wc: config["datasets"][wc.dataset].get("seed", 0),
        min_distance=config.get("min_distance", 0.5),
    shell:
        "crystalbench demo --out {output.table:q} --rejects {output.rejects:q} "
        "--seed {params.seed} --min-distance {params.min_distance} > {log:q} 2>&1"


rule splits:
    input:
        "results/structures/{dataset}.parquet",
    output:
        "results/splits/{dataset}.parquet",
    log:
        "results/logs/splits/{dataset}.log",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        folds=config.get("folds", 5),
        seed=config.get("split_seed", 18012019),
    shell:
        "crystalbench splits --structures {input:q} --out {output:q} "
        "--folds {params.folds} --seed {params.seed} > {log:q} 2>&1"
