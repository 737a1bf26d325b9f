# The S2EF / ForceNet branch: frames -> folds by system -> full-cell radius graphs ->
# force models per fold -> study tables and the accuracy-vs-time figure.
# Functions and checks: common.smk.

if FORCES:

    localrules:
        force_studies,
        s2ef_splits,
        s2ef_aggregate,
        s2ef_data_size,

    wildcard_constraints:
        fdataset=_choice(FORCES["datasets"]),
        fgraph=_choice(FORCES["graphs"]),
        fmodel=_choice(FORCES["models"]),
        fstudy=_choice(FORCES["studies"]),
        ftrain=r"all|[1-9][0-9]*",
        seed=r"-?[0-9]+",

    rule force_studies:
        """Target: every force study's tables and figures, nothing of the crystal branch."""
        input:
            force_study_outputs(),

    rule s2ef_frames:
        input:
            force_files,
        output:
            table="results/forces/frames/{fdataset}.parquet",
            rejects="results/forces/frames/{fdataset}.rejects.parquet",
        log:
            "results/logs/forces/frames/{fdataset}.log",
        conda:
            "../../envs/crystalbench.yaml"
        params:
            args=force_frames_args,
        shell:
            "crystalbench s2ef-frames --dataset {wildcards.fdataset} {params.args} "
            "--files {input:q} --out {output.table:q} --rejects {output.rejects:q} "
            "> {log:q} 2>&1"

    rule s2ef_splits:
        input:
            "results/forces/frames/{fdataset}.parquet",
        output:
            "results/forces/splits/{fdataset}.parquet",
        log:
            "results/logs/forces/splits/{fdataset}.log",
        conda:
            "../../envs/crystalbench.yaml"
        params:
            folds=FORCES["folds"],
            seed=FORCES["split_seed"],
        shell:
            "crystalbench s2ef-splits --frames {input:q} --out {output:q} "
            "--folds {params.folds} --seed {params.seed} > {log:q} 2>&1"

    rule s2ef_graphs:
        input:
            "results/forces/frames/{fdataset}.parquet",
        output:
            "results/forces/graphs/{fdataset}/{fgraph}.parquet",
        log:
            "results/logs/forces/graphs/{fdataset}/{fgraph}.log",
        benchmark:
            "results/benchmarks/forces/graphs/{fdataset}/{fgraph}.tsv"
        conda:
            "../../envs/crystalbench.yaml"
        threads: PREPROCESSING_THREADS
        params:
            spec=force_json("graphs", "fgraph"),
        shell:
            "crystalbench s2ef-graphs --frames {input:q} --spec {params.spec:q} "
            "--dataset {wildcards.fdataset} --name {wildcards.fgraph} "
            "--processes {threads} --out {output:q} > {log:q} 2>&1"

    rule s2ef_train:
        input:
            graphs="results/forces/graphs/{fdataset}/{fgraph}.parquet",
            splits="results/forces/splits/{fdataset}.parquet",
        output:
            predictions="results/forces/runs/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}/predictions.parquet",
            metrics="results/forces/runs/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}/metrics.json",
            history="results/forces/runs/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}/history.csv",
            checkpoint="results/forces/runs/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}/checkpoint.pt",
        log:
            "results/logs/forces/train/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}.log",
        benchmark:
            "results/benchmarks/forces/train/{fdataset}/{fmodel}/{fgraph}/fold{fold}/systems-{ftrain}/seed{seed}.tsv"
        conda:
            "../../envs/crystalbench.yaml"
        threads: config["train"]["threads"]
        resources:
            gpu=1,
            mem_mb=8000,
            runtime=600,
        params:
            model=force_json("models", "fmodel"),
            run=force_train_args,
            device=config["train"]["device"],
            jobs_per_gpu=config["train"]["jobs_per_gpu"],
            numerics=TRAIN_NUMERICS,
            out_dir=subpath(output.metrics, parent=True),
        shell:
            "crystalbench s2ef-train --graphs {input.graphs:q} --splits {input.splits:q} "
            "--fold {wildcards.fold} {params.run} --model {params.model:q} "
            "--out-dir {params.out_dir:q} --device {params.device} "
            "--jobs-per-gpu {params.jobs_per_gpu} --threads {threads} {params.numerics} "
            "> {log:q} 2>&1"

    rule s2ef_aggregate:
        input:
            lambda wc: force_study_runs(wc.fstudy),
        output:
            md="results/tables/{fstudy}.md",
            csv=report(
                "results/tables/{fstudy}.csv",
                caption="../report/force_table.rst",
                category="Forces (S2EF)",
                subcategory="{fstudy}",
                labels={"study": "{fstudy}", "figure": "table"},
            ),
            png=report(
                "results/figures/{fstudy}_time.png",
                caption="../report/force_time.rst",
                category="Forces (S2EF)",
                subcategory="{fstudy}",
                labels={"study": "{fstudy}", "figure": "accuracy vs time"},
            ),
            svg="results/figures/{fstudy}_time.svg",
            curves="results/tables/{fstudy}_curves.csv",
        log:
            "results/logs/forces/aggregate/{fstudy}.log",
        conda:
            "../../envs/crystalbench.yaml"
        params:
            title=lambda wc: FORCES["studies"][wc.fstudy].get("title", wc.fstudy),
        shell:
            "crystalbench s2ef-aggregate --title {params.title:q} --metrics {input:q} "
            "--table-md {output.md:q} --table-csv {output.csv:q} --curves-csv {output.curves:q} "
            "--figure {output.png:q} {output.svg:q} > {log:q} 2>&1"

    rule s2ef_data_size:
        input:
            lambda wc: force_study_runs(wc.fstudy),
        output:
            png=report(
                "results/figures/{fstudy}_data_size.png",
                caption="../report/force_data_size.rst",
                category="Forces (S2EF)",
                subcategory="{fstudy}",
                labels={"study": "{fstudy}", "figure": "accuracy vs training systems"},
            ),
            svg="results/figures/{fstudy}_data_size.svg",
        log:
            "results/logs/forces/data_size/{fstudy}.log",
        conda:
            "../../envs/crystalbench.yaml"
        params:
            title=lambda wc: FORCES["studies"][wc.fstudy].get("title", wc.fstudy),
        shell:
            "crystalbench s2ef-data-size --title {params.title:q} --metrics {input:q} "
            "--figure {output.png:q} {output.svg:q} > {log:q} 2>&1"
