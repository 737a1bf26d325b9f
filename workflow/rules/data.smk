rule structures:
    input:
        unpack(dataset_files),
    output:
        table="results/structures/{dataset}.parquet",
        rejects="results/structures/{dataset}.rejects.parquet",
    log:
        "results/logs/structures/{dataset}.log",
    priority: dataset_priority
    conda:
        "../../envs/crystalbench.yaml"
    params:
        entry=lambda wc: json.dumps(config["datasets"][wc.dataset]),
        files=lambda wc, input: " ".join(
            shlex.quote(f"{role}={path}") for role, path in input.items()
        ),
        min_distance=config["min_distance"],
    shell:
        "crystalbench structures --dataset {wildcards.dataset} --entry {params.entry:q} "
        "--files {params.files} --out {output.table:q} --rejects {output.rejects:q} "
        "--min-distance {params.min_distance} > {log:q} 2>&1"


rule matbench_fetch:
    output:
        data="resources/datasets/{dataset}.json.gz",
        record="resources/datasets/{dataset}.verification.json",
    log:
        "results/logs/fetch/{dataset}.log",
    wildcard_constraints:
        dataset=_choice(datasets_of_source("matbench")),
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


rule splits:
    input:
        "results/structures/{dataset}.parquet",
    output:
        "results/splits/{dataset}.parquet",
    log:
        "results/logs/splits/{dataset}.log",
    priority: dataset_priority
    conda:
        "../../envs/crystalbench.yaml"
    params:
        folds=config["folds"],
        seed=config["split_seed"],
    shell:
        "crystalbench splits --structures {input:q} --out {output:q} "
        "--folds {params.folds} --seed {params.seed} > {log:q} 2>&1"
