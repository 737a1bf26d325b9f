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
