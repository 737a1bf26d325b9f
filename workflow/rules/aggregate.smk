rule aggregate:
    input:
        metrics=lambda wc: study_runs(wc.study, "metrics.json"),
        predictions=lambda wc: study_runs(wc.study, "predictions.parquet"),
    output:
        md="results/tables/{study}.md",
        csv=report(
            "results/tables/{study}.csv",
            caption="../report/study_table.rst",
            category="Studies",
            subcategory="{study}",
            labels={"study": "{study}", "figure": "table"},
        ),
        parity_png=report(
            "results/figures/{study}_parity.png",
            caption="../report/parity.rst",
            category="Studies",
            subcategory="{study}",
            labels={"study": "{study}", "figure": "parity"},
        ),
        parity_svg="results/figures/{study}_parity.svg",
        bars_png=report(
            "results/figures/{study}_bars.png",
            caption="../report/bars.rst",
            category="Studies",
            subcategory="{study}",
            labels={"study": "{study}", "figure": "MAE and epoch time"},
        ),
        bars_svg="results/figures/{study}_bars.svg",
    log:
        "results/logs/aggregate/{study}.log",
    priority: study_priority
    conda:
        "../../envs/crystalbench.yaml"
    params:
        study=as_json("studies"),
        units=dataset_field("unit"),
        quantities=dataset_field("quantity"),
    shell:
        "crystalbench aggregate --name {wildcards.study} --study {params.study:q} "
        "--units {params.units:q} --quantities {params.quantities:q} "
        "--metrics {input.metrics:q} --predictions {input.predictions:q} "
        "--table-md {output.md:q} --table-csv {output.csv:q} "
        "--parity {output.parity_png:q} {output.parity_svg:q} "
        "--bars {output.bars_png:q} {output.bars_svg:q} > {log:q} 2>&1"


rule graph_stats:
    input:
        graphs=study_graph_files(),
        symmetry=expand("results/symmetry/{dataset}.parquet", dataset=study_datasets()),
    output:
        md="results/tables/graph_stats.md",
        csv=report(
            "results/tables/graph_stats.csv",
            caption="../report/graph_stats.rst",
            category="Graphs",
            labels={"figure": "statistics table"},
        ),
        figures=report(
            expand(
                "results/figures/graph_stats_{dataset}.png", dataset=study_datasets()
            ),
            caption="../report/graph_reduction.rst",
            category="Graphs",
        ),
    log:
        "results/logs/aggregate/graph_stats.log",
    priority: CRYSTAL_FIRST
    conda:
        "../../envs/crystalbench.yaml"
    shell:
        "crystalbench graph-stats --graphs {input.graphs:q} --symmetry {input.symmetry:q} "
        "--table-md {output.md:q} --table-csv {output.csv:q} "
        "--figures-dir results/figures > {log:q} 2>&1"


rule matbench_table:
    input:
        metrics=lambda wc: study_runs(matbench_study(), "metrics.json"),
        scores=MATBENCH_REFERENCE_SCORES,
    output:
        md="results/tables/matbench.md",
        csv=report(
            "results/tables/matbench.csv",
            caption="../report/matbench_table.rst",
            category="MatBench",
            labels={"table": "per fold vs paper"},
        ),
    log:
        "results/logs/aggregate/matbench_table.log",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        reference=lambda wc: (
            f"--reference-results {config['matbench']['reference_results']}"
            if config.get("matbench", {}).get("reference_results")
            else ""
        ),
    shell:
        "crystalbench matbench-table --metrics {input.metrics:q} "
        "--reference-scores {input.scores:q} {params.reference} "
        "--md {output.md:q} --csv {output.csv:q} > {log:q} 2>&1"


rule matbench_submission:
    input:
        predictions=matbench_runs,
        data=matbench_datasets,
    output:
        results="results/matbench/{model}-{graph}/results.json.gz",
        scores="results/matbench/{model}-{graph}/scores.json",
    log:
        "results/logs/matbench/{model}-{graph}.log",
    conda:
        "../../envs/crystalbench.yaml"
    params:
        data_dir=lambda wc, input: subpath(input.data[0], parent=True),
    shell:
        "crystalbench matbench-submission --predictions {input.predictions:q} "
        "--data-dir {params.data_dir:q} --model {wildcards.model} --graph {wildcards.graph} "
        "--out {output.results:q} --scores {output.scores:q} > {log:q} 2>&1"


if config.get("publish"):

    localrules:
        publish,

    rule publish:
        input:
            runs=publish_runs(),
            data=lambda wc: matbench_datasets(wc) if matbench_study() else [],
            scores=MATBENCH_REFERENCE_SCORES,
        output:
            f"{config['publish']}/provenance.json",
        log:
            "results/logs/aggregate/publish.log",
        conda:
            "../../envs/crystalbench.yaml"
        params:
            out=lambda wc, output: os.path.dirname(output[0]),
            configfile=workflow.configfiles[-1] if workflow.configfiles else "",
            run_dirs=lambda wc, input: [os.path.dirname(m) for m in input.runs],
            data_dir=lambda wc, input: (
                f"--data-dir {subpath(input.data[0], parent=True)}"
                if input.data
                else ""
            ),
        shell:
            "crystalbench publish --out {params.out:q} --config {params.configfile:q} "
            "--runs {params.run_dirs:q} --reference-scores {input.scores:q} "
            "{params.data_dir} > {log:q} 2>&1"
