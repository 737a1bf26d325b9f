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


rule matbench_fetch:
    output:
        data="resources/datasets/{dataset}.json.gz",
        record="resources/datasets/{dataset}.verification.json",
    log:
        "results/logs/fetch/{dataset}.log",
    wildcard_constraints:
        dataset="matbench_[a-z0-9_]+",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        local=matbench_local_dir_arg,
        allow=lambda wc: (
            "--allow-unverified"
            if wc.dataset in config.get("matbench", {}).get("allow_unverified", [])
            else ""
        ),
    shell:
        "crystalbench fetch --task {wildcards.dataset} --out {output.data:q} "
        "--record {output.record:q} {params.local} {params.allow} > {log:q} 2>&1"


rule matbench_structures:
    input:
        data="resources/datasets/{dataset}.json.gz",
        record="resources/datasets/{dataset}.verification.json",
    output:
        table="results/structures/{dataset}.parquet",
        rejects="results/structures/{dataset}.rejects.parquet",
    log:
        "results/logs/structures/{dataset}.log",
    wildcard_constraints:
        dataset="matbench_[a-z0-9_]+",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        min_distance=config.get("min_distance", 0.5),
    shell:
        "crystalbench matbench-structures --task {wildcards.dataset} "
        "--dataset-file {input.data:q} --record {input.record:q} --out {output.table:q} "
        "--rejects {output.rejects:q} --min-distance {params.min_distance} > {log:q} 2>&1"


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
